//! Clients that stop reading while events keep flowing: memory stays bounded, healthy clients
//! get every event, and the write timeout closes the stalled connections.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::net::TcpListener;
use warp_eventstream::{event_stream, serve, Hub};

use crate::client::{get, get_with_small_window};
use crate::server::listener_with_send_buffer;
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

/// Under `serve`, a stalled HTTP/1 connection holds about a socket's worth of frames in the
/// server, not a buffer's worth in hyper: the body waits while the socket is full, and the
/// frames stay in the hub's ring. A client as slow that then reads gets every event, in order,
/// once its socket drains.
// One thread: the server's tasks run in turn with the test's, so each burst is taken before the
// next, however busy the machine is.
#[tokio::test]
async fn a_stalled_connection_holds_a_socket_of_frames_and_resumes_where_it_stopped() {
    const SENT: u64 = 1_000;
    const BURST: u64 = 4;
    // The kernel holds about 16 frames of a kilobyte between the two sockets (an 8 KiB send
    // buffer, an 8 KiB receive buffer), hyper's buffer the bursts taken when the socket filled.
    // Without the wait, hyper would take 64 more before it stopped asking.
    const MOST_HANDED_OUT: u64 = 48;
    let hub: Hub<String> = Hub::new();
    let (closed_tx, mut closed) = tokio::sync::mpsc::unbounded_channel();
    let feed = {
        let (hub, stalled_closed) = (hub.clone(), closed_tx.clone());
        let stalled = event_stream! {
            route "/stalled"
            from hub(hub.clone(), "t")
            buffer 2000
            write_timeout 300ms
            on_close |n| { stalled_closed.send(("stalled", n)).unwrap(); }
        };
        let others = event_stream! {
            route "/others" / _client: String
            from hub(hub, "t")
            buffer 2000
            write_timeout 30s
            on_close |n| { closed_tx.send(("others", n)).unwrap(); }
        };
        warp::Filter::or(stalled, others)
    };
    // A small send buffer, so that what the kernel holds is small beside what the test counts.
    let listener = listener_with_send_buffer(4096);
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve(feed).run(listener));

    // Subscribed once their response heads are in. The stalled and the slow client do not read
    // for now; a healthy one paces the bursts, so the server takes each before the next.
    let stalled = get_with_small_window(addr, "/stalled", 4096).await;
    let slow = get_with_small_window(addr, "/others/slow", 4096).await;
    let mut healthy = Box::pin(get(addr, "/others/healthy", &[]).await.events());
    let payload = "x".repeat(1000);
    for _ in 0..SENT / BURST {
        for _ in 0..BURST {
            hub.publish("t", payload.clone()).await.unwrap();
        }
        for _ in 0..BURST {
            within(
                "the healthy client's event",
                Duration::from_secs(10),
                async { futures::StreamExt::next(&mut healthy).await.unwrap() },
            )
            .await;
        }
    }

    // The write timeout closes the stalled connection: its socket stayed full for 300 ms.
    let (which, handed_out) = within(
        "the stalled stream's close",
        Duration::from_secs(20),
        async { closed.recv().await.unwrap() },
    )
    .await;
    assert_eq!(which, "stalled");
    assert!(
        (4..=MOST_HANDED_OUT).contains(&handed_out),
        "the stalled stream handed {handed_out} frames of {SENT} to hyper before it closed"
    );
    drop(stalled);

    // The slow client's socket filled the same way; now it reads, and gets everything.
    let mut events = Box::pin(slow.events());
    for id in 1..=SENT {
        let event = within(
            "the slow client's next event",
            Duration::from_secs(10),
            async { futures::StreamExt::next(&mut events).await.unwrap() },
        )
        .await;
        assert_eq!(event.event, "message", "the slow client does not lag");
        assert_eq!(event.id, id.to_string());
    }
    for stream in [events, healthy] {
        drop(stream);
        let (which, handed_out) = within("a stream's close", Duration::from_secs(10), async {
            closed.recv().await.unwrap()
        })
        .await;
        assert_eq!((which, handed_out), ("others", SENT));
    }
}
