//! Computed names, ids and payloads as outside input: whatever a handler or a publisher
//! computes, a browser reads back exactly that event, or the server refused it because it would
//! break the framing (and the stream goes on).

use std::sync::Arc;

use futures::FutureExt;
use warp::reply::Response;
use warp::{Filter, Rejection};
use warp_eventstream::{event_stream, Event, EventId, Hub, MemoryTransport, Transport};

use super::event_source::{self, parse};

/// The path of [`endpoint`].
pub const PATH: &str = "/framing";

/// One computed event.
#[derive(Debug, Clone)]
pub struct Case {
    name: Option<String>,
    id: Option<String>,
    data: Data,
}

#[derive(Debug, Clone)]
enum Data {
    Json(String),
    Text(String),
}

/// Separates the fields in fuzz input: a byte that never occurs in UTF-8 text.
const SEPARATOR: u8 = 0xFF;

impl Case {
    /// A case from its parts: `data` is sent as a JSON string when `json`, else as text lines.
    pub fn new(name: Option<String>, id: Option<String>, data: String, json: bool) -> Case {
        Case {
            name,
            id,
            data: if json {
                Data::Json(data)
            } else {
                Data::Text(data)
            },
        }
    }

    /// Reads a case from fuzz input: a flags byte (1: has a name, 2: has an id, 4: JSON data),
    /// then name, id and data separated by `0xFF`, each read as UTF-8 (invalid bytes become
    /// U+FFFD, as a server's `String` could hold).
    pub fn decode(input: &[u8]) -> Case {
        let (flags, rest) = input.split_first().map_or((0, &[][..]), |(f, r)| (*f, r));
        let mut fields = rest
            .splitn(3, |&b| b == SEPARATOR)
            .map(|field| String::from_utf8_lossy(field).into_owned());
        let name = fields.next().unwrap_or_default();
        let id = fields.next().unwrap_or_default();
        let data = fields.next().unwrap_or_default();
        Case::new(
            (flags & 1 != 0).then_some(name),
            (flags & 2 != 0).then_some(id),
            data,
            flags & 4 != 0,
        )
    }

    /// The event a handler returns (or a publisher publishes).
    pub fn event(&self) -> Event {
        let event = match &self.data {
            Data::Json(value) => Event::json(value),
            Data::Text(text) => Event::text(text.clone()),
        };
        let event = match &self.name {
            Some(name) => event.name(name.clone()),
            None => event,
        };
        match &self.id {
            Some(id) => event.id(id.clone()),
            None => event,
        }
    }

    fn name_frames(&self) -> bool {
        self.name
            .as_ref()
            .is_none_or(|name| !name.is_empty() && !name.contains(['\r', '\n']))
    }

    fn data(&self) -> String {
        match &self.data {
            Data::Json(value) => serde_json::to_string(value).expect("a string serialises"),
            // The parser joins `data:` lines with LF, so every line break arrives as LF.
            Data::Text(text) => text.replace("\r\n", "\n").replace('\r', "\n"),
        }
    }

    /// What a browser sees when a handler returns this event for tick `tick`: `None` when the
    /// server must refuse it (an empty name, CR or LF in the name or id, NUL in the id).
    pub fn expected_from_handler(&self, tick: u64) -> Option<event_source::Event> {
        let id_frames = self
            .id
            .as_ref()
            .is_none_or(|id| !id.contains(['\r', '\n', '\0']));
        if !self.name_frames() || !id_frames {
            return None;
        }
        Some(event_source::Event {
            event: self.name.clone().unwrap_or_else(|| "message".to_owned()),
            data: self.data(),
            id: self.id.clone().unwrap_or_else(|| tick.to_string()),
        })
    }

    /// What every subscriber sees when this event is published to a hub as the topic's `id`th:
    /// the hub numbers events itself, so a computed id plays no part.
    pub fn expected_from_hub(&self, id: EventId) -> Option<event_source::Event> {
        self.name_frames().then(|| event_source::Event {
            event: self.name.clone().unwrap_or_else(|| "message".to_owned()),
            data: self.data(),
            id: id.to_string(),
        })
    }
}

/// An endpoint whose handler returns `case`'s event on its only tick.
pub fn endpoint(
    case: &Case,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone + Send + Sync {
    let event = case.event();
    event_stream! { route "/framing" every 1ms until 1 close_event off => event |_| event.clone() }
}

/// Panics unless `body`, the answer of [`endpoint`], holds exactly the event a browser must see.
pub fn check_handler(case: &Case, status: u16, body: &[u8]) {
    assert_eq!(status, 200, "{case:?}");
    let expected: Vec<_> = case.expected_from_handler(1).into_iter().collect();
    assert_eq!(
        parse(body),
        expected,
        "{case:?} was sent as {:?}",
        String::from_utf8_lossy(body)
    );
}

/// Publishes `case`'s event to a hub; panics unless the frame every subscriber is written reads
/// back as the event, or the publish was refused because the name would break the framing.
pub fn check_hub(case: &Case) {
    let transport = Arc::new(MemoryTransport::new(1));
    // Shared with the check, which subscribes as an endpoint would.
    let hub: Hub<()> = Hub::with_transport(transport.clone());
    // The in-process transport completes at once: its futures are ready at the first poll.
    let mut subscriber = transport
        .subscribe("t", None)
        .now_or_never()
        .expect("ready")
        .expect("subscribed");
    match hub
        .publish_event("t", case.event())
        .now_or_never()
        .expect("ready")
    {
        Ok(id) => {
            let frame = subscriber
                .live
                .recv()
                .now_or_never()
                .expect("the frame is waiting")
                .expect("the subscriber has the frame");
            assert_eq!(frame.id, id);
            assert_eq!(
                parse(&frame.bytes),
                case.expected_from_hub(id).into_iter().collect::<Vec<_>>(),
                "{case:?} was published as {:?}",
                String::from_utf8_lossy(&frame.bytes)
            );
        }
        Err(err) => assert_eq!(
            case.expected_from_hub(EventId::seq(1)),
            None,
            "{case:?} refused: {err}"
        ),
    }
}
