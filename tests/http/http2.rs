//! HTTP/2 from `serve`: every promise holds per stream. Cleartext HTTP/2 with prior knowledge
//! (as proxies speak it upstream), driven by the h2 crate so each stream's window is the test's.

use std::time::Duration;

use futures::StreamExt;
use tokio::net::{TcpListener, TcpStream};
use warp::http::StatusCode;
use warp_eventstream::{event_stream, serve, Clients, Hub};

use crate::h2_client::{connect, events};
use crate::server::Calls;

const LIMIT: Duration = Duration::from_secs(10);

/// Serves `filter` with the crate's `serve` on a free loopback port.
async fn serve_on_loopback<F, R>(filter: F) -> std::net::SocketAddr
where
    F: warp::Filter<Extract = (R,), Error = warp::Rejection> + Clone + Send + Sync + 'static,
    R: warp::Reply + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve(filter).run(listener));
    addr
}

/// Runs `future`, failing the test with `what` after [`LIMIT`].
async fn within<T>(what: &str, future: impl std::future::Future<Output = T>) -> T {
    crate::server::within(what, LIMIT, future).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_http2_stream_closes_alone_and_max_clients_counts_streams() {
    let hub: Hub<u64> = Hub::new();
    let clients = Clients::new();
    let (mut opened, mut closed) = (Calls::new(), Calls::new());
    let feed = {
        let (opened, closed) = (opened.sender.clone(), closed.sender.clone());
        event_stream! {
            route "/feed" / name: String
            from hub(hub.clone(), "t")
            clients clients.clone()
            max_clients 3
            on_open { opened.send(name.clone()).unwrap() }
            on_close |_n| { closed.send(name.clone()).unwrap() }
        }
    };
    let addr = serve_on_loopback(feed).await;
    let mut connection = connect(TcpStream::connect(addr).await.unwrap(), 65_535).await;

    let mut streams = Vec::new();
    for name in ["a", "b", "c"] {
        let (status, body) = connection.get(&format!("/feed/{name}")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(opened.next_within(LIMIT).await, name);
        streams.push(events(body));
    }
    assert_eq!(clients.count(), 3, "one client per stream");
    let (status, _) = connection.get("/feed/d").await;
    assert_eq!(
        status,
        StatusCode::SERVICE_UNAVAILABLE,
        "max_clients counts streams, not connections"
    );

    // The browser closes one EventSource: its stream is reset, the connection stays.
    let b = streams.remove(1);
    drop(b);
    assert_eq!(closed.next_within(LIMIT).await, "b");
    assert_eq!(clients.count(), 2);

    for n in 1..=3 {
        hub.publish("t", n).await.unwrap();
    }
    for stream in &mut streams {
        for n in 1..=3u64 {
            let event = within("the other streams' events", stream.next())
                .await
                .unwrap();
            assert_eq!(event.data, n.to_string());
        }
    }
    assert!(closed.so_far().is_empty(), "only the reset stream closed");

    // The connection goes: each remaining stream closes once.
    drop(streams);
    drop(connection);
    let mut rest = vec![
        closed.next_within(LIMIT).await,
        closed.next_within(LIMIT).await,
    ];
    rest.sort();
    assert_eq!(rest, ["a", "c"]);
    assert_eq!(clients.count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_http2_stream_is_reset_by_its_write_timeout_while_the_others_keep_up() {
    const WINDOW: u32 = 16 * 1024;
    let hub: Hub<String> = Hub::new();
    let (mut opened, mut closed) = (Calls::new(), Calls::new());
    let feed = {
        let (opened, closed) = (opened.sender.clone(), closed.sender.clone());
        event_stream! {
            route "/feed" / name: String
            from hub(hub.clone(), "t")
            buffer 4096
            write_timeout 500ms
            on_open { opened.send(name.clone()).unwrap() }
            on_close |n| { closed.send((name.clone(), n)).unwrap() }
        }
    };
    let addr = serve_on_loopback(feed).await;
    let mut connection = connect(TcpStream::connect(addr).await.unwrap(), WINDOW).await;
    let mut healthy = Vec::new();
    for name in ["a", "b"] {
        let (_, body) = connection.get(&format!("/feed/{name}")).await;
        assert_eq!(opened.next_within(LIMIT).await, name);
        healthy.push(events(body));
    }
    // Never read: its window is spent after 16 KiB.
    let (_, mut stalled) = connection.get("/feed/stalled").await;
    assert_eq!(opened.next_within(LIMIT).await, "stalled");

    // 1 KB events in bursts of 16, read by the healthy streams burst by burst, until the
    // stalled stream's write timeout resets it; then one more burst.
    let payload = "x".repeat(1000);
    let mut published = 0u64;
    let mut stalled_close = None;
    let mut bursts_after = 0;
    while bursts_after < 2 {
        assert!(published < 20_000, "the stalled stream was never reset");
        for _ in 0..16 {
            hub.publish("t", payload.clone()).await.unwrap();
            published += 1;
        }
        for stream in &mut healthy {
            for n in published - 15..=published {
                let event = within("a healthy stream's event", stream.next())
                    .await
                    .unwrap();
                assert_eq!(event.event, "message", "healthy streams never lag");
                assert_eq!(event.id, n.to_string());
            }
        }
        if stalled_close.is_none() {
            stalled_close = closed.so_far().pop();
        } else {
            bursts_after += 1;
        }
    }
    let (name, sent) = stalled_close.unwrap();
    assert_eq!(name, "stalled");
    assert!(
        sent < published,
        "the stalled stream got {sent} of {published} events"
    );
    assert!(closed.so_far().is_empty(), "only the stalled stream closed");

    // The stalled reader finds what fit in its window, then the server's reset.
    let mut received = 0;
    let reset = loop {
        match within("the stalled stream's end", stalled.data()).await {
            Some(Ok(chunk)) => received += chunk.len(),
            Some(Err(error)) => break error,
            None => panic!("the stalled stream ended without a reset"),
        }
    };
    assert!(
        received <= WINDOW as usize,
        "{received} bytes beyond the window"
    );
    assert_eq!(reset.reason(), Some(h2::Reason::CANCEL), "{reset}");

    // The connection itself is fine: a new stream on it gets going.
    let (status, _) = connection.get("/feed/late").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(opened.next_within(LIMIT).await, "late");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_closes_every_http2_stream_then_the_connection() {
    let (mut closed, stop) = (Calls::new(), tokio::sync::oneshot::channel::<()>());
    let mut opened = Calls::new();
    let ticks = {
        let (opened, closed) = (opened.sender.clone(), closed.sender.clone());
        event_stream! {
            route "/ticks" / name: String
            every 50ms
            on_open { opened.send(name.clone()).unwrap() }
            on_close |_n| { closed.send(name.clone()).unwrap() }
            => |i| serde_json::json!(i)
        }
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = stop;
    let server = tokio::spawn(
        serve(ticks)
            .graceful(async {
                stop_rx.await.ok();
            })
            .run(listener),
    );
    let mut connection = connect(TcpStream::connect(addr).await.unwrap(), 65_535).await;
    let mut streams = Vec::new();
    for name in ["a", "b", "c"] {
        let (_, body) = connection.get(&format!("/ticks/{name}")).await;
        assert_eq!(opened.next_within(LIMIT).await, name);
        let mut events = events(body);
        let first = within("the first tick", events.next()).await.unwrap();
        assert_eq!(first.event, "message");
        streams.push(events);
    }

    stop_tx.send(()).unwrap();
    for stream in &mut streams {
        // Ticks until the signal, then the close event, then the end of the stream.
        let rest: Vec<_> = within("the stream's end", stream.by_ref().collect::<Vec<_>>()).await;
        assert_eq!(rest.last().map(|event| event.event.as_str()), Some("close"));
    }
    let mut names = vec![
        closed.next_within(LIMIT).await,
        closed.next_within(LIMIT).await,
        closed.next_within(LIMIT).await,
    ];
    names.sort();
    assert_eq!(names, ["a", "b", "c"]);
    within("run() returns", server).await.unwrap();
    let ended = within("the connection ends", connection.driver)
        .await
        .unwrap();
    assert!(ended.is_ok(), "the connection ended cleanly: {ended:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_and_http1_clients_share_one_server_and_one_hub() {
    let hub: Hub<u64> = Hub::new();
    let mut opened = Calls::new();
    let feed = {
        let opened = opened.sender.clone();
        event_stream! {
            route "/feed" from hub(hub.clone(), "t")
            on_open { opened.send(()).unwrap() }
        }
    };
    let addr = serve_on_loopback(feed).await;
    let mut h2 = connect(TcpStream::connect(addr).await.unwrap(), 65_535).await;
    let (_, body) = h2.get("/feed").await;
    let mut over_h2 = events(body);
    let mut over_h1 = Box::pin(crate::client::get(addr, "/feed", &[]).await.events());
    // `on_open` runs once the stream is subscribed.
    opened.next_within(LIMIT).await;
    opened.next_within(LIMIT).await;
    hub.publish("t", 7).await.unwrap();
    assert_eq!(within("h2", over_h2.next()).await.unwrap().data, "7");
    assert_eq!(within("h1", over_h1.next()).await.unwrap().data, "7");
}
