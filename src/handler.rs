//! The `=> handler` of an endpoint: turns tick `i` into the frame that carries its events.

use std::cell::RefCell;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};

use bytes::Bytes;
use serde::Serialize;

use crate::event::{Event, EventData};
use crate::frame::{check_event_name, check_id, encode_events, EventHeader, FramingError, Payload};

/// Why a tick produced no frame.
#[derive(Debug)]
pub enum TickError {
    /// The handler (or the `Serialize` impl of its value) panicked: the stream ends.
    Panicked,
    /// The value could not be serialised (say, a map with non-string keys): the tick is skipped.
    Serialize(String),
    /// A computed name or id would break the framing: the event is skipped.
    Framing(FramingError),
}

impl fmt::Display for TickError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TickError::Panicked => f.write_str("event handler panicked; stream ended"),
            TickError::Serialize(err) => write!(f, "event data could not be serialised: {err}"),
            TickError::Framing(err) => err.fmt(f),
        }
    }
}

impl std::error::Error for TickError {}

/// A handler form of the DSL. Implemented by [`Json`], [`Text`] and [`Built`]; the macro picks one.
pub trait TickHandler: Send + Sync + 'static {
    /// Calls the handler for `tick` and frames its value once per declared event.
    #[doc(hidden)]
    fn frame(
        &self,
        tick: u64,
        headers: &[EventHeader],
        id: Option<&str>,
    ) -> Result<Bytes, TickError>;
}

thread_local! {
    // Reused for every serialisation on this thread, so a tick allocates only its frame.
    static JSON_SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// `=> |i| value`: the value is any `Serialize`, sent as one JSON `data:` line.
#[doc(hidden)]
pub struct Json<F>(pub F);

impl<F, T> TickHandler for Json<F>
where
    F: Fn(u64) -> T + Send + Sync + 'static,
    T: Serialize,
{
    fn frame(
        &self,
        tick: u64,
        headers: &[EventHeader],
        id: Option<&str>,
    ) -> Result<Bytes, TickError> {
        JSON_SCRATCH.with(|scratch| {
            let mut json = scratch.borrow_mut();
            json.clear();
            catch_unwind(AssertUnwindSafe(|| {
                serde_json::to_writer(&mut *json, &(self.0)(tick))
            }))
            .map_err(|_| TickError::Panicked)?
            .map_err(|err| TickError::Serialize(err.to_string()))?;
            Ok(encode_events(headers, id, Payload::Json(&json)))
        })
    }
}

/// `=> text |i| string`: the value is text, one `data:` line per line.
#[doc(hidden)]
pub struct Text<F>(pub F);

impl<F, T> TickHandler for Text<F>
where
    F: Fn(u64) -> T + Send + Sync + 'static,
    T: AsRef<str>,
{
    fn frame(
        &self,
        tick: u64,
        headers: &[EventHeader],
        id: Option<&str>,
    ) -> Result<Bytes, TickError> {
        let text =
            catch_unwind(AssertUnwindSafe(|| (self.0)(tick))).map_err(|_| TickError::Panicked)?;
        Ok(encode_events(headers, id, Payload::Text(text.as_ref())))
    }
}

/// `=> event |i| Event::...`: the handler builds the whole [`Event`], name and id included.
#[doc(hidden)]
pub struct Built<F>(pub F);

impl<F> TickHandler for Built<F>
where
    F: Fn(u64) -> Event + Send + Sync + 'static,
{
    fn frame(
        &self,
        tick: u64,
        headers: &[EventHeader],
        id: Option<&str>,
    ) -> Result<Bytes, TickError> {
        let event =
            catch_unwind(AssertUnwindSafe(|| (self.0)(tick))).map_err(|_| TickError::Panicked)?;
        let named;
        let headers = match &event.name {
            Some(name) => {
                check_event_name(name).map_err(TickError::Framing)?;
                named = [EventHeader::new(name)];
                &named[..]
            }
            None => headers,
        };
        let id = match &event.id {
            Some(own) => {
                check_id(own).map_err(TickError::Framing)?;
                Some(own.as_ref())
            }
            None => id,
        };
        let payload = match &event.data {
            EventData::Json(Ok(json)) => Payload::Json(json),
            EventData::Json(Err(err)) => return Err(TickError::Serialize(err.clone())),
            EventData::Text(text) => Payload::Text(text),
        };
        Ok(encode_events(headers, id, payload))
    }
}
