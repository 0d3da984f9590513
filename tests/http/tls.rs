//! HTTPS from `serve` (feature `tls`): ALPN picks HTTP/2 or HTTP/1.1, certificates rotate
//! without a restart, and bad certificates, plain-HTTP clients and stalled handshakes get clear
//! errors and leave nothing behind.

use std::net::SocketAddr;
use std::time::Duration;

use futures::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use warp::http::StatusCode;
use warp_eventstream::{event_stream, serve, Hub, Tls, TlsError};

use crate::certs::TestCert;
use crate::h2_client::{connect, events};
use crate::server::listener_with_send_buffer;

const LIMIT: Duration = Duration::from_secs(10);

async fn serve_tls(tls: Tls) -> SocketAddr {
    let ticks = event_stream! { route "/ticks" every 20ms => |i| serde_json::json!(i) };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve(ticks).tls(tls).run(listener));
    addr
}

/// Runs `future`, failing the test with `what` after [`LIMIT`].
async fn within<T>(what: &str, future: impl std::future::Future<Output = T>) -> T {
    crate::server::within(what, LIMIT, future).await
}

/// Reads until the server closes the connection; what it sent.
async fn read_to_close(socket: &mut TcpStream) -> Vec<u8> {
    let mut received = Vec::new();
    within("the server closes the connection", async {
        // A reset after a TLS alert is a close too.
        let _ = socket.read_to_end(&mut received).await;
    })
    .await;
    received
}

/// Reads from `stream` until what it received says `done`; what it received. Fails the test
/// with `what` if the server closes first or takes longer than [`LIMIT`].
async fn read_until(
    what: &str,
    stream: &mut (impl AsyncReadExt + Unpin),
    done: impl Fn(&[u8]) -> bool,
) -> Vec<u8> {
    let mut received = Vec::new();
    within(what, async {
        while !done(&received) {
            let mut buf = [0u8; 16 * 1024];
            let n = stream.read(&mut buf).await.unwrap();
            assert!(n > 0, "{what}: closed early");
            received.extend_from_slice(&buf[..n]);
        }
    })
    .await;
    received
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_speaks_http2_or_http1_as_alpn_chooses() {
    let cert = TestCert::localhost();
    let addr = serve_tls(Tls::from_pem(&cert.cert_pem, &cert.key_pem).unwrap()).await;

    let tls = cert.connect(addr, &[b"h2", b"http/1.1"]).await;
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let mut h2 = connect(tls, 65_535).await;
    let (status, body) = h2.get("/ticks").await;
    assert_eq!(status, StatusCode::OK);
    let ticks: Vec<_> = within("ticks over h2", events(body).take(2).collect()).await;
    assert_eq!(ticks[0].data, "1");
    assert_eq!(ticks[1].data, "2");

    for alpn in [&[&b"http/1.1"[..]][..], &[]] {
        let mut tls = cert.connect(addr, alpn).await;
        assert_ne!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
        tls.write_all(b"GET /ticks HTTP/1.1\r\nhost: localhost\r\n\r\n")
            .await
            .unwrap();
        let head = read_until("the HTTP/1.1 response over TLS", &mut tls, |head| {
            head.windows(7).any(|w| w == b"data: 1")
        })
        .await;
        let head = String::from_utf8_lossy(&head);
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert!(head.contains("content-type: text/event-stream"), "{head}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reloaded_certificate_serves_new_connections() {
    let (first, second) = (TestCert::localhost(), TestCert::localhost());
    let tls = Tls::from_pem(&first.cert_pem, &first.key_pem).unwrap();
    let addr = serve_tls(tls.clone()).await;
    assert!(first.try_connect(addr, &[]).await.is_ok());
    assert!(second.try_connect(addr, &[]).await.is_err());

    // A bad reload changes nothing.
    let refused = tls.reload(&second.cert_pem, &first.key_pem).unwrap_err();
    assert!(matches!(refused, TlsError::KeyMismatch), "{refused}");
    assert!(first.try_connect(addr, &[]).await.is_ok());

    // A connection open before the reload keeps going.
    let mut before = connect(first.connect(addr, &[b"h2"]).await, 65_535).await;
    let (_, body) = before.get("/ticks").await;
    let mut before = events(body);
    within("a tick", before.next()).await.unwrap();

    tls.reload(&second.cert_pem, &second.key_pem).unwrap();
    assert!(second.try_connect(addr, &[]).await.is_ok());
    let error = first.try_connect(addr, &[]).await.unwrap_err();
    assert!(
        error.to_string().contains("invalid peer certificate"),
        "{error}"
    );
    within("a tick after the reload", before.next())
        .await
        .unwrap();
}

#[test]
fn bad_certificates_and_keys_are_clear_errors() {
    let (cert, other) = (TestCert::localhost(), TestCert::localhost());
    let error = |cert: &str, key: &str| Tls::from_pem(cert, key).unwrap_err();

    let no_cert = error("", &cert.key_pem);
    assert!(matches!(no_cert, TlsError::NoCertificate));
    let no_key = error(&cert.cert_pem, "");
    assert!(matches!(no_key, TlsError::NoPrivateKey));
    assert_eq!(
        no_key.to_string(),
        "TLS: no private key in the key PEM (expected a -----BEGIN PRIVATE KEY-----, \
         RSA PRIVATE KEY or EC PRIVATE KEY block)"
    );
    let mismatch = error(&cert.cert_pem, &other.key_pem);
    assert!(matches!(mismatch, TlsError::KeyMismatch));
    assert_eq!(
        mismatch.to_string(),
        "TLS: the private key does not match the certificate"
    );
    let cut = &cert.cert_pem[..cert.cert_pem.len() / 2];
    let truncated = error(cut, &cert.key_pem);
    assert!(
        matches!(
            truncated,
            TlsError::Pem {
                what: "certificate",
                ..
            }
        ),
        "{truncated}"
    );
    let not_a_certificate = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    let garbage = error(not_a_certificate, &cert.key_pem);
    assert!(matches!(garbage, TlsError::Rejected(_)), "{garbage}");
    assert!(garbage
        .to_string()
        .starts_with("TLS: certificate or key refused: "));

    // Files: a missing one names its path; both in one file works.
    let dir = std::env::temp_dir().join(format!("warp-eventstream-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let both = dir.join("both.pem");
    std::fs::write(&both, format!("{}{}", cert.cert_pem, cert.key_pem)).unwrap();
    assert!(Tls::from_files(&both, &both).is_ok());
    let missing = Tls::from_files(dir.join("missing.pem"), &both).unwrap_err();
    assert!(matches!(missing, TlsError::Read { .. }));
    assert!(missing.to_string().contains("missing.pem"), "{missing}");
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_and_stalled_handshakes_are_dropped_and_leave_nothing_behind() {
    let cert = TestCert::localhost();
    let tls = Tls::from_pem(&cert.cert_pem, &cert.key_pem)
        .unwrap()
        .handshake_timeout(Duration::from_millis(300));
    let addr = serve_tls(tls).await;
    let tasks = || {
        tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks()
    };
    let before = tasks();

    // Plain HTTP on the HTTPS port: no HTTP answer, the connection is closed.
    let mut plain = TcpStream::connect(addr).await.unwrap();
    plain
        .write_all(b"GET /ticks HTTP/1.1\r\nhost: localhost\r\n\r\n")
        .await
        .unwrap();
    let answer = read_to_close(&mut plain).await;
    assert!(!answer.starts_with(b"HTTP/"), "no HTTP over the TLS port");

    // Half a ClientHello, then nothing: dropped at the handshake timeout.
    let mut stalled = TcpStream::connect(addr).await.unwrap();
    stalled
        .write_all(&[0x16, 0x03, 0x01, 0x00, 0xf0, 0x01])
        .await
        .unwrap();
    assert!(read_to_close(&mut stalled).await.is_empty());

    // A client that connects and says nothing at all, likewise.
    let mut silent = TcpStream::connect(addr).await.unwrap();
    assert!(read_to_close(&mut silent).await.is_empty());

    // The server still serves, and holds no task for the clients that went wrong.
    let mut good = connect(cert.connect(addr, &[b"h2"]).await, 65_535).await;
    let (_, body) = good.get("/ticks").await;
    within("a tick", events(body).next()).await.unwrap();
    drop(good);
    within("the tasks of every connection end", async {
        while tasks() > before {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
}

/// Over HTTPS and HTTP/1, a client that stops reading and then reads again gets every event, in
/// order: the stream waits while the socket is full, and the write that gets through rustls
/// afterwards wakes it. Keep-alive is off, so no tick would cover for a lost wake.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_https_client_that_reads_again_gets_every_event() {
    const SENT: u64 = 1_000;
    let cert = TestCert::localhost();
    let hub: Hub<String> = Hub::new();
    let (closed_tx, mut closed) = tokio::sync::mpsc::unbounded_channel();
    let routes = {
        let (hub, stalled_closed) = (hub.clone(), closed_tx.clone());
        let stalled = event_stream! {
            route "/stalled"
            from hub(hub.clone(), "t")
            buffer 2000
            keep_alive off
            write_timeout 300ms
            on_close |n| { stalled_closed.send(("stalled", n)).unwrap(); }
        };
        let slow = event_stream! {
            route "/slow"
            from hub(hub, "t")
            buffer 2000
            keep_alive off
            write_timeout 30s
            on_close |n| { closed_tx.send(("slow", n)).unwrap(); }
        };
        warp::Filter::or(stalled, slow)
    };
    // A small send buffer: the 1 MB below fills it.
    let listener = listener_with_send_buffer(4096);
    let addr = listener.local_addr().unwrap();
    let tls = Tls::from_pem(&cert.cert_pem, &cert.key_pem).unwrap();
    tokio::spawn(serve(routes).tls(tls).run(listener));

    // HTTP/1.0, so that the body is the event stream itself, not chunked. Each client reads
    // its response head and the position frame (the stream is subscribed by then), then stops.
    let mut clients = Vec::new();
    for path in ["/stalled", "/slow"] {
        let mut client = cert
            .connect_with_small_window(addr, &[b"http/1.1"], 4096)
            .await;
        let request = format!("GET {path} HTTP/1.0\r\nhost: localhost\r\n\r\n");
        client.write_all(request.as_bytes()).await.unwrap();
        let received = read_until("the head and the position frame", &mut client, |received| {
            received.ends_with(b"\r\n\r\nid: 0\n\n")
        })
        .await;
        let received = String::from_utf8_lossy(&received);
        assert!(received.starts_with("HTTP/1.0 200 OK\r\n"), "{received}");
        clients.push(client);
    }
    let payload = "x".repeat(1000);
    for _ in 0..SENT {
        hub.publish("t", payload.clone()).await.unwrap();
    }

    // The write timeout closes the stalled connection: its socket stayed full for 300 ms.
    let (which, _) = within("the stalled stream's close", async {
        closed.recv().await.unwrap()
    })
    .await;
    assert_eq!(which, "stalled");

    // The slow client's socket filled the same way; now it reads, and gets everything.
    let mut slow = clients.pop().unwrap();
    let last = format!("id: {SENT}\n");
    let body = read_until(
        "every event, once the client reads again",
        &mut slow,
        |body| body.windows(last.len()).any(|w| w == last.as_bytes()) && body.ends_with(b"\n\n"),
    )
    .await;
    let events = crate::checks::event_source::parse(&body);
    let ids: Vec<String> = events.iter().map(|event| event.id.clone()).collect();
    let expected: Vec<String> = (1..=SENT).map(|id| id.to_string()).collect();
    assert_eq!(ids, expected);
    assert!(events.iter().all(|event| event.event == "message"));
    drop(slow);
    let (which, handed_out) = within("the slow stream's close", async {
        closed.recv().await.unwrap()
    })
    .await;
    assert_eq!((which, handed_out), ("slow", SENT));
}
