//! HTTPS for [`serve`](crate::serve()): a certificate and key from PEM, checked when they are
//! loaded, and replaced in place while the server runs.
//!
//! ALPN offers `h2` and `http/1.1`: browsers speak HTTP/2 only over TLS, and over HTTP/2 every
//! `EventSource` of a page shares one connection instead of taking one of the six a browser
//! opens per origin over HTTP/1.1.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio_rustls::rustls::crypto::{ring, CryptoProvider};
use tokio_rustls::rustls::pki_types::pem::{self, PemObject};
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::{ClientHello, ResolvesServerCert};
use tokio_rustls::rustls::sign::CertifiedKey;
use tokio_rustls::rustls::{self, InconsistentKeys, ServerConfig};
use tokio_rustls::TlsAcceptor;

/// The certificate [`serve`](crate::serve()) answers HTTPS with, through
/// [`Server::tls`](crate::Server::tls). A clone is a handle on the same certificate:
/// [`reload`](Tls::reload) replaces it for every handshake from then on, without a restart.
///
/// ```
/// use warp_eventstream::{event_stream, json, serve, Tls};
///
/// # fn pem() -> (String, String) {
/// #     let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
/// #     (cert.cert.pem(), cert.signing_key.serialize_pem())
/// # }
/// let (cert_pem, key_pem) = pem(); // or std::fs::read("cert.pem"), …
/// let tls = Tls::from_pem(&cert_pem, &key_pem)?;
/// let ticks = event_stream! { route "/ticks" every 1s => |i| json!(i) };
/// let server = serve(ticks).tls(tls.clone());
/// // Later, when the certificate is renewed:
/// tls.reload(&cert_pem, &key_pem)?;
/// # let _ = server;
/// # Ok::<(), warp_eventstream::TlsError>(())
/// ```
#[derive(Clone)]
pub struct Tls {
    current: Arc<CurrentCert>,
    config: Arc<ServerConfig>,
    handshake_timeout: Duration,
}

/// How long a client may take over its TLS handshake unless
/// [`Tls::handshake_timeout`] says otherwise.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tls").finish_non_exhaustive()
    }
}

impl Tls {
    /// A certificate chain (leaf first) and its private key (PKCS#8, PKCS#1 or SEC1), in PEM.
    /// Fails with a [`TlsError`] that says what is wrong: no certificate, no key, a malformed
    /// PEM block, a certificate that does not parse, a key that does not match it.
    ///
    /// ```
    /// use warp_eventstream::{Tls, TlsError};
    ///
    /// let error = Tls::from_pem("not a certificate", "").unwrap_err();
    /// assert!(matches!(error, TlsError::NoCertificate));
    /// assert_eq!(
    ///     error.to_string(),
    ///     "TLS: no certificate in the certificate PEM (expected a -----BEGIN CERTIFICATE----- block)"
    /// );
    /// ```
    pub fn from_pem(
        cert_chain_pem: impl AsRef<[u8]>,
        key_pem: impl AsRef<[u8]>,
    ) -> Result<Tls, TlsError> {
        let provider = Arc::new(ring::default_provider());
        let key = certified_key(cert_chain_pem.as_ref(), key_pem.as_ref(), &provider)?;
        let current = Arc::new(CurrentCert {
            key: RwLock::new(key),
            provider: provider.clone(),
        });
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(TlsError::Rejected)?
            .with_no_client_auth()
            .with_cert_resolver(current.clone());
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Tls {
            current,
            config: Arc::new(config),
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
        })
    }

    /// Like [`from_pem`](Tls::from_pem), from two files (they may be the same file).
    ///
    /// ```
    /// use warp_eventstream::{Tls, TlsError};
    ///
    /// let error = Tls::from_files("/nonexistent/cert.pem", "/nonexistent/key.pem").unwrap_err();
    /// assert!(matches!(error, TlsError::Read { .. }));
    /// assert!(error.to_string().starts_with("TLS: cannot read /nonexistent/cert.pem: "));
    /// ```
    pub fn from_files(cert: impl AsRef<Path>, key: impl AsRef<Path>) -> Result<Tls, TlsError> {
        let (cert, key) = read_both(cert.as_ref(), key.as_ref())?;
        Tls::from_pem(cert, key)
    }

    /// Replaces the certificate and key: handshakes from now on use the new ones, connections
    /// already open keep theirs. On error the old certificate stays in use.
    ///
    /// ```
    /// # let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    /// # let (cert_pem, key_pem) = (cert.cert.pem(), cert.signing_key.serialize_pem());
    /// use warp_eventstream::Tls;
    /// let tls = Tls::from_pem(&cert_pem, &key_pem)?;
    /// assert!(tls.reload(&cert_pem, "garbage").is_err()); // still serving the first one
    /// tls.reload(&cert_pem, &key_pem)?;
    /// # Ok::<(), warp_eventstream::TlsError>(())
    /// ```
    pub fn reload(
        &self,
        cert_chain_pem: impl AsRef<[u8]>,
        key_pem: impl AsRef<[u8]>,
    ) -> Result<(), TlsError> {
        let key = certified_key(
            cert_chain_pem.as_ref(),
            key_pem.as_ref(),
            &self.current.provider,
        )?;
        *self
            .current
            .key
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = key;
        tracing::info!("TLS certificate replaced");
        Ok(())
    }

    /// Like [`reload`](Tls::reload), from two files.
    ///
    /// ```
    /// # let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    /// # let (cert_pem, key_pem) = (cert.cert.pem(), cert.signing_key.serialize_pem());
    /// use warp_eventstream::Tls;
    /// let tls = Tls::from_pem(&cert_pem, &key_pem)?;
    /// assert!(tls.reload_files("/nonexistent/cert.pem", "/nonexistent/key.pem").is_err());
    /// # Ok::<(), warp_eventstream::TlsError>(())
    /// ```
    pub fn reload_files(
        &self,
        cert: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> Result<(), TlsError> {
        let (cert, key) = read_both(cert.as_ref(), key.as_ref())?;
        self.reload(cert, key)
    }

    /// How long a client may take over its handshake before the server drops the connection
    /// (default [`DEFAULT_HANDSHAKE_TIMEOUT`], 10 s): one that sends half a hello and waits
    /// must not hold a socket for good.
    ///
    /// ```
    /// # let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    /// # let (cert_pem, key_pem) = (cert.cert.pem(), cert.signing_key.serialize_pem());
    /// use std::time::Duration;
    /// use warp_eventstream::Tls;
    /// let tls = Tls::from_pem(&cert_pem, &key_pem)?.handshake_timeout(Duration::from_secs(3));
    /// # let _ = tls;
    /// # Ok::<(), warp_eventstream::TlsError>(())
    /// ```
    pub fn handshake_timeout(self, limit: Duration) -> Self {
        Tls {
            handshake_timeout: limit,
            ..self
        }
    }

    pub(crate) fn acceptor(&self) -> (TlsAcceptor, Duration) {
        (
            TlsAcceptor::from(self.config.clone()),
            self.handshake_timeout,
        )
    }
}

/// Why a certificate or key was not taken.
#[derive(Debug)]
#[non_exhaustive]
pub enum TlsError {
    /// A file could not be read.
    Read {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: io::Error,
    },
    /// A PEM block is malformed (a missing end line, bad base64).
    Pem {
        /// `"certificate"` or `"key"`.
        what: &'static str,
        /// What the PEM parser said.
        reason: String,
    },
    /// The certificate PEM holds no `CERTIFICATE` block.
    NoCertificate,
    /// The key PEM holds no private key block.
    NoPrivateKey,
    /// The private key is not the certificate's.
    KeyMismatch,
    /// rustls refused the certificate or key (it does not parse, the key type is unsupported).
    Rejected(rustls::Error),
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsError::Read { path, source } => {
                write!(f, "TLS: cannot read {}: {source}", path.display())
            }
            TlsError::Pem { what, reason } => write!(f, "TLS: malformed PEM in the {what}: {reason}"),
            TlsError::NoCertificate => f.write_str(
                "TLS: no certificate in the certificate PEM (expected a -----BEGIN CERTIFICATE----- block)",
            ),
            TlsError::NoPrivateKey => f.write_str(
                "TLS: no private key in the key PEM (expected a -----BEGIN PRIVATE KEY-----, \
                 RSA PRIVATE KEY or EC PRIVATE KEY block)",
            ),
            TlsError::KeyMismatch => {
                f.write_str("TLS: the private key does not match the certificate")
            }
            TlsError::Rejected(error) => write!(f, "TLS: certificate or key refused: {error}"),
        }
    }
}

impl std::error::Error for TlsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TlsError::Read { source, .. } => Some(source),
            TlsError::Rejected(error) => Some(error),
            _ => None,
        }
    }
}

/// The certificate every handshake gets, swapped by [`Tls::reload`].
#[derive(Debug)]
struct CurrentCert {
    key: RwLock<Arc<CertifiedKey>>,
    provider: Arc<CryptoProvider>,
}

impl ResolvesServerCert for CurrentCert {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let key = self
            .key
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Some(key.clone())
    }
}

fn read_both(cert: &Path, key: &Path) -> Result<(Vec<u8>, Vec<u8>), TlsError> {
    let read = |path: &Path| {
        std::fs::read(path).map_err(|source| TlsError::Read {
            path: path.to_owned(),
            source,
        })
    };
    Ok((read(cert)?, read(key)?))
}

/// Parses and checks a chain and its key: the leaf parses, the key loads and is the leaf's.
fn certified_key(
    cert_chain_pem: &[u8],
    key_pem: &[u8],
    provider: &CryptoProvider,
) -> Result<Arc<CertifiedKey>, TlsError> {
    let chain = CertificateDer::pem_slice_iter(cert_chain_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| pem_error("certificate", error))?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate);
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|error| match error {
        pem::Error::NoItemsFound => TlsError::NoPrivateKey,
        error => pem_error("key", error),
    })?;
    let key = CertifiedKey::from_der(chain, key, provider).map_err(|error| match error {
        rustls::Error::InconsistentKeys(InconsistentKeys::KeyMismatch) => TlsError::KeyMismatch,
        error => TlsError::Rejected(error),
    })?;
    Ok(Arc::new(key))
}

fn pem_error(what: &'static str, error: pem::Error) -> TlsError {
    TlsError::Pem {
        what,
        reason: error.to_string(),
    }
}
