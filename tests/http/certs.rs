//! TLS for the tests: a self-signed certificate for `localhost` and 127.0.0.1, made at start,
//! and clients that trust it.

use std::net::SocketAddr;
use std::sync::Arc;

use base64::Engine;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;

/// A certificate and its key, in PEM, and what clients need to trust it.
pub struct TestCert {
    pub cert_pem: String,
    pub key_pem: String,
    der: CertificateDer<'static>,
    spki: Vec<u8>,
}

impl TestCert {
    pub fn localhost() -> TestCert {
        let made = rcgen::generate_simple_self_signed(vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
        ])
        .expect("rcgen makes a certificate");
        TestCert {
            cert_pem: made.cert.pem(),
            key_pem: made.signing_key.serialize_pem(),
            der: made.cert.der().clone(),
            spki: rcgen::PublicKeyData::subject_public_key_info(&made.signing_key),
        }
    }

    /// The value of Chromium's `--ignore-certificate-errors-spki-list` for this certificate.
    pub fn spki_sha256(&self) -> String {
        let digest = ring::digest::digest(&ring::digest::SHA256, &self.spki);
        base64::engine::general_purpose::STANDARD.encode(digest.as_ref())
    }

    /// A TLS client that trusts this certificate and offers `alpn`.
    pub async fn connect(&self, addr: SocketAddr, alpn: &[&[u8]]) -> TlsStream<TcpStream> {
        self.try_connect(addr, alpn).await.expect("TLS handshake")
    }

    /// A TLS client like [`connect`](TestCert::connect)'s, over a socket whose receive buffer
    /// is about `recv_buffer` bytes, so a test that stops reading stalls the server soon.
    pub async fn connect_with_small_window(
        &self,
        addr: SocketAddr,
        alpn: &[&[u8]],
        recv_buffer: u32,
    ) -> TlsStream<TcpStream> {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(recv_buffer).unwrap();
        let socket = socket.connect(addr).await.expect("server accepts");
        self.handshake(socket, alpn).await.expect("TLS handshake")
    }

    /// Like [`connect`](TestCert::connect), with the handshake's error.
    pub async fn try_connect(
        &self,
        addr: SocketAddr,
        alpn: &[&[u8]],
    ) -> std::io::Result<TlsStream<TcpStream>> {
        let socket = TcpStream::connect(addr).await.expect("server accepts");
        self.handshake(socket, alpn).await
    }

    async fn handshake(
        &self,
        socket: TcpStream,
        alpn: &[&[u8]],
    ) -> std::io::Result<TlsStream<TcpStream>> {
        let mut roots = RootCertStore::empty();
        roots.add(self.der.clone()).unwrap();
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = alpn.iter().map(|protocol| protocol.to_vec()).collect();
        TlsConnector::from(Arc::new(config))
            .connect(ServerName::try_from("127.0.0.1").unwrap(), socket)
            .await
    }
}
