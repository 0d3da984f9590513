//! [`Hub`]: publish once, deliver to every subscriber of a topic, replay what a reconnecting
//! client missed.

mod block;
mod event_id;
mod fanout;
mod memory;
#[cfg(feature = "redis")]
mod redis;
mod source;
mod transport;

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use serde::Serialize;

pub use self::event_id::EventId;
pub use self::fanout::{Fanout, FanoutError, FanoutReceiver};
pub use self::memory::MemoryTransport;
#[cfg(feature = "redis")]
pub use self::redis::{RedisTransport, RedisTransportBuilder};
pub(crate) use self::source::HubSource;
pub use self::source::OnLag;
pub use self::transport::{
    HubFrame, Outgoing, ResetFrom, Subscription, Transport, TransportError, TransportFuture,
};
use crate::event::Event;
use crate::metrics;

/// How many events each topic keeps for reconnecting clients when no size is given.
pub const DEFAULT_REPLAY: usize = 1024;

/// A broadcast hub: `publish(topic, value)` from anywhere; every client of an endpoint declared
/// with `from hub(<hub>, <topic>)` receives it.
///
/// Each published value is serialised once and framed once per server; every subscriber writes
/// the same bytes. The last [`DEFAULT_REPLAY`] events of a topic are kept, so a client
/// reconnecting with `Last-Event-ID` gets exactly what it missed. A client further behind than
/// that gets one `reset` event (data `{"last_event_id":"<k>"}`) and then live events: it should
/// reload its state.
///
/// The transport behind it is a [`Transport`]: [`Hub::new`] keeps everything in process, with
/// ids counting up from 1 per topic; `RedisTransport` (feature `redis`) shares topics between
/// servers through Redis streams.
///
/// ```
/// use warp_eventstream::{event_stream, Hub};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let prices: Hub<f64> = Hub::new();
/// let ticker = event_stream! { route "/prices" from hub(prices.clone(), "ACME") };
/// # let _ = ticker;
/// assert_eq!(prices.publish("ACME", 101.5).await.unwrap(), "1");
/// assert_eq!(prices.publish("ACME", 101.75).await.unwrap(), "2");
/// assert_eq!(prices.subscribers("ACME"), 0);
/// # }
/// ```
pub struct Hub<T> {
    transport: Arc<dyn Transport>,
    /// The same transport when it is the in-process one: [`publish`](Hub::publish) calls it
    /// directly, a function call that frames the value from the buffer it was serialised into,
    /// rather than a virtual call that takes the JSON and returns a future.
    in_process: Option<Arc<MemoryTransport>>,
    /// Whether each topic's subscriber count is a metric (`sse_hub_subscribers{topic}`).
    topic_metrics: bool,
    value: PhantomData<fn(T)>,
}

impl<T> Clone for Hub<T> {
    fn clone(&self) -> Self {
        Hub {
            transport: self.transport.clone(),
            in_process: self.in_process.clone(),
            topic_metrics: self.topic_metrics,
            value: PhantomData,
        }
    }
}

impl<T> fmt::Debug for Hub<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hub").finish_non_exhaustive()
    }
}

impl<T: Serialize> Default for Hub<T> {
    fn default() -> Self {
        Hub::new()
    }
}

/// Why a value was not published.
///
/// ```
/// use warp_eventstream::{PublishError, TransportError};
/// let error = PublishError::Transport(TransportError::new("timed out"));
/// assert_eq!(error.to_string(), "the transport did not take the event: timed out");
/// ```
#[derive(Debug, Clone)]
pub enum PublishError {
    /// The value could not be serialised to JSON (say, a map with non-string keys).
    Serialize(String),
    /// The event's name is empty or contains CR or LF.
    EventName(String),
    /// The transport did not store the event (its broker is down, or did not answer in time):
    /// no subscriber will receive it.
    Transport(TransportError),
}

impl fmt::Display for PublishError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PublishError::Serialize(err) => write!(f, "event data could not be serialised: {err}"),
            PublishError::EventName(name) => {
                write!(f, "event name {name:?} is empty or contains CR or LF")
            }
            PublishError::Transport(err) => {
                write!(f, "the transport did not take the event: {err}")
            }
        }
    }
}

impl PublishError {
    /// The `reason` label of `sse_hub_publish_errors_total`.
    fn reason(&self) -> &'static str {
        match self {
            PublishError::Serialize(_) => "serialize",
            PublishError::EventName(_) => "event_name",
            PublishError::Transport(_) => "transport",
        }
    }
}

impl std::error::Error for PublishError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PublishError::Transport(err) => Some(err),
            _ => None,
        }
    }
}

impl<T: Serialize> Hub<T> {
    /// An in-process hub keeping the last [`DEFAULT_REPLAY`] events of each topic.
    ///
    /// ```
    /// let chat: warp_eventstream::Hub<String> = warp_eventstream::Hub::new();
    /// # let _ = chat;
    /// ```
    pub fn new() -> Self {
        Hub::with_replay(DEFAULT_REPLAY)
    }

    /// An in-process hub keeping the last `replay` events of each topic (0 keeps none: a
    /// reconnecting client that missed anything gets `reset`).
    ///
    /// ```
    /// let progress: warp_eventstream::Hub<u8> = warp_eventstream::Hub::with_replay(16);
    /// # let _ = progress;
    /// ```
    pub fn with_replay(replay: usize) -> Self {
        Hub::with_transport(MemoryTransport::new(replay))
    }

    /// A hub over another transport (one shared by several servers, say).
    ///
    /// ```
    /// use warp_eventstream::{Hub, MemoryTransport};
    /// let hub: Hub<u32> = Hub::with_transport(MemoryTransport::new(64));
    /// # let _ = hub;
    /// ```
    pub fn with_transport(transport: impl Transport) -> Self {
        let (transport, in_process) = match in_process(transport) {
            Ok(memory) => (memory.clone() as Arc<dyn Transport>, Some(memory)),
            Err(other) => (Arc::new(other) as Arc<dyn Transport>, None),
        };
        Hub {
            transport,
            in_process,
            topic_metrics: false,
            value: PhantomData,
        }
    }

    /// Records each topic's subscriber count on this server as the gauge
    /// `sse_hub_subscribers{topic="..."}` (feature `metrics`). Off by default: a metric per topic
    /// is only bounded when the topics are (a fixed set of rooms, not one per user or per id).
    ///
    /// ```
    /// let rooms: warp_eventstream::Hub<String> = warp_eventstream::Hub::new().record_subscribers_per_topic();
    /// # let _ = rooms;
    /// ```
    pub fn record_subscribers_per_topic(mut self) -> Self {
        self.topic_metrics = true;
        self
    }

    /// Sends `value` as a `message` event to every subscriber of `topic`; resolves to its id
    /// once the transport has stored it. The value is serialised, and the event takes its place
    /// in the topic's order, when `publish` is called: publishes that are not awaited one by
    /// one are still stored in call order (and, through Redis, sent as one pipeline).
    ///
    /// It never blocks the runtime, and a subscriber that falls behind is handled by its
    /// endpoint's `on_lag`. With the in-process transport it completes at once; with a broker,
    /// after one round trip, and with [`PublishError::Transport`] when the broker does not take
    /// the event in time: an event is delivered or reported lost, never lost silently.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let hub = warp_eventstream::Hub::new();
    /// assert_eq!(hub.publish("room-1", "hello").await.unwrap(), "1");
    /// assert_eq!(hub.publish("room-2", "hi").await.unwrap(), "1", "ids count per topic");
    /// # }
    /// ```
    #[inline]
    pub fn publish(&self, topic: &str, value: T) -> TransportFuture<Result<EventId, PublishError>> {
        let Some(memory) = &self.in_process else {
            return match Outgoing::serialize(&value) {
                Ok(event) => self.send(topic, event),
                Err(err) => refused(PublishError::Serialize(err.to_string())),
            };
        };
        match transport::with_json(&value, |json| memory.publish_message(topic, json)) {
            Ok(seq) => {
                metrics::published(Ok(()));
                TransportFuture::ready(Ok(EventId::seq(seq)))
            }
            Err(err) => refused(PublishError::Serialize(err.to_string())),
        }
    }

    /// Sends a built [`Event`] (its own name, JSON or text data) to `topic`; resolves to its id.
    /// The transport assigns the id: an id set on the event is ignored.
    ///
    /// ```
    /// use warp_eventstream::{Event, Hub};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let hub: Hub<()> = Hub::new();
    /// let alert = Event::text("disk full").name("alert");
    /// assert_eq!(hub.publish_event("ops", alert).await.unwrap(), "1");
    /// assert!(hub.publish_event("ops", Event::text("x").name("bad\nname")).await.is_err());
    /// # }
    /// ```
    pub fn publish_event(
        &self,
        topic: &str,
        event: Event,
    ) -> TransportFuture<Result<EventId, PublishError>> {
        match Outgoing::from_event(event) {
            Ok(event) => self.send(topic, event),
            Err(err) => refused(err),
        }
    }

    /// Hands `event` to the transport, counting what becomes of it.
    fn send(&self, topic: &str, event: Outgoing) -> TransportFuture<Result<EventId, PublishError>> {
        self.transport
            .publish(topic, event)
            .inspect(|published| match published {
                Ok(_) => metrics::published(Ok(())),
                Err(err) => metrics::published(Err(err.reason())),
            })
    }

    /// How many clients are subscribed to `topic` right now.
    ///
    /// ```
    /// let hub: warp_eventstream::Hub<u8> = warp_eventstream::Hub::new();
    /// assert_eq!(hub.subscribers("nobody-here"), 0);
    /// ```
    pub fn subscribers(&self, topic: &str) -> usize {
        self.transport.subscribers(topic)
    }
}

/// The in-process transport inside `transport`, if that is what it is (or a handle on one).
fn in_process<X: Transport>(transport: X) -> Result<Arc<MemoryTransport>, X> {
    let mut transport = Some(transport);
    let any: &mut dyn std::any::Any = &mut transport;
    if let Some(memory) = any.downcast_mut::<Option<MemoryTransport>>() {
        return Ok(Arc::new(memory.take().expect("set above")));
    }
    if let Some(shared) = any.downcast_mut::<Option<Arc<MemoryTransport>>>() {
        return Ok(shared.take().expect("set above"));
    }
    Err(transport.expect("taken only when returned"))
}

/// A publish that never reached the transport, counted as failed.
fn refused(err: PublishError) -> TransportFuture<Result<EventId, PublishError>> {
    metrics::published(Err(err.reason()));
    TransportFuture::ready(Err(err))
}

impl<T> Hub<T> {
    pub(crate) fn subscribe(
        &self,
        topic: &str,
        after: Option<EventId>,
    ) -> TransportFuture<Result<Subscription, TransportError>> {
        self.transport.subscribe(topic, after)
    }

    pub(crate) fn parse_id(&self, id: &str) -> Option<EventId> {
        self.transport.parse_id(id)
    }

    pub(crate) fn records_topics(&self) -> bool {
        self.topic_metrics
    }
}

#[cfg(test)]
mod tests {
    use futures::FutureExt;

    use super::*;

    fn subscribe(transport: &MemoryTransport, topic: &str) -> Subscription {
        transport
            .subscribe(topic, None)
            .now_or_never()
            .expect("in process")
            .unwrap()
    }

    /// Publishes `value` on `hub`, which completes at once in process.
    fn publish<T: Serialize>(hub: &Hub<T>, topic: &str, value: T) -> Result<EventId, PublishError> {
        hub.publish(topic, value)
            .now_or_never()
            .expect("in process")
    }

    #[test]
    fn a_hub_on_a_shared_in_process_transport_publishes_through_it() {
        let transport = Arc::new(MemoryTransport::new(8));
        let hub: Hub<u8> = Hub::with_transport(transport.clone());
        assert!(hub.in_process.is_some(), "called directly");
        let mut subscription = subscribe(&transport, "t");
        assert_eq!(publish(&hub, "t", 1).unwrap(), EventId::seq(1));
        let other: Hub<&str> = Hub::with_transport(transport.clone());
        assert_eq!(publish(&other, "t", "two").unwrap(), EventId::seq(2));
        let mut frames = Vec::new();
        subscription.live.read(|frame, _| {
            frames.push(frame.bytes().to_vec());
            true
        });
        assert_eq!(
            frames,
            [&b"id: 1\ndata: 1\n\n"[..], b"id: 2\ndata: \"two\"\n\n"]
        );
    }

    /// A value whose `Serialize` publishes another event: the inner publish finds the thread's
    /// buffer taken and serialises into its own; both events go out whole.
    struct Nested(Hub<u32>);

    impl Serialize for Nested {
        fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            publish(&self.0, "inner", 7).expect("the inner publish");
            serializer.serialize_str("outer")
        }
    }

    #[test]
    fn a_publish_inside_a_serialize_gets_a_buffer_of_its_own() {
        let transport = Arc::new(MemoryTransport::new(8));
        let mut outer_topic = subscribe(&transport, "outer");
        let mut inner_topic = subscribe(&transport, "inner");
        let hub: Hub<Nested> = Hub::with_transport(transport.clone());
        publish(
            &hub,
            "outer",
            Nested(Hub::with_transport(transport.clone())),
        )
        .unwrap();
        let read = |subscription: &mut Subscription| {
            let mut bytes = Vec::new();
            subscription.live.read(|frame, _| {
                bytes.extend_from_slice(frame.bytes());
                true
            });
            bytes
        };
        assert_eq!(read(&mut outer_topic), b"id: 1\ndata: \"outer\"\n\n");
        assert_eq!(read(&mut inner_topic), b"id: 1\ndata: 7\n\n");
    }
}
