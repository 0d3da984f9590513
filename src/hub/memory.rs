//! The in-process transport: per topic, a [`Fanout`] whose ring of recent frames is also the
//! replay kept for reconnecting clients.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::fanout::Fanout;
use super::transport::{
    Outgoing, ResetFrom, Subscription, Transport, TransportError, TransportFuture,
};
use super::{EventId, PublishError};
use crate::frame::{encoded_len, write_events, EventHeader, Payload};

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
    /// `head` in decimal.
    head_digits: HeadDigits,
    /// Its ring keeps at least `replay` frames: the replay is the newest of them.
    fanout: Fanout,
}

impl Topic {
    /// Sends the topic's next event (`header`, `payload`) into its ring, framed with its id in
    /// place; returns the id.
    #[inline]
    fn send(&mut self, header: &EventHeader, payload: Payload<'_>) -> EventId {
        self.head += 1;
        self.head_digits.count();
        let id = EventId::seq(self.head);
        let (headers, digits) = (std::slice::from_ref(header), Some(self.head_digits.text()));
        let len = encoded_len(headers, digits, payload);
        self.fanout.send_mut(id, len, |mut out| {
            write_events(&mut out, headers, digits, payload);
            debug_assert!(out.is_empty(), "`encoded_len` counts every byte written");
        });
        id
    }
}

/// The decimal digits of a topic's `head`, counted up with it: framing an id then takes no
/// division (seven of them, one after the other, for a seven-digit id).
#[derive(Debug)]
struct HeadDigits {
    digits: [u8; 20],
    /// Where the digits start.
    start: usize,
}

impl Default for HeadDigits {
    /// `0`.
    fn default() -> Self {
        HeadDigits {
            digits: [b'0'; 20],
            start: 19,
        }
    }
}

impl HeadDigits {
    /// Adds one.
    #[inline]
    fn count(&mut self) {
        for at in (self.start..self.digits.len()).rev() {
            if self.digits[at] < b'9' {
                self.digits[at] += 1;
                return;
            }
            self.digits[at] = b'0';
        }
        // All nines: one more digit (`head`, a `u64`, runs out before the 20 digits do).
        self.start -= 1;
        self.digits[self.start] = b'1';
    }

    #[inline]
    fn text(&self) -> &[u8] {
        &self.digits[self.start..]
    }
}

impl Topics {
    /// The place of topic `name`, made if new (which may sweep idle topics first); it becomes
    /// the hot one.
    #[cold]
    fn find_or_add(&mut self, name: &str, replay: usize) -> usize {
        if let Some(&at) = self.by_name.get(name) {
            self.hot = at;
            return at;
        }
        if self.list.len() >= self.sweep_at {
            self.list.retain(|topic| {
                topic.fanout.receiver_count() > 0 || (replay > 0 && topic.head > 0)
            });
            let (list, by_name) = (&self.list, &mut self.by_name);
            by_name.clear();
            by_name.extend(
                list.iter()
                    .enumerate()
                    .map(|(at, topic)| (topic.name.clone(), at)),
            );
            self.sweep_at = (self.list.len() * 2).max(64);
        }
        let name: Arc<str> = name.into();
        self.hot = self.list.len();
        self.by_name.insert(name.clone(), self.hot);
        self.list.push(Topic {
            name,
            head: 0,
            head_digits: HeadDigits::default(),
            fanout: Fanout::new(CHANNEL_CAPACITY.max(replay)),
        });
        self.hot
    }
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

    /// Runs `f` on topic `name` (made if new) under the table's lock.
    #[inline]
    fn with_topic<R>(&self, name: &str, f: impl FnOnce(&mut Topic) -> R) -> R {
        // A panic never happens while the lock is held (no user code runs under it), so a
        // poisoned lock still holds consistent topics.
        let mut guard = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let topics = &mut *guard;
        let at = match topics.list.get(topics.hot) {
            Some(topic) if *topic.name == *name => topics.hot,
            _ => topics.find_or_add(name, self.replay),
        };
        f(&mut topics.list[at])
    }

    fn publish_now(&self, topic: &str, event: Outgoing) -> EventId {
        let (header, payload) = event.parts();
        self.with_topic(topic, |topic| topic.send(header, payload))
    }

    /// Publishes a `message` event whose data is `json` (serialised, one line): what
    /// [`Hub::publish`](super::Hub::publish) calls directly, without a future or a copy of the
    /// JSON.
    ///
    /// Returns the id's number: a `u64` comes back in a register, where an `EventId` is
    /// written to memory and read back in pieces (a stall of the store buffer per piece).
    #[inline]
    pub(crate) fn publish_message(&self, topic: &str, json: &[u8]) -> u64 {
        self.with_topic(topic, |topic| {
            topic.send(&EventHeader::message(), Payload::Json(json));
            topic.head
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
    fn a_topics_counted_digits_are_its_head_in_decimal() {
        let mut digits = HeadDigits::default();
        assert_eq!(digits.text(), b"0");
        for n in 1..=100_500u64 {
            digits.count();
            assert_eq!(digits.text(), n.to_string().as_bytes());
        }
        let mut digits = HeadDigits {
            digits: *b"00009999999999999999",
            start: 4,
        };
        digits.count();
        assert_eq!(digits.text(), b"10000000000000000");
    }

    #[test]
    fn frames_carry_the_counted_ids() {
        let transport = MemoryTransport::new(2000);
        let mut subscription = transport.subscribe_now("t", None);
        for _ in 0..1000 {
            transport.publish_message("t", b"{}");
        }
        let mut n = 0;
        subscription.live.read(|frame, _| {
            n += 1;
            assert_eq!(frame.id(), EventId::seq(n));
            assert_eq!(frame.bytes(), format!("id: {n}\ndata: {{}}\n\n").as_bytes());
            true
        });
        assert_eq!(n, 1000);
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
