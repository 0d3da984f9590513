//! Ids, `Last-Event-ID` resume, and the `204` that makes a finished stream stay finished.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use warp_eventstream::{event_stream, json};

use crate::client::get;
use crate::server::{serve, Calls};

fn tick(i: u64) -> String {
    format!("id: {i}\ndata: {i}\n\n")
}

#[tokio::test(start_paused = true)]
async fn last_event_id_resumes_at_the_next_tick() {
    let mut closed = Calls::new();
    let close_tx = closed.sender.clone();
    let counting = event_stream! { route "/e" every 1s until 10 on_close |n| { close_tx.send(n).unwrap() } => |i| json!(i) };
    let addr = serve(counting).await;

    let body = get(addr, "/e", &[("last-event-id", "7")])
        .await
        .body()
        .await;
    assert_eq!(
        body,
        format!(
            "{}{}{}event: close\ndata: 10\n\n",
            tick(8),
            tick(9),
            tick(10)
        )
    );
    assert_eq!(closed.next_within(Duration::from_secs(1)).await, 10);
}

#[tokio::test(start_paused = true)]
async fn both_events_of_a_tick_carry_its_id() {
    let counting = event_stream! { route "/e" every 1s until 2 event ["message", "increment"] close_event off => |i| json!(i) };
    let addr = serve(counting).await;
    let body = get(addr, "/e", &[("last-event-id", "1")])
        .await
        .body()
        .await;
    assert_eq!(
        body,
        "id: 2\ndata: 2\n\nevent: increment\nid: 2\ndata: 2\n\n"
    );
}

#[tokio::test(start_paused = true)]
async fn a_client_at_or_past_the_end_gets_204_and_no_stream() {
    let mut opened = Calls::new();
    let open_tx = opened.sender.clone();
    let counting = event_stream! { route "/e" every 1s until 10 on_open { open_tx.send(()).unwrap() } => |i| json!(i) };
    let addr = serve(counting).await;
    for last in ["10", "11", "18446744073709551615"] {
        let mut response = get(addr, "/e", &[("last-event-id", last)]).await;
        assert_eq!(response.status, 204, "Last-Event-ID: {last}");
        assert_eq!(response.body().await, "");
    }
    assert!(opened.so_far().is_empty(), "no stream was opened");
}

#[tokio::test(start_paused = true)]
async fn a_last_event_id_that_is_not_a_decimal_u64_starts_from_tick_1() {
    let counting = event_stream! { route "/e" every 1s until 2 close_event off => |i| json!(i) };
    let addr = serve(counting).await;
    // (A control byte such as DEL never gets this far: hyper's HTTP parser answers 400 itself.)
    for junk in [
        "",
        "-1",
        "+1",
        "1.5",
        "abc",
        "18446744073709551616",
        "0x10",
        "7 7",
    ] {
        let mut response = get(addr, "/e", &[("last-event-id", junk)]).await;
        assert_eq!(response.status, 200, "Last-Event-ID: {junk:?}");
        assert_eq!(
            response.body().await,
            format!("{}{}", tick(1), tick(2)),
            "Last-Event-ID: {junk:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_last_event_id_that_is_not_text_starts_from_tick_1() {
    let counting = event_stream! { route "/e" every 1s until 1 close_event off => |i| json!(i) };
    let addr = serve(counting).await;
    // Bytes above 0x7f are legal in a header value but not visible ASCII; warp's own header
    // parsing refuses them, and the endpoint must still answer with a stream.
    let mut socket = TcpStream::connect(addr).await.unwrap();
    socket
        .write_all(
            b"GET /e HTTP/1.1\r\nhost: x\r\nlast-event-id: \xff\xfe7\r\nconnection: close\r\n\r\n",
        )
        .await
        .unwrap();
    let mut response = Vec::new();
    socket.read_to_end(&mut response).await.unwrap();
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(response.contains(&tick(1)), "{response}");
}
