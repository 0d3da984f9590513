//! The `=> handler` of an endpoint: turns a source item into the frame that carries its events.
//!
//! A handler form is two choices the macro makes: how the value is framed ([`Json`], [`Text`],
//! [`Built`]) and whether the closure returns it now or as a future ([`Now`], [`Later`]).

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use futures::FutureExt;
use serde::Serialize;

use crate::event::{Event, EventData};
use crate::frame::{check_event_name, check_id, encode_events, EventHeader, FramingError, Payload};

/// Why an item produced no frame.
#[derive(Debug)]
pub enum RenderError {
    /// The handler (or the `Serialize` impl of its value) panicked: the stream ends.
    Panicked,
    /// The value could not be serialised (say, a map with non-string keys): the item is skipped.
    Serialize(String),
    /// A computed name or id would break the framing: the event is skipped.
    Framing(FramingError),
}

impl fmt::Display for RenderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RenderError::Panicked => f.write_str("event handler panicked; stream ended"),
            RenderError::Serialize(err) => write!(f, "event data could not be serialised: {err}"),
            RenderError::Framing(err) => err.fmt(f),
        }
    }
}

/// What a handler gives back for one item: a frame now, or a future of one (`async` handlers).
pub enum Rendering {
    Ready(Result<Bytes, RenderError>),
    Pending(Pin<Box<dyn Future<Output = Result<Bytes, RenderError>> + Send>>),
}

/// A handler of items `I` for connections with context `C` (path parameters and `with` value).
pub trait Render<C, I>: Send + Sync + 'static {
    /// Calls the handler for `item` and frames its value once per declared event.
    #[doc(hidden)]
    fn render(&self, ctx: &C, item: I, id: Option<u64>, headers: &Arc<[EventHeader]>) -> Rendering;
}

/// How a handler's value becomes `data:` lines. Implemented by the markers [`Json`], [`Text`] and
/// [`Built`].
pub trait Format<V>: Send + Sync + 'static {
    /// Frames `value` once per header.
    #[doc(hidden)]
    fn frame(value: V, headers: &[EventHeader], id: Option<u64>) -> Result<Bytes, RenderError>;
}

/// `=> |i| value`: any `Serialize`, sent as one JSON `data:` line.
#[derive(Debug, Clone, Copy)]
pub struct Json;
/// `=> text |i| string`: text, one `data:` line per line.
#[derive(Debug, Clone, Copy)]
pub struct Text;
/// `=> event |i| Event::...`: the handler builds the whole [`Event`], name and id included.
#[derive(Debug, Clone, Copy)]
pub struct Built;

thread_local! {
    // Reused for every serialisation on this thread, so an item allocates only its frame.
    static JSON_SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Formats `id` in decimal without allocating.
fn with_id<R>(id: Option<u64>, f: impl FnOnce(Option<&str>) -> R) -> R {
    match id {
        None => f(None),
        Some(id) => {
            let mut digits = [0u8; 20];
            f(Some(format_u64(&mut digits, id)))
        }
    }
}

/// Formats `value` in decimal into `buf` (20 digits hold any `u64`).
pub(crate) fn format_u64(buf: &mut [u8; 20], mut value: u64) -> &str {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    std::str::from_utf8(&buf[at..]).expect("ASCII digits")
}

impl<V: Serialize> Format<V> for Json {
    fn frame(value: V, headers: &[EventHeader], id: Option<u64>) -> Result<Bytes, RenderError> {
        JSON_SCRATCH.with(|scratch| {
            let mut json = scratch.borrow_mut();
            json.clear();
            catch_unwind(AssertUnwindSafe(|| {
                serde_json::to_writer(&mut *json, &value)
            }))
            .map_err(|_| RenderError::Panicked)?
            .map_err(|err| RenderError::Serialize(err.to_string()))?;
            Ok(with_id(id, |id| {
                encode_events(headers, id, Payload::Json(&json))
            }))
        })
    }
}

impl<V: AsRef<str>> Format<V> for Text {
    fn frame(value: V, headers: &[EventHeader], id: Option<u64>) -> Result<Bytes, RenderError> {
        Ok(with_id(id, |id| {
            encode_events(headers, id, Payload::Text(value.as_ref()))
        }))
    }
}

impl Format<Event> for Built {
    fn frame(event: Event, headers: &[EventHeader], id: Option<u64>) -> Result<Bytes, RenderError> {
        let named;
        let headers = match &event.name {
            Some(name) => {
                check_event_name(name).map_err(RenderError::Framing)?;
                named = [EventHeader::new(name)];
                &named[..]
            }
            None => headers,
        };
        let payload = match &event.data {
            EventData::Json(Ok(json)) => Payload::Json(json),
            EventData::Json(Err(err)) => return Err(RenderError::Serialize(err.clone())),
            EventData::Text(text) => Payload::Text(text),
        };
        match &event.id {
            Some(own) => {
                check_id(own).map_err(RenderError::Framing)?;
                Ok(encode_events(headers, Some(own), payload))
            }
            None => Ok(with_id(id, |id| encode_events(headers, id, payload))),
        }
    }
}

/// A handler that returns its value: `=> |i| ...`.
#[doc(hidden)]
pub struct Now<F, M> {
    handler: F,
    format: PhantomData<fn() -> M>,
}

impl<F, M> Now<F, M> {
    pub fn new(handler: F, _format: M) -> Self {
        Now {
            handler,
            format: PhantomData,
        }
    }
}

impl<C, I, V, F, M> Render<C, I> for Now<F, M>
where
    F: Fn(&C, I) -> V + Send + Sync + 'static,
    M: Format<V>,
{
    fn render(&self, ctx: &C, item: I, id: Option<u64>, headers: &Arc<[EventHeader]>) -> Rendering {
        Rendering::Ready(
            catch_unwind(AssertUnwindSafe(|| (self.handler)(ctx, item)))
                .map_err(|_| RenderError::Panicked)
                .and_then(|value| M::frame(value, headers, id)),
        )
    }
}

/// A handler that awaits its value: `=> async |i| ...`.
#[doc(hidden)]
pub struct Later<F, M> {
    handler: F,
    format: PhantomData<fn() -> M>,
}

impl<F, M> Later<F, M> {
    pub fn new(handler: F, _format: M) -> Self {
        Later {
            handler,
            format: PhantomData,
        }
    }
}

impl<C, I, V, Fut, F, M> Render<C, I> for Later<F, M>
where
    F: Fn(&C, I) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = V> + Send + 'static,
    M: Format<V>,
{
    fn render(&self, ctx: &C, item: I, id: Option<u64>, headers: &Arc<[EventHeader]>) -> Rendering {
        let future = match catch_unwind(AssertUnwindSafe(|| (self.handler)(ctx, item))) {
            Ok(future) => future,
            Err(_) => return Rendering::Ready(Err(RenderError::Panicked)),
        };
        let headers = headers.clone();
        Rendering::Pending(Box::pin(async move {
            match AssertUnwindSafe(future).catch_unwind().await {
                Ok(value) => M::frame(value, &headers, id),
                Err(_) => Err(RenderError::Panicked),
            }
        }))
    }
}
