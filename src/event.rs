//! [`Event`]: one event whose name, id or data a handler computes.

use std::borrow::Cow;

use serde::Serialize;

/// One event built by a handler, for when the event type or id depends on the tick.
///
/// Used with the `=> event |i| ...` handler form. Without [`Event::name`] the endpoint's declared
/// names apply (`message` by default); without [`Event::id`] the event carries the tick number,
/// which is what `Last-Event-ID` resumes from. A computed name or id that would break the framing
/// (empty name; CR or LF in either; NUL in an id) is refused at send time: that event is skipped
/// and logged, and the stream goes on.
///
/// ```
/// use warp_eventstream::{event_stream, json, Event};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let checkpoints = event_stream! {
///     route "/progress" every 10ms until 3 close_event off
///     => event |i| {
///         let name = if i == 3 { "checkpoint" } else { "step" };
///         Event::json(json!({ "step": i })).name(name)
///     }
/// };
/// let response = warp::test::request().path("/progress").reply(&checkpoints).await;
/// assert_eq!(
///     response.body(),
///     "event: step\nid: 1\ndata: {\"step\":1}\n\n\
///      event: step\nid: 2\ndata: {\"step\":2}\n\n\
///      event: checkpoint\nid: 3\ndata: {\"step\":3}\n\n"
/// );
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Event {
    pub(crate) name: Option<Cow<'static, str>>,
    pub(crate) id: Option<Cow<'static, str>>,
    pub(crate) data: EventData,
}

#[derive(Debug, Clone)]
pub(crate) enum EventData {
    /// Serialised JSON, or why serialising failed (reported when the event is sent).
    Json(Result<Vec<u8>, String>),
    Text(String),
}

impl Event {
    /// An event whose data is `value` as one JSON `data:` line.
    ///
    /// ```
    /// use warp_eventstream::{json, Event};
    /// let event = Event::json(json!({ "price": 101.5 }));
    /// # let _ = event;
    /// ```
    pub fn json<T: Serialize>(value: T) -> Self {
        let data = serde_json::to_vec(&value).map_err(|err| err.to_string());
        Event {
            name: None,
            id: None,
            data: EventData::Json(data),
        }
    }

    /// An event whose data is `text`, one `data:` line per line (CR, LF and CRLF all split).
    ///
    /// ```
    /// use warp_eventstream::Event;
    /// let event = Event::text("first line\nsecond line");
    /// # let _ = event;
    /// ```
    pub fn text(text: impl Into<String>) -> Self {
        Event {
            name: None,
            id: None,
            data: EventData::Text(text.into()),
        }
    }

    /// Sets the event type (`event:` line); `"message"` is written as no line at all.
    ///
    /// ```
    /// use warp_eventstream::Event;
    /// let event = Event::text("disk almost full").name("alert");
    /// # let _ = event;
    /// ```
    pub fn name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the id (`id:` line) in place of the tick number. Reconnecting browsers send it back as
    /// `Last-Event-ID`; only a decimal tick number resumes a timer stream where it left off.
    ///
    /// ```
    /// use warp_eventstream::Event;
    /// let event = Event::text("order shipped").id("order-1042");
    /// # let _ = event;
    /// ```
    pub fn id(mut self, id: impl Into<Cow<'static, str>>) -> Self {
        self.id = Some(id.into());
        self
    }
}
