//! Hostile requests: each gets its documented answer, and the server keeps serving.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use warp_eventstream::{event_stream, json};

use crate::client::{get, request};
use crate::server::serve;
use crate::support::{serial, within};

const LIMIT: Duration = Duration::from_secs(10);

/// Sends raw request bytes and returns the status code of the answer (0: closed without one).
async fn raw_status(addr: std::net::SocketAddr, request: &[u8]) -> u16 {
    let mut socket = TcpStream::connect(addr).await.unwrap();
    // The server may answer (and close) before the whole request is written.
    let _ = socket.write_all(request).await;
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(2).any(|w| w == b"\r\n") {
        match socket.read(&mut buf).await {
            Ok(0) | Err(_) => return 0,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    std::str::from_utf8(&head[9..12]).unwrap().parse().unwrap()
}

#[tokio::test]
async fn hostile_requests_get_defined_answers() {
    let _alone = serial().await;
    let ticks = event_stream! { route "/ticks" every 1ms until 3 => |i| json!(i) };
    let addr = serve(ticks).await;

    // Last-Event-ID that is not a decimal u64: the stream starts from tick 1.
    for id in [
        "-1",
        "18446744073709551616",
        "1e3",
        " ",
        "０",
        "1 2",
        "0x10",
    ] {
        let body = within(
            "stream",
            LIMIT,
            get(addr, "/ticks", &[("last-event-id", id)]).await.body(),
        )
        .await;
        assert!(body.starts_with("id: 1\n"), "Last-Event-ID {id:?}: {body}");
    }
    // A huge one: the same.
    let huge = "9".repeat(8 * 1024);
    let body = within(
        "stream",
        LIMIT,
        get(addr, "/ticks", &[("last-event-id", &huge)])
            .await
            .body(),
    )
    .await;
    assert!(body.starts_with("id: 1\n"));
    // Larger than hyper accepts for a whole head: 431, the connection is closed.
    let giant = format!(
        "GET /ticks HTTP/1.1\r\nhost: x\r\nlast-event-id: {}\r\n\r\n",
        "9".repeat(1 << 20)
    );
    assert_eq!(raw_status(addr, giant.as_bytes()).await, 431);
    // A bare CR inside the value: hyper rejects the request as malformed.
    assert_eq!(
        raw_status(
            addr,
            b"GET /ticks HTTP/1.1\r\nhost: x\r\nlast-event-id: 1\rdata: x\r\n\r\n"
        )
        .await,
        400
    );
    // Obsolete line folding (a continuation line): rejected as malformed too.
    assert_eq!(
        raw_status(
            addr,
            b"GET /ticks HTTP/1.1\r\nhost: x\r\nlast-event-id: 1\r\n 2\r\n\r\n"
        )
        .await,
        400
    );

    // Methods other than GET: 405.
    for method in ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"] {
        let response = request(addr, method, "/ticks", &[("content-length", "0")]).await;
        assert_eq!(response.status, 405, "{method}");
    }
    // An Accept that does not mention text/event-stream: served anyway (EventSource always
    // sends it; other clients, like curl, often do not).
    let response = get(addr, "/ticks", &[("accept", "application/json")]).await;
    assert_eq!(response.status, 200);

    // A flood of requests on unknown paths: 404 each, and the endpoint still answers.
    let flood: Vec<_> = (0..2_000)
        .map(|i| {
            tokio::spawn(async move {
                request(addr, "GET", &format!("/nope/{i}"), &[])
                    .await
                    .status
            })
        })
        .collect();
    for status in flood {
        assert_eq!(status.await.unwrap(), 404);
    }
    let body = within("stream", LIMIT, get(addr, "/ticks", &[]).await.body()).await;
    assert!(body.contains("event: close\ndata: 3\n\n"));
}

/// The crate's `serve` keeps an HTTP/1 connection's buffers to 64 KiB: a request head up to
/// that is served, a larger one is answered `431` and the server keeps serving.
#[tokio::test]
async fn serve_takes_request_heads_up_to_64_kib() {
    let ticks = event_stream! { route "/ticks" every 1ms until 3 => |i| json!(i) };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(warp_eventstream::serve(ticks).run(listener));

    let large = "c".repeat(48 * 1024);
    let body = within(
        "stream",
        LIMIT,
        get(addr, "/ticks", &[("cookie", &large)]).await.body(),
    )
    .await;
    assert!(body.contains("event: close\ndata: 3\n\n"), "{body}");
    let giant = format!(
        "GET /ticks HTTP/1.1\r\nhost: x\r\ncookie: {}\r\n\r\n",
        "c".repeat(80 * 1024)
    );
    assert_eq!(raw_status(addr, giant.as_bytes()).await, 431);
    let body = within("stream", LIMIT, get(addr, "/ticks", &[]).await.body()).await;
    assert!(body.contains("event: close\ndata: 3\n\n"), "{body}");
}
