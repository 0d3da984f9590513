//! The seam between a [`Hub`](super::Hub) and where its events travel: in process today
//! ([`MemoryTransport`](super::MemoryTransport)), through a shared broker for several servers later.

use bytes::Bytes;
use tokio::sync::broadcast;

use super::PublishError;
use crate::event::{Event, EventData};
use crate::frame::{check_event_name, encode_events, EventHeader, Payload};
use crate::render::format_u64;

/// Where a hub's events travel and are kept for replay.
///
/// A transport assigns each topic's ids (counting up from 1), frames each event once with
/// [`Outgoing::frame`], keeps recent frames for replay and fans them out to subscribers through a
/// `tokio::sync::broadcast` channel, whose receivers the endpoints poll.
///
/// ```
/// use warp_eventstream::{MemoryTransport, Outgoing, Transport};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let transport = MemoryTransport::new(8);
/// let mut subscription = transport.subscribe("t", None);
/// let id = transport.publish("t", Outgoing::json("message", b"1".to_vec()));
/// let frame = subscription.live.recv().await.unwrap();
/// assert_eq!((frame.id, &frame.bytes[..]), (id, &b"id: 1\ndata: 1\n\n"[..]));
/// # }
/// ```
pub trait Transport: Send + Sync + 'static {
    /// Frames `event` with the topic's next id, keeps it for replay, sends it to every
    /// subscriber; returns the id. Must not block.
    fn publish(&self, topic: &str, event: Outgoing) -> u64;

    /// Subscribes to `topic`. With `after: Some(k)` (a client's `Last-Event-ID`), the
    /// subscription's backlog holds the kept frames with ids above `k`, or `reset` is set when
    /// some of them are no longer kept; the backlog and the live receiver neither overlap nor
    /// leave a gap, and `head` is the id the live frames follow.
    fn subscribe(&self, topic: &str, after: Option<u64>) -> Subscription;

    /// How many receivers `topic` has now.
    fn subscribers(&self, topic: &str) -> usize;
}

/// One framed event of a topic.
#[derive(Debug, Clone)]
pub struct HubFrame {
    /// Its id within the topic.
    pub id: u64,
    /// The whole `text/event-stream` frame, `id:` line included.
    pub bytes: Bytes,
}

/// What a new subscriber starts from.
#[derive(Debug)]
pub struct Subscription {
    /// The topic's newest id when the client subscribed (0: nothing published yet): the backlog
    /// ends with it and live frames follow it. A client with no backlog and no reset is sent
    /// `id: <head>` first, so that a browser cut off before its first event still resumes from
    /// here.
    pub head: u64,
    /// Kept frames the client missed, oldest first.
    pub backlog: Vec<HubFrame>,
    /// The client missed frames that are no longer kept: it is sent a `reset` event first.
    pub reset: Option<ResetFrom>,
    /// Frames published from now on.
    pub live: broadcast::Receiver<HubFrame>,
}

/// The ids a `reset` event reports: the client's last id and the topic's newest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResetFrom {
    /// The `Last-Event-ID` the client sent.
    pub last_event_id: u64,
    /// The topic's newest id when the client subscribed; live frames follow it.
    pub head: u64,
}

/// A published event waiting for its id.
#[derive(Debug, Clone)]
pub struct Outgoing {
    header: EventHeader,
    data: OutgoingData,
}

#[derive(Debug, Clone)]
enum OutgoingData {
    Json(Vec<u8>),
    Text(String),
}

impl Outgoing {
    /// An event named `name` whose data is serialised JSON (one line).
    ///
    /// ```
    /// let event = warp_eventstream::Outgoing::json("message", br#"{"a":1}"#.to_vec());
    /// assert_eq!(&event.frame(7)[..], b"id: 7\ndata: {\"a\":1}\n\n");
    /// ```
    pub fn json(name: &str, json: Vec<u8>) -> Self {
        Outgoing {
            header: EventHeader::new(name),
            data: OutgoingData::Json(json),
        }
    }

    pub(crate) fn from_event(event: Event) -> Result<Self, PublishError> {
        let name = event.name.as_deref().unwrap_or("message");
        check_event_name(name).map_err(|_| PublishError::EventName(name.to_owned()))?;
        let data = match event.data {
            EventData::Json(Ok(json)) => OutgoingData::Json(json),
            EventData::Json(Err(err)) => return Err(PublishError::Serialize(err)),
            EventData::Text(text) => OutgoingData::Text(text),
        };
        Ok(Outgoing {
            header: EventHeader::new(name),
            data,
        })
    }

    /// The event's frame with `id`.
    ///
    /// ```
    /// let event = warp_eventstream::Outgoing::json("tick", b"1".to_vec());
    /// assert_eq!(&event.frame(1)[..], b"event: tick\nid: 1\ndata: 1\n\n");
    /// ```
    pub fn frame(&self, id: u64) -> Bytes {
        let mut digits = [0; 20];
        let id = format_u64(&mut digits, id);
        let payload = match &self.data {
            OutgoingData::Json(json) => Payload::Json(json),
            OutgoingData::Text(text) => Payload::Text(text),
        };
        encode_events(std::slice::from_ref(&self.header), Some(id), payload)
    }
}
