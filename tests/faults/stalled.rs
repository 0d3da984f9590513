//! Clients that stop reading while events keep flowing: memory stays bounded, healthy clients
//! get every event, and the write timeout closes the stalled connections.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::net::TcpListener;
use warp_eventstream::{event_stream, serve, Hub};

use crate::client::{get, get_with_small_window};
use crate::support::{rss_bytes, serial, within, Counter};

const STALLED: usize = 10;
const HEALTHY: usize = 10;
const EVENTS: u64 = 4_000;
const BURST: u64 = 32;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_readers_are_closed_by_the_write_timeout_and_others_get_everything() {
    let _alone = serial().await;
    let hub: Hub<String> = Hub::new();
    let closed = Counter::new();
    // Which connection closed, and after how many events: says which stream a wrong count is.
    let closes = Arc::new(Mutex::new(Vec::new()));
    let feed = {
        let (closed, closes) = (closed.clone(), closes.clone());
        event_stream! {
            route "/feed" / client: String
            from hub(hub.clone(), "t")
            buffer 64
            write_timeout 500ms
            on_close |n| {
                closes.lock().unwrap().push(format!("{client} after {n} events"));
                closed.bump();
            }
        }
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve(feed).run(listener));

    let mut stalled = Vec::new();
    for n in 0..STALLED {
        // A 4 KiB receive window that is never read: the server's writes stall soon.
        let path = format!("/feed/stalled-{n}");
        stalled.push(get_with_small_window(addr, &path, 4096).await);
    }
    let mut healthy = Vec::new();
    for n in 0..HEALTHY {
        let path = format!("/feed/healthy-{n}");
        healthy.push(Box::pin(get(addr, &path, &[]).await.events()));
    }
    let before = rss_bytes();

    // About 4 MB of events, in bursts the healthy clients read before the next one.
    let payload = "x".repeat(1000);
    let mut peak = before;
    for burst in 0..EVENTS / BURST {
        for _ in 0..BURST {
            hub.publish("t", payload.clone()).await.unwrap();
        }
        for events in healthy.iter_mut() {
            for n in 1..=BURST {
                let event = within("a healthy client's event", Duration::from_secs(10), async {
                    futures::StreamExt::next(events).await.unwrap()
                })
                .await;
                assert_eq!(event.event, "message", "healthy clients never lag");
                assert_eq!(event.id, (burst * BURST + n).to_string());
                assert_eq!(
                    serde_json::from_str::<Value>(&event.data).unwrap(),
                    Value::from(payload.clone())
                );
            }
        }
        peak = peak.max(rss_bytes());
    }

    // Every stalled connection is closed by the write timeout; the healthy ones stay open.
    closed
        .reaches(STALLED as u64, Duration::from_secs(20))
        .await;
    let mut closes = closes.lock().unwrap().clone();
    closes.sort();
    assert!(
        closes.len() == STALLED && closes.iter().all(|close| close.starts_with("stalled-")),
        "only the stalled connections close, each once; closed: {closes:?}"
    );
    // A stream's subscription is released before its `on_close` runs: the count is exact now.
    assert_eq!(hub.subscribers("t"), HEALTHY);
    let grown = peak.saturating_sub(before);
    assert!(
        grown < 64 << 20,
        "memory grew by {grown} bytes while {STALLED} clients stalled"
    );
    drop(stalled);
}
