//! Clients cut off at random points while 10,000 events are published reconnect as a browser
//! does, with the `Last-Event-ID` it last saw, and end with every event, in order, none twice.

use std::time::Duration;

use warp_eventstream::{event_stream, Hub};

use crate::checks::event_source::EventSource;
use crate::client::{get, try_get};
use crate::server::serve;
use crate::support::{serial, within};

const EVENTS: u64 = 10_000;
const CLIENTS: u64 = 20;

/// A small deterministic generator (xorshift), so a failure replays.
struct Random(u64);

impl Random {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_cut_off_at_random_resume_without_loss_or_duplicates() {
    let _alone = serial().await;
    // The replay buffer holds the whole run: the promise is no loss within the buffer.
    let hub: Hub<u64> = Hub::with_replay(EVENTS as usize);
    // A client that falls behind is cut off too (and resumes from the replay buffer).
    let feed = event_stream! { route "/feed" from hub(hub.clone(), "t") on_lag disconnect };
    let addr = serve(feed).await;

    // Every client is subscribed before the first event is published.
    let mut first = Vec::new();
    for _ in 0..CLIENTS {
        first.push(get(addr, "/feed", &[]).await);
    }
    let clients: Vec<_> = first
        .into_iter()
        .zip(0..CLIENTS)
        .map(|(first, c)| {
            tokio::spawn(async move {
                let mut first = Some(first);
                let mut random = Random(0x9E37_79B9_7F4A_7C15 ^ (c + 1));
                let mut received: Vec<u64> = Vec::with_capacity(EVENTS as usize);
                // What the browser keeps across reconnects and sends back.
                let mut last_event_id: Option<String> = None;
                let mut connections = 0;
                let mut cut_before_any_event = 0;
                while (received.len() as u64) < EVENTS {
                    connections += 1;
                    let headers: Vec<_> = last_event_id
                        .iter()
                        .map(|id| ("last-event-id", id.as_str()))
                        .collect();
                    let mut response = match first.take() {
                        Some(response) => response,
                        // Cut off before the head (lagging while the replay was written): retry.
                        None => match try_get(addr, "/feed", &headers).await {
                            Some(response) => response,
                            None => continue,
                        },
                    };
                    // A browser's parser starts afresh on each connection.
                    let mut source = EventSource::new();
                    // Cut this connection after a random number of events; one in four before
                    // any event, when it has received only its first frame, which tells it
                    // where it stands.
                    let cut_after = match random.below(4) {
                        0 => 0,
                        _ => 1 + random.below(1_500) as usize,
                    };
                    let mut taken = 0;
                    while let Some(chunk) = response.chunk_until_closed().await {
                        let mut chunk = &chunk[..];
                        let in_chunk = source.clone().feed(chunk).len();
                        let cut_here = taken + in_chunk >= cut_after;
                        if cut_here {
                            // The connection drops anywhere in this chunk, even inside a frame,
                            // but not before the stream's first frame has arrived.
                            let mut at = random.below(chunk.len() as u64 + 1) as usize;
                            let mut probe = source.clone();
                            probe.feed(&chunk[..at]);
                            while probe.last_event_id().is_none() && at < chunk.len() {
                                probe.feed(&chunk[at..at + 1]);
                                at += 1;
                            }
                            chunk = &chunk[..at];
                        }
                        for event in source.feed(chunk) {
                            assert_eq!(event.event, "message", "never a reset event");
                            let id: u64 = event.id.parse().unwrap();
                            let data: u64 = event.data.parse().unwrap();
                            assert_eq!(id, data);
                            assert_eq!(
                                id,
                                received.len() as u64 + 1,
                                "the next event: none missed, none twice"
                            );
                            received.push(id);
                            taken += 1;
                        }
                        if cut_here || received.len() as u64 == EVENTS {
                            break;
                        }
                    }
                    if taken == 0 {
                        cut_before_any_event += 1;
                    }
                    if let Some(id) = source.last_event_id() {
                        last_event_id = Some(id.to_owned());
                    }
                }
                (received, connections, cut_before_any_event)
            })
        })
        .collect();

    // Publish in batches, letting the clients run in between; the clients' cuts land anywhere.
    for batch in 0..EVENTS / 100 {
        for n in 1..=100 {
            hub.publish("t", batch * 100 + n).await.unwrap();
        }
        tokio::task::yield_now().await;
    }

    let mut cut_before_any_event = 0;
    for client in clients {
        let (received, connections, empty) =
            within("a client's 10,000 events", Duration::from_secs(60), client)
                .await
                .unwrap();
        assert!(connections > 1, "the client was cut off at least once");
        assert_eq!(
            received,
            (1..=EVENTS).collect::<Vec<_>>(),
            "every event, in order, once"
        );
        cut_before_any_event += empty;
    }
    assert!(
        cut_before_any_event > 0,
        "some connection was cut before its first event"
    );
}
