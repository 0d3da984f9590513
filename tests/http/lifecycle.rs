//! How connections start and end: `on_open`, `on_close`, disconnects, shutdown, panics.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use warp_eventstream::{event_stream, json};

use crate::client::{get, take_events};
use crate::server::{serve, Calls};

const LIMIT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn client_leaving_while_idle_runs_on_close_with_ticks_sent_within_a_second() {
    let mut closed = Calls::new();
    let close_tx = closed.sender.clone();
    // The period is longer than the one-second budget, so on_close can only arrive in time if the
    // server notices the disconnect while the stream is idle, not at its next write.
    let counting = event_stream! {
        route "/event/counting"
        every 1500ms
        on_close |n| { close_tx.send(n).unwrap() }
        => |i| json!(i)
    };
    let addr = serve(counting).await;

    let mut events = Box::pin(get(addr, "/event/counting", &[]).await.events());
    let received = take_events(&mut events, 3, Duration::from_secs(10)).await;
    assert_eq!(
        received.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
        ["1", "2", "3"]
    );
    drop(events);

    assert_eq!(closed.next_within(Duration::from_secs(1)).await, 3);
    assert!(closed.so_far().is_empty(), "on_close ran more than once");
}

#[tokio::test(start_paused = true)]
async fn on_open_and_on_close_run_once_per_client() {
    let mut opened = Calls::new();
    let mut closed = Calls::new();
    let (open_tx, close_tx) = (opened.sender.clone(), closed.sender.clone());
    let counting = event_stream! {
        route "/e" every 1s until 2
        on_open { open_tx.send(()).unwrap() }
        on_close |n| { close_tx.send(n).unwrap() }
        => |i| json!(i)
    };
    let addr = serve(counting).await;

    let clients = (0..3).map(|_| async move { get(addr, "/e", &[]).await.body().await });
    let bodies = futures::future::join_all(clients).await;
    assert!(bodies
        .iter()
        .all(|body| body.ends_with("event: close\ndata: 2\n\n")));

    for _ in 0..3 {
        assert_eq!(closed.next_within(Duration::from_secs(1)).await, 2);
    }
    assert_eq!(opened.so_far().len(), 3);
    assert!(
        closed.so_far().is_empty(),
        "on_close ran more than once for a client"
    );
}

#[test]
fn server_shutdown_runs_on_close_for_every_open_stream() {
    let (close_tx, close_rx) = std::sync::mpsc::channel();
    let server_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let addr = server_runtime.block_on(async {
        let counting = event_stream! {
            route "/e" every 100ms
            on_close |n| { close_tx.send(n).unwrap() }
            => |i| json!(i)
        };
        serve(counting).await
    });

    let client_runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut clients = client_runtime.block_on(async {
        let mut clients = Vec::new();
        for _ in 0..2 {
            let mut events = Box::pin(get(addr, "/e", &[]).await.events_until_closed());
            assert_eq!(events.next().await.expect("first tick").id, "1");
            clients.push(events);
        }
        clients
    });

    // Dropping the runtime drops every connection task, and with it every stream.
    drop(server_runtime);
    let mut closes: Vec<u64> = (0..2)
        .map(|_| {
            close_rx
                .recv_timeout(Duration::from_secs(5))
                .expect("on_close ran")
        })
        .collect();
    assert!(close_rx.try_recv().is_err(), "on_close ran more than once");

    // Each on_close saw exactly the last tick its client received before the connection went.
    let mut last_received: Vec<u64> = client_runtime.block_on(async {
        let mut last_received = Vec::new();
        for events in &mut clients {
            let mut last = 1;
            while let Some(event) = events.next().await {
                last = event.id.parse().unwrap();
            }
            last_received.push(last);
        }
        last_received
    });
    closes.sort();
    last_received.sort();
    assert_eq!(closes, last_received);
}

/// A source that never yields and panics when dropped, as a buggy source's cleanup might.
struct PanicsWhenDropped(Arc<AtomicBool>);

impl futures::Stream for PanicsWhenDropped {
    type Item = u64;

    fn poll_next(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<u64>> {
        std::task::Poll::Pending
    }
}

impl Drop for PanicsWhenDropped {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
        panic!("the source's cleanup failed");
    }
}

#[tokio::test]
async fn a_source_that_panics_when_dropped_still_gets_its_on_close_once() {
    let mut closed = Calls::new();
    let close_tx = closed.sender.clone();
    let dropped = Arc::new(AtomicBool::new(false));
    let source_dropped = dropped.clone();
    let fragile = event_stream! {
        route "/fragile"
        from PanicsWhenDropped(source_dropped.clone())
        on_close |n| { close_tx.send(n).unwrap() }
        => |n| json!(n)
    };
    let addr = serve(fragile).await;

    let response = get(addr, "/fragile", &[]).await;
    assert_eq!(response.status, 200);
    drop(response);
    assert_eq!(closed.next_within(LIMIT).await, 0);
    assert!(
        dropped.load(Ordering::SeqCst),
        "the source was dropped first"
    );
    assert!(closed.so_far().is_empty(), "on_close ran more than once");

    // The panic stayed inside that connection: the server goes on serving.
    assert_eq!(get(addr, "/fragile", &[]).await.status, 200);
}

#[tokio::test(start_paused = true)]
async fn panicking_handler_ends_only_its_own_stream_and_runs_on_close() {
    let mut closed = Calls::new();
    let close_tx = closed.sender.clone();
    let armed = Arc::new(AtomicBool::new(true));
    let flaky = event_stream! {
        route "/flaky" every 1s until 4
        on_close |n| { close_tx.send(n).unwrap() }
        => |i| {
            if i == 3 && armed.swap(false, Ordering::SeqCst) {
                panic!("tick {i} failed");
            }
            json!(i)
        }
    };
    let addr = serve(flaky).await;

    let mut first = get(addr, "/flaky", &[]).await;
    let mut second = get(addr, "/flaky", &[]).await;
    assert_eq!(
        first.body_prefix(2 * "id: 1\ndata: 1\n\n".len()).await,
        "id: 1\ndata: 1\n\nid: 2\ndata: 2\n\n"
    );
    // Whichever client reached tick 3 first met the panic: its connection is cut without a
    // terminating chunk, so its browser would see an error, not a clean end.
    let second_body = second.body().await;
    assert!(first.aborted().await, "the panicking stream ends abruptly");
    assert_eq!(
        second_body,
        "id: 1\ndata: 1\n\nid: 2\ndata: 2\n\nid: 3\ndata: 3\n\nid: 4\ndata: 4\n\nevent: close\ndata: 4\n\n"
    );
    let mut closes = vec![
        closed.next_within(Duration::from_secs(1)).await,
        closed.next_within(Duration::from_secs(1)).await,
    ];
    closes.sort();
    assert_eq!(closes, [2, 4]);

    // The server goes on serving new clients.
    let third = get(addr, "/flaky", &[]).await.body().await;
    assert!(third.ends_with("event: close\ndata: 4\n\n"));
}

#[tokio::test]
async fn graceful_shutdown_sends_every_stream_its_close_event_and_runs_every_on_close() {
    use warp::Filter;
    use warp_eventstream::{Hub, Shutdown};

    let mut closed = Calls::new();
    let (tick_tx, hub_tx) = (closed.sender.clone(), closed.sender.clone());
    let shutdown = Shutdown::new();
    let hub: Hub<u32> = Hub::new();
    let ticks = event_stream! {
        route "/ticks" every 10ms shutdown shutdown.clone()
        on_close |n| { tick_tx.send(("ticks", n)).unwrap() }
        => |i| json!(i)
    };
    let feed = event_stream! {
        route "/feed" from hub(hub.clone(), "t") shutdown shutdown.clone()
        on_close |n| { hub_tx.send(("feed", n)).unwrap() }
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (signal_tx, signal_rx) = tokio::sync::oneshot::channel::<()>();
    let server = warp::serve(ticks.or(feed))
        .incoming(listener)
        .graceful(shutdown.clone().on(async move {
            signal_rx.await.ok();
        }))
        .run();
    let server = tokio::spawn({
        let shutdown = shutdown.clone();
        async move { shutdown.within(Duration::from_secs(10), server).await }
    });

    let mut clients = Vec::new();
    for path in ["/ticks", "/ticks", "/ticks", "/feed", "/feed"] {
        let mut events = Box::pin(get(addr, path, &[]).await.events());
        if path == "/ticks" {
            take_events(&mut events, 1, Duration::from_secs(10)).await;
        }
        clients.push(events);
    }
    hub.publish("t", 7).await.unwrap();
    signal_tx.send(()).unwrap();

    for events in &mut clients {
        let rest: Vec<_> = events.collect().await;
        let last = rest.last().expect("a close event");
        assert_eq!(last.event, "close", "the stream ends with the close event");
    }
    let mut ended = Vec::new();
    for _ in 0..5 {
        ended.push(closed.next_within(Duration::from_secs(5)).await.0);
    }
    ended.sort();
    assert_eq!(ended, ["feed", "feed", "ticks", "ticks", "ticks"]);
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("the server exits once every stream closed")
        .unwrap();
    assert!(
        closed.so_far().is_empty(),
        "on_close ran once per connection"
    );
}

#[tokio::test]
async fn hooks_see_route_parameters_and_with_values_by_name() {
    let mut opened = Calls::new();
    let mut closed = Calls::new();
    let (open_tx, close_tx) = (opened.sender.clone(), closed.sender.clone());
    let prices = event_stream! {
        route "/prices" / symbol: String
        with user = warp::header::<String>("x-user")
        every 5ms
        until 2
        on_open { open_tx.send(format!("{user} opened {symbol}")).unwrap() }
        on_close |n| { close_tx.send(format!("{user} left {symbol} after {n}")).unwrap() }
        => |i| json!({ "symbol": symbol, "tick": i })
    };
    let addr = serve(prices).await;
    let body = get(addr, "/prices/ACME", &[("x-user", "ann")])
        .await
        .body()
        .await;
    assert!(
        body.contains(r#"data: {"symbol":"ACME","tick":2}"#),
        "{body}"
    );
    assert_eq!(opened.next_within(LIMIT).await, "ann opened ACME");
    assert_eq!(closed.next_within(LIMIT).await, "ann left ACME after 2");

    // A request the stream does not start for runs neither hook.
    let finished = get(
        addr,
        "/prices/ACME",
        &[("x-user", "bob"), ("last-event-id", "2")],
    )
    .await;
    assert_eq!(finished.status, 204);
    assert_eq!(opened.so_far(), Vec::<String>::new());
    assert_eq!(closed.so_far(), Vec::<String>::new());
}
