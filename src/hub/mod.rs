//! [`Hub`]: publish once, deliver to every subscriber of a topic, replay what a reconnecting
//! client missed.

mod memory;
mod source;
mod transport;

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use serde::Serialize;

pub use self::memory::MemoryTransport;
pub(crate) use self::source::HubSource;
pub use self::source::OnLag;
pub use self::transport::ResetFrom;
pub use self::transport::{HubFrame, Outgoing, Subscription, Transport};
use crate::event::Event;

/// How many events each topic keeps for reconnecting clients when no size is given.
pub const DEFAULT_REPLAY: usize = 1024;

/// A broadcast hub: `publish(topic, value)` from anywhere; every client of an endpoint declared
/// with `from hub(<hub>, <topic>)` receives it.
///
/// Each published value is serialised and framed **once**; every subscriber writes the same
/// bytes. Ids count up from 1 per topic, and the last [`DEFAULT_REPLAY`] events of a topic are
/// kept, so a client reconnecting with `Last-Event-ID` gets exactly what it missed. A client
/// further behind than that gets one `reset` event (data `{"last_event_id": k}`) and then live
/// events: it should reload its state.
///
/// The transport behind it is a [`Transport`]; [`Hub::new`] keeps everything in process.
///
/// ```
/// use warp_eventstream::{event_stream, Hub};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let prices: Hub<f64> = Hub::new();
/// let ticker = event_stream! { route "/prices" from hub(prices.clone(), "ACME") };
/// # let _ = ticker;
/// assert_eq!(prices.publish("ACME", 101.5).unwrap(), 1);
/// assert_eq!(prices.publish("ACME", 101.75).unwrap(), 2);
/// assert_eq!(prices.subscribers("ACME"), 0);
/// # }
/// ```
pub struct Hub<T> {
    transport: Arc<dyn Transport>,
    value: PhantomData<fn(T)>,
}

impl<T> Clone for Hub<T> {
    fn clone(&self) -> Self {
        Hub {
            transport: self.transport.clone(),
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublishError {
    /// The value could not be serialised to JSON (say, a map with non-string keys).
    Serialize(String),
    /// The event's name is empty or contains CR or LF.
    EventName(String),
}

impl fmt::Display for PublishError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PublishError::Serialize(err) => write!(f, "event data could not be serialised: {err}"),
            PublishError::EventName(name) => {
                write!(f, "event name {name:?} is empty or contains CR or LF")
            }
        }
    }
}

impl std::error::Error for PublishError {}

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
        Hub {
            transport: Arc::new(transport),
            value: PhantomData,
        }
    }

    /// Sends `value` as a `message` event to every subscriber of `topic`; returns its id.
    /// Never blocks: a subscriber that falls behind is handled by its endpoint's `on_lag`.
    ///
    /// ```
    /// let hub = warp_eventstream::Hub::new();
    /// assert_eq!(hub.publish("room-1", "hello").unwrap(), 1);
    /// assert_eq!(hub.publish("room-2", "hi").unwrap(), 1, "ids count per topic");
    /// ```
    pub fn publish(&self, topic: &str, value: T) -> Result<u64, PublishError> {
        let json =
            serde_json::to_vec(&value).map_err(|err| PublishError::Serialize(err.to_string()))?;
        Ok(self
            .transport
            .publish(topic, Outgoing::json("message", json)))
    }

    /// Sends a built [`Event`] (its own name, JSON or text data) to `topic`; returns its id. The
    /// hub assigns the id: an id set on the event is ignored.
    ///
    /// ```
    /// use warp_eventstream::{Event, Hub};
    /// let hub: Hub<()> = Hub::new();
    /// assert_eq!(hub.publish_event("ops", Event::text("disk full").name("alert")).unwrap(), 1);
    /// assert!(hub.publish_event("ops", Event::text("x").name("bad\nname")).is_err());
    /// ```
    pub fn publish_event(&self, topic: &str, event: Event) -> Result<u64, PublishError> {
        Ok(self.transport.publish(topic, Outgoing::from_event(event)?))
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

impl<T> Hub<T> {
    pub(crate) fn subscribe(&self, topic: &str, after: Option<u64>) -> Subscription {
        self.transport.subscribe(topic, after)
    }
}
