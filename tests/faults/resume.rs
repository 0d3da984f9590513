//! Clients cut off at random points while 10,000 events are published reconnect with
//! `Last-Event-ID` and end with every event, in order, none twice.

use std::time::Duration;

use futures::StreamExt;
use warp_eventstream::{event_stream, Hub};

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
                let mut connections = 0;
                while (received.len() as u64) < EVENTS {
                    connections += 1;
                    // Subscribed before the first publish, the client resumes from 0 when cut off
                    // before its first event (a browser would send no Last-Event-ID then: see
                    // docs/reliability.md).
                    let last = received.last().map_or("0".to_owned(), |id| id.to_string());
                    let headers = [("last-event-id", last.as_str())];
                    let response = match first.take() {
                        Some(response) => response,
                        // Cut off before the head (lagging while the replay was written): retry.
                        None => match try_get(addr, "/feed", &headers).await {
                            Some(response) => response,
                            None => continue,
                        },
                    };
                    let mut events = Box::pin(response.events_until_closed());
                    // Cut this connection after a random number of events.
                    let cut_after = 1 + random.below(1_500);
                    for _ in 0..cut_after {
                        let Some(event) = events.next().await else {
                            break;
                        };

                        assert_eq!(event.event, "message", "never a reset event");
                        let id: u64 = event.id.parse().unwrap();
                        let data: u64 = event.data.parse().unwrap();
                        assert_eq!(id, data);
                        received.push(id);
                        if received.len() as u64 == EVENTS {
                            break;
                        }
                    }
                }
                (received, connections)
            })
        })
        .collect();

    // Publish in batches, letting the clients run in between; the clients' cuts land anywhere.
    for batch in 0..EVENTS / 100 {
        for n in 1..=100 {
            hub.publish("t", batch * 100 + n).unwrap();
        }
        tokio::task::yield_now().await;
    }

    for client in clients {
        let (received, connections) =
            within("a client's 10,000 events", Duration::from_secs(60), client)
                .await
                .unwrap();
        assert!(connections > 1, "the client was cut off at least once");
        assert_eq!(
            received,
            (1..=EVENTS).collect::<Vec<_>>(),
            "every event, in order, once"
        );
    }
}
