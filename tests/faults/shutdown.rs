//! Graceful shutdown with 1,000 open streams: every client gets the close event, every
//! `on_close` runs once, and the server's run ends by itself within the grace period; and
//! `serve`'s own graceful signal, which needs nothing else wired.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::net::TcpListener;
use warp::Filter;
use warp_eventstream::{event_stream, json, serve, Hub, Shutdown};

use crate::client::get;
use crate::support::{serial, within, Counter};

const STREAMS: usize = 1_000;
const GRACE: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_with_1000_open_streams_closes_each_once_within_the_grace_period() {
    let _alone = serial().await;
    let shutdown = Shutdown::new();
    let hub: Hub<u64> = Hub::new();
    let closed = Counter::new();
    let ticks = {
        let closed = closed.clone();
        event_stream! {
            route "/ticks" every 50ms shutdown shutdown.clone()
            on_close |_n| { closed.bump() }
            => |i| json!(i)
        }
    };
    let feed = {
        let closed = closed.clone();
        event_stream! {
            route "/feed" from hub(hub.clone(), "t") shutdown shutdown.clone()
            on_close |_n| { closed.bump() }
        }
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (signal, signalled) = tokio::sync::oneshot::channel::<()>();
    let finished = Arc::new(AtomicBool::new(false));
    let server = {
        let (shutdown, finished) = (shutdown.clone(), finished.clone());
        tokio::spawn(async move {
            let run = serve(ticks.or(feed))
                .graceful(shutdown.clone().on(async {
                    let _ = signalled.await;
                }))
                .run(listener);
            let run = async {
                run.await;
                finished.store(true, Ordering::SeqCst);
            };
            shutdown.within(GRACE, run).await;
        })
    };

    let mut streams = Vec::new();
    for i in 0..STREAMS {
        let path = if i % 2 == 0 { "/ticks" } else { "/feed" };
        streams.push(Box::pin(get(addr, path, &[]).await.events()));
    }
    hub.publish("t", 1).await.unwrap();
    signal.send(()).unwrap();

    each_ends_with_its_close_event(&mut streams).await;
    closed.reaches(STREAMS as u64, GRACE).await;
    within("the server to stop", GRACE + Duration::from_secs(1), server)
        .await
        .unwrap();
    assert!(
        finished.load(Ordering::SeqCst),
        "the server finished on its own, not cut off by the grace period"
    );
    assert_eq!(closed.get(), STREAMS as u64, "on_close once per stream");
}

/// `serve(..).graceful(signal)` alone, with no `Shutdown` wired into the endpoints: the signal
/// ends every stream (close event, `on_close` once each), a client that stopped reading is
/// closed when the grace period is over, and `run` returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_graceful_alone_ends_every_stream_even_a_stalled_one_and_returns() {
    let _alone = serial().await;
    let closed = Counter::new();
    let opened = Counter::new();
    let grace = Duration::from_millis(500);
    // 64 KiB a tick: a client that does not read fills its socket's buffers at once.
    let ticks = {
        let (closed, opened) = (closed.clone(), opened.clone());
        let payload = "x".repeat(64 * 1024);
        event_stream! {
            route "/ticks" every 1ms write_timeout off
            on_open { opened.bump() }
            on_close |_n| { closed.bump() }
            => |i| json!({ "i": i, "pad": payload })
        }
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (signal, signalled) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(
        serve(ticks)
            .grace(grace)
            .graceful(async {
                let _ = signalled.await;
            })
            .run(listener),
    );

    let stalled = crate::client::get_with_small_window(addr, "/ticks", 4096).await;
    let mut streams = Vec::new();
    for _ in 0..20 {
        streams.push(Box::pin(get(addr, "/ticks", &[]).await.events()));
    }
    opened.reaches(21, GRACE).await;
    for events in streams.iter_mut() {
        within("a first tick", GRACE, events.next()).await.unwrap();
    }
    signal.send(()).unwrap();

    each_ends_with_its_close_event(&mut streams).await;
    // The stalled client cannot take its close event: the grace period ends its connection.
    within("run to return", GRACE, server).await.unwrap();
    assert_eq!(
        closed.get(),
        21,
        "on_close once per stream, the stalled one's too"
    );
    drop(stalled);
}

/// Reads each stream to its end: the last event must be the close event.
async fn each_ends_with_its_close_event<S>(streams: &mut [std::pin::Pin<Box<S>>])
where
    S: futures::Stream<Item = eventsource_stream::Event>,
{
    for (i, events) in streams.iter_mut().enumerate() {
        let last = within("the close event", GRACE, async {
            let mut last = None;
            while let Some(event) = events.next().await {
                last = Some(event);
            }
            last
        })
        .await;
        assert_eq!(
            last.map(|e| e.event),
            Some("close".to_owned()),
            "stream {i}"
        );
    }
}
