//! The in-process transport: per topic, a [`Fanout`] whose ring of recent frames is also the
//! replay kept for reconnecting clients.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::fanout::Fanout;
use super::transport::{
    Outgoing, ResetFrom, Subscription, Transport, TransportError, TransportFuture,
};
use super::{EventId, PublishError};

/// How many frames a subscriber may be behind before the fan-out's ring drops them for it; the
/// endpoint's `buffer` is the tighter, per-connection bound.
pub(crate) const CHANNEL_CAPACITY: usize = 1024;

/// A [`Transport`] inside one process: what [`Hub::new`](super::Hub::new) uses. Ids count up
/// from 1 per topic ([`EventId::seq`]); publishing and subscribing complete at once.
///
/// Topics are created on first use. A topic with no subscribers and nothing kept is dropped when
/// the topic table next grows past twice its size after the last sweep, so requests for many
/// distinct topics cannot grow memory without bound.
///
/// ```
/// use warp_eventstream::{Hub, MemoryTransport};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let hub: Hub<&str> = Hub::with_transport(MemoryTransport::new(100));
/// assert_eq!(hub.publish("news", "hello").await.unwrap(), "1");
/// # }
/// ```
#[derive(Debug)]
pub struct MemoryTransport {
    replay: usize,
    state: Mutex<Topics>,
}

#[derive(Debug)]
struct Topics {
    list: Vec<Topic>,
    /// Each topic's place in `list`.
    by_name: HashMap<Arc<str>, usize>,
    /// The place of the topic last used: a publisher sending to one topic again and again finds
    /// it by comparing names, without hashing.
    hot: usize,
    sweep_at: usize,
}

#[derive(Debug)]
struct Topic {
    name: Arc<str>,
    /// The number of the newest frame (0: none yet). Frame `n` is the fan-out's frame `n - 1`:
    /// each publish sends exactly one.
    head: u64,
    /// Its ring keeps at least `replay` frames: the replay is the newest of them.
    fanout: Fanout,
}

impl MemoryTransport {
    /// Keeps the last `replay` frames of each topic for reconnecting clients.
    ///
    /// ```
    /// let transport = warp_eventstream::MemoryTransport::new(1024);
    /// # let _ = transport;
    /// ```
    pub fn new(replay: usize) -> Self {
        MemoryTransport {
            replay,
            state: Mutex::new(Topics {
                list: Vec::new(),
                by_name: HashMap::new(),
                hot: 0,
                sweep_at: 64,
            }),
        }
    }

    fn with_topic<R>(&self, name: &str, f: impl FnOnce(&mut Topic) -> R) -> R {
        // A panic never happens while the lock is held (no user code runs under it), so a
        // poisoned lock still holds consistent topics.
        let mut guard = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let topics = &mut *guard;
        if let Some(topic) = topics.list.get_mut(topics.hot) {
            if *topic.name == *name {
                return f(topic);
            }
        }
        if let Some(&at) = topics.by_name.get(name) {
            topics.hot = at;
            return f(&mut topics.list[at]);
        }
        if topics.list.len() >= topics.sweep_at {
            let replay = self.replay;
            topics.list.retain(|topic| {
                topic.fanout.receiver_count() > 0 || (replay > 0 && topic.head > 0)
            });
            let (list, by_name) = (&topics.list, &mut topics.by_name);
            by_name.clear();
            by_name.extend(
                list.iter()
                    .enumerate()
                    .map(|(at, topic)| (topic.name.clone(), at)),
            );
            topics.sweep_at = (topics.list.len() * 2).max(64);
        }
        let name: Arc<str> = name.into();
        topics.hot = topics.list.len();
        topics.by_name.insert(name.clone(), topics.hot);
        topics.list.push(Topic {
            name,
            head: 0,
            fanout: Fanout::new(CHANNEL_CAPACITY.max(self.replay)),
        });
        f(topics.list.last_mut().expect("pushed above"))
    }

    fn publish_now(&self, topic: &str, event: Outgoing) -> EventId {
        self.with_topic(topic, |topic| {
            topic.head += 1;
            let id = EventId::seq(topic.head);
            event.send_framed(id, &mut topic.fanout);
            id
        })
    }

    fn subscribe_now(&self, topic: &str, after: Option<u64>) -> Subscription {
        self.with_topic(topic, |topic| {
            let live = topic.fanout.subscribe();
            let head = EventId::seq(topic.head);
            let Some(last) = after else {
                return Subscription {
                    head,
                    backlog: Vec::new(),
                    reset: None,
                    live,
                };
            };
            let replay = self.replay as u64;
            // What is kept: the newest `replay` frames, those the ring still holds among them.
            let oldest_kept = (topic.head + 1)
                .saturating_sub(replay)
                .max(topic.fanout.oldest() + 1);
            if last > topic.head || last + 1 < oldest_kept {
                // Ahead of the topic (an id from before a restart) or behind what is kept.
                return Subscription {
                    head,
                    backlog: Vec::new(),
                    reset: Some(ResetFrom {
                        last_event_id: EventId::seq(last),
                        head,
                    }),
                    live,
                };
            }
            Subscription {
                head,
                backlog: topic.fanout.frames_from(last),
                reset: None,
                live,
            }
        })
    }
}

impl Transport for MemoryTransport {
    fn publish(
        &self,
        topic: &str,
        event: Outgoing,
    ) -> TransportFuture<Result<EventId, PublishError>> {
        TransportFuture::ready(Ok(self.publish_now(topic, event)))
    }

    fn subscribe(
        &self,
        topic: &str,
        after: Option<EventId>,
    ) -> TransportFuture<Result<Subscription, TransportError>> {
        let after = after.map(|id| id.parts().1);
        TransportFuture::ready(Ok(self.subscribe_now(topic, after)))
    }

    fn parse_id(&self, id: &str) -> Option<EventId> {
        EventId::parse_seq(id)
    }

    fn subscribers(&self, topic: &str) -> usize {
        let topics = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        topics
            .by_name
            .get(topic)
            .map_or(0, |&at| topics.list[at].fanout.receiver_count())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(subscription: &Subscription) -> Vec<u64> {
        subscription
            .backlog
            .iter()
            .map(|frame| frame.id.parts().1)
            .collect()
    }

    fn publish(transport: &MemoryTransport, n: u64) {
        for _ in 0..n {
            transport.publish_now("t", Outgoing::json("message", b"0".to_vec()));
        }
    }

    #[test]
    fn a_reconnect_inside_the_buffer_gets_exactly_what_it_missed() {
        let transport = MemoryTransport::new(4);
        publish(&transport, 6); // keeps 3..=6
        assert_eq!(ids(&transport.subscribe_now("t", Some(2))), [3, 4, 5, 6]);
        assert_eq!(ids(&transport.subscribe_now("t", Some(4))), [5, 6]);
        assert_eq!(
            ids(&transport.subscribe_now("t", Some(6))),
            Vec::<u64>::new()
        );
        assert!(transport.subscribe_now("t", Some(4)).reset.is_none());
    }

    #[test]
    fn a_reconnect_behind_the_buffer_or_ahead_of_the_topic_is_reset() {
        let transport = MemoryTransport::new(4);
        publish(&transport, 6);
        let behind = transport.subscribe_now("t", Some(1));
        assert_eq!(
            behind.reset,
            Some(ResetFrom {
                last_event_id: EventId::seq(1),
                head: EventId::seq(6)
            })
        );
        assert!(behind.backlog.is_empty());
        assert!(transport.subscribe_now("t", Some(7)).reset.is_some());
        assert!(transport.subscribe_now("t", None).reset.is_none());
    }

    #[test]
    fn without_replay_only_an_up_to_date_client_avoids_reset() {
        let transport = MemoryTransport::new(0);
        publish(&transport, 2);
        assert!(transport.subscribe_now("t", Some(2)).reset.is_none());
        assert!(transport.subscribe_now("t", Some(1)).reset.is_some());
    }

    #[test]
    fn idle_topics_are_swept_as_the_table_grows() {
        let transport = MemoryTransport::new(4);
        for n in 0..10_000 {
            drop(transport.subscribe_now(&format!("probe-{n}"), None));
        }
        let topics = transport.state.lock().unwrap();
        assert!(topics.list.len() <= 128);
        assert_eq!(topics.by_name.len(), topics.list.len());
        for (name, &at) in &topics.by_name {
            assert_eq!(topics.list[at].name, *name);
        }
    }
}
