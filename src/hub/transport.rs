//! The seam between a [`Hub`](super::Hub) and where its events travel: in process today
//! ([`MemoryTransport`](super::MemoryTransport)), or through a shared broker for several servers.

use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;

use super::event_id::MAX_LEN;
use super::{EventId, PublishError};
use crate::event::{Event, EventData};
use crate::frame::{check_event_name, encode_events, EventHeader, Payload};

/// Where a hub's events travel and are kept for replay.
///
/// A transport assigns each topic's ids ([`EventId`]s, opaque to the hub), frames each event
/// once with [`Outgoing::frame`], keeps recent frames for replay and fans them out to this
/// process's subscribers through a [`Fanout`](crate::Fanout) per topic, whose receivers the
/// endpoints read. [`MemoryTransport`](crate::MemoryTransport) keeps all of it in process; a
/// broker-backed transport (`RedisTransport`, feature `redis`) shares topics between servers.
///
/// ```
/// use warp_eventstream::{MemoryTransport, Outgoing, Transport};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let transport = MemoryTransport::new(8);
/// let mut subscription = transport.subscribe("t", None).await.unwrap();
/// let id = transport.publish("t", Outgoing::json("message", b"1".to_vec())).await.unwrap();
/// let frame = subscription.live.recv().await.unwrap();
/// assert_eq!(id, "1");
/// assert_eq!((frame.id, &frame.bytes[..]), (id, &b"id: 1\ndata: 1\n\n"[..]));
/// # }
/// ```
pub trait Transport: Send + Sync + 'static {
    /// Stores `event` as the topic's next event and sends its frame to every subscriber, in
    /// this process and (for a shared transport) in every other; resolves to its id once the
    /// event is stored. Events are stored in the order `publish` was called, whether or not
    /// each future is awaited before the next call. It must not block the runtime, and must
    /// resolve within a bounded time: an event the transport could not take is an `Err`, never
    /// a silent loss.
    fn publish(
        &self,
        topic: &str,
        event: Outgoing,
    ) -> TransportFuture<Result<EventId, PublishError>>;

    /// Subscribes to `topic`. With `after: Some(k)` (a client's `Last-Event-ID`, already read by
    /// [`parse_id`](Transport::parse_id)), the subscription's backlog holds the kept frames after
    /// `k`, or `reset` is set when some of them are no longer kept (or `k` is not a position of
    /// this topic); the backlog and the live receiver neither overlap nor leave a gap, and
    /// `head` is the id the live frames follow.
    fn subscribe(
        &self,
        topic: &str,
        after: Option<EventId>,
    ) -> TransportFuture<Result<Subscription, TransportError>>;

    /// Reads a `Last-Event-ID` this transport could have assigned; `None` for anything else
    /// (which the endpoint treats as no `Last-Event-ID` at all).
    fn parse_id(&self, id: &str) -> Option<EventId>;

    /// How many receivers `topic` has in this process now.
    fn subscribers(&self, topic: &str) -> usize;
}

/// A shared transport is a transport: a [`Hub`](crate::Hub) can run on one that other code holds
/// too (to subscribe to a topic directly, say, or to put hubs of two value types on one set of
/// topics).
///
/// ```
/// use std::sync::Arc;
/// use warp_eventstream::{Hub, MemoryTransport, Transport};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let transport = Arc::new(MemoryTransport::new(8));
/// let hub: Hub<u32> = Hub::with_transport(transport.clone());
/// let mut subscription = transport.subscribe("t", None).await.unwrap();
/// hub.publish("t", 7).await.unwrap();
/// assert_eq!(&subscription.live.recv().await.unwrap().bytes[..], b"id: 1\ndata: 7\n\n");
/// # }
/// ```
impl<T: Transport + ?Sized> Transport for Arc<T> {
    fn publish(
        &self,
        topic: &str,
        event: Outgoing,
    ) -> TransportFuture<Result<EventId, PublishError>> {
        (**self).publish(topic, event)
    }

    fn subscribe(
        &self,
        topic: &str,
        after: Option<EventId>,
    ) -> TransportFuture<Result<Subscription, TransportError>> {
        (**self).subscribe(topic, after)
    }

    fn parse_id(&self, id: &str) -> Option<EventId> {
        (**self).parse_id(id)
    }

    fn subscribers(&self, topic: &str) -> usize {
        (**self).subscribers(topic)
    }
}

/// What a [`Transport`] returns: a value that is ready at once (the in-process transport, at no
/// allocation), or a boxed future (a broker's round trip).
///
/// ```
/// use warp_eventstream::TransportFuture;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// assert_eq!(TransportFuture::ready(1).await, 1);
/// assert_eq!(TransportFuture::new(async { 2 }).await, 2);
/// # }
/// ```
#[must_use = "the future tells whether the transport did it"]
pub struct TransportFuture<T>(Inner<T>);

enum Inner<T> {
    Ready(Option<T>),
    Boxed(Pin<Box<dyn Future<Output = T> + Send>>),
}

impl<T> TransportFuture<T> {
    /// A future that resolves to `value` at its first poll.
    #[inline]
    pub fn ready(value: T) -> Self {
        TransportFuture(Inner::Ready(Some(value)))
    }

    /// A future that runs `future`.
    pub fn new(future: impl Future<Output = T> + Send + 'static) -> Self {
        TransportFuture(Inner::Boxed(Box::pin(future)))
    }

    /// Calls `f` with the value when it is ready: at once for a ready value (no allocation),
    /// else when the future completes.
    #[inline]
    pub(crate) fn inspect(self, f: impl FnOnce(&T) + Send + 'static) -> Self
    where
        T: Send + 'static,
    {
        self.map(|value| {
            f(&value);
            value
        })
    }

    /// The value turned by `f`: at once for a ready value (no allocation; the in-process
    /// transport's are all ready), else when the future completes.
    #[inline]
    pub(crate) fn map<U>(self, f: impl FnOnce(T) -> U + Send + 'static) -> TransportFuture<U>
    where
        T: Send + 'static,
    {
        match self.0 {
            Inner::Ready(Some(value)) => TransportFuture::ready(f(value)),
            Inner::Ready(None) => TransportFuture(Inner::Ready(None)),
            Inner::Boxed(future) => TransportFuture::new(async move { f(future.await) }),
        }
    }
}

// The ready value is moved out, never pinned; the boxed future is pinned in its box.
impl<T> Unpin for TransportFuture<T> {}

impl<T> Future for TransportFuture<T> {
    type Output = T;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        match &mut self.get_mut().0 {
            Inner::Ready(value) => Poll::Ready(value.take().expect("polled after completion")),
            Inner::Boxed(future) => future.as_mut().poll(cx),
        }
    }
}

impl<T> fmt::Debug for TransportFuture<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransportFuture").finish_non_exhaustive()
    }
}

/// A transport could not do what was asked: its broker is unreachable, slow or refused.
///
/// ```
/// let error = warp_eventstream::TransportError::new("redis: connection refused");
/// assert_eq!(error.to_string(), "redis: connection refused");
/// ```
#[derive(Clone)]
pub struct TransportError(Arc<dyn std::error::Error + Send + Sync>);

impl TransportError {
    /// Wraps the broker client's error (or a message).
    pub fn new(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        TransportError(Arc::from(error.into()))
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TransportError({})", self.0)
    }
}

impl std::error::Error for TransportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// One framed event of a topic.
#[derive(Debug, Clone)]
pub struct HubFrame {
    /// Its position within the topic.
    pub id: EventId,
    /// The whole `text/event-stream` frame, `id:` line included.
    pub bytes: Bytes,
}

/// What a new subscriber starts from.
#[derive(Debug)]
pub struct Subscription {
    /// The topic's newest id when the client subscribed (for an empty topic, the transport's
    /// zero: `0`, or `0-0`): the backlog ends with it and live frames follow it. A client with
    /// no backlog and no reset is sent `id: <head>` first, so that a browser cut off before its
    /// first event still resumes from here.
    pub head: EventId,
    /// Kept frames the client missed, oldest first.
    pub backlog: Vec<HubFrame>,
    /// The client missed frames that are no longer kept: it is sent a `reset` event first.
    pub reset: Option<ResetFrom>,
    /// Frames published from now on.
    pub live: crate::FanoutReceiver,
}

/// The ids a `reset` event reports: the client's last id and the topic's newest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResetFrom {
    /// The `Last-Event-ID` the client sent.
    pub last_event_id: EventId,
    /// The topic's newest id when the client subscribed; live frames follow it.
    pub head: EventId,
}

impl ResetFrom {
    /// The `reset` event: `id:` the head, data `{"last_event_id":"<k>"}`.
    ///
    /// ```
    /// use warp_eventstream::{EventId, ResetFrom};
    /// let reset = ResetFrom { last_event_id: EventId::seq(2), head: EventId::seq(10) };
    /// assert_eq!(&reset.frame()[..], b"event: reset\nid: 10\ndata: {\"last_event_id\":\"2\"}\n\n");
    /// ```
    pub fn frame(&self) -> Bytes {
        Bytes::from(format!(
            "event: reset\nid: {}\ndata: {{\"last_event_id\":\"{}\"}}\n\n",
            self.head, self.last_event_id
        ))
    }
}

/// A published event waiting for its id.
#[derive(Debug, Clone)]
pub struct Outgoing {
    header: EventHeader,
    data: OutgoingData,
}

#[derive(Debug, Clone)]
enum OutgoingData {
    Json(JsonBuf),
    Text(String),
}

/// Serialised JSON. Its buffer goes back to the dropping thread for the next
/// [`Outgoing::serialize`]: once the in-process transport has framed an event, publishing the
/// next one allocates nothing.
#[derive(Debug, Clone)]
struct JsonBuf(Vec<u8>);

/// A buffer larger than this is not kept for the thread's next event.
const KEPT_BUF: usize = 64 * 1024;

thread_local! {
    /// Taken while an event is serialised and framed, then put back; a publish from inside a
    /// `Serialize` (which finds it taken) serialises into a new buffer.
    static SPARE_BUF: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

impl JsonBuf {
    /// This thread's spare buffer, empty (a new one if it has none).
    #[inline]
    fn spare() -> Vec<u8> {
        SPARE_BUF.try_with(Cell::take).unwrap_or_default()
    }

    /// Gives `buf` back as this thread's spare buffer, unless it is too large to keep.
    #[inline]
    fn keep(mut buf: Vec<u8>) {
        if buf.capacity() == 0 || buf.capacity() > KEPT_BUF {
            return;
        }
        buf.clear();
        // Fails only while the thread ends: the buffer is then freed.
        let _ = SPARE_BUF.try_with(|spare| spare.set(buf));
    }
}

impl Drop for JsonBuf {
    #[inline]
    fn drop(&mut self) {
        JsonBuf::keep(std::mem::take(&mut self.0));
    }
}

/// `value` serialised as JSON into this thread's spare buffer, handed to `with` there: the
/// in-process hub frames it from the buffer, which is kept for the next event.
#[inline]
pub(crate) fn with_json<R>(
    value: &impl serde::Serialize,
    with: impl FnOnce(&[u8]) -> R,
) -> Result<R, serde_json::Error> {
    let mut buf = JsonBuf::spare();
    let serialized = serde_json::to_writer(&mut buf, value);
    let done = serialized.map(|()| with(&buf));
    JsonBuf::keep(buf);
    done
}

impl Outgoing {
    /// An event named `name` whose data is serialised JSON (one line).
    ///
    /// ```
    /// let event = warp_eventstream::Outgoing::json("message", br#"{"a":1}"#.to_vec());
    /// assert_eq!(&event.frame(warp_eventstream::EventId::seq(7))[..], b"id: 7\ndata: {\"a\":1}\n\n");
    /// ```
    pub fn json(name: &str, json: Vec<u8>) -> Self {
        Outgoing {
            header: EventHeader::new(name),
            data: OutgoingData::Json(JsonBuf(json)),
        }
    }

    /// `value` serialised as a `message` event, into this thread's spare buffer.
    pub(crate) fn serialize(value: &impl serde::Serialize) -> Result<Self, serde_json::Error> {
        let mut json = JsonBuf(JsonBuf::spare());
        serde_json::to_writer(&mut json.0, value)?;
        Ok(Outgoing {
            header: EventHeader::message(),
            data: OutgoingData::Json(json),
        })
    }

    pub(crate) fn from_event(event: Event) -> Result<Self, PublishError> {
        let name = event.name.as_deref().unwrap_or("message");
        check_event_name(name).map_err(|_| PublishError::EventName(name.to_owned()))?;
        let data = match event.data {
            EventData::Json(Ok(json)) => OutgoingData::Json(JsonBuf(json)),
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
    /// use warp_eventstream::{EventId, Outgoing};
    /// let event = Outgoing::json("tick", b"1".to_vec());
    /// assert_eq!(&event.frame(EventId::seq(1))[..], b"event: tick\nid: 1\ndata: 1\n\n");
    /// assert_eq!(&event.frame(EventId::pair(5, 0))[..], b"event: tick\nid: 5-0\ndata: 1\n\n");
    /// ```
    pub fn frame(&self, id: EventId) -> Bytes {
        let mut digits = [0; MAX_LEN];
        let id = id.format(&mut digits);
        encode_events(std::slice::from_ref(&self.header), Some(id), self.payload())
    }

    /// The event's `event:` line and data, which the in-process transport frames in its ring.
    pub(crate) fn parts(&self) -> (&EventHeader, Payload<'_>) {
        (&self.header, self.payload())
    }

    /// What a broker stores: the event's name, `"json"` or `"text"`, and the data.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn stored(&self) -> (&str, &'static str, &[u8]) {
        match &self.data {
            OutgoingData::Json(json) => (self.header.name(), "json", &json.0),
            OutgoingData::Text(text) => (self.header.name(), "text", text.as_bytes()),
        }
    }

    /// The event a broker stored with [`stored`](Outgoing::stored); `None` for anything else
    /// (an entry some other program wrote to the topic's key).
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn from_stored(name: &str, kind: &[u8], data: Vec<u8>) -> Option<Self> {
        check_event_name(name).ok()?;
        let data = match kind {
            b"json" => OutgoingData::Json(JsonBuf(data)),
            b"text" => OutgoingData::Text(String::from_utf8(data).ok()?),
            _ => return None,
        };
        Some(Outgoing {
            header: EventHeader::new(name),
            data,
        })
    }

    fn payload(&self) -> Payload<'_> {
        match &self.data {
            OutgoingData::Json(json) => Payload::Json(&json.0),
            OutgoingData::Text(text) => Payload::Text(text),
        }
    }
}
