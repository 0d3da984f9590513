//! An endpoint as the macro declares it, and the warp filter it becomes.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use warp::http::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use crate::close::OnClose;
use crate::frame::{encode_events, encode_retry, EventHeader, Payload};
use crate::handler::{TickError, TickHandler};
use crate::last_event_id::{last_event_id, LastEventId};
use crate::route::route;
use crate::ticks::TickStream;

/// The keep-alive period when the DSL does not name one.
pub const DEFAULT_KEEP_ALIVE: Duration = Duration::from_secs(15);

/// What `event_stream!` builds: each clause sets one field, then [`Endpoint::into_filter`].
///
/// Hidden from the docs: the macro is the interface; this is the runtime it calls.
#[doc(hidden)]
pub struct Endpoint<H> {
    route: &'static str,
    handler: H,
    period: Duration,
    until: Option<u64>,
    events: &'static [&'static str],
    keep_alive: Option<Duration>,
    retry: Option<Duration>,
    close_event: Option<&'static str>,
    on_open: Option<Box<dyn Fn() + Send + Sync>>,
    on_close: Option<OnClose>,
}

impl<H: TickHandler> Endpoint<H> {
    pub fn new(handler: H) -> Self {
        Endpoint {
            route: "/",
            handler,
            period: Duration::from_secs(1),
            until: None,
            events: &["message"],
            keep_alive: Some(DEFAULT_KEEP_ALIVE),
            retry: None,
            close_event: Some("close"),
            on_open: None,
            on_close: None,
        }
    }

    pub fn route(self, route: &'static str) -> Self {
        Endpoint { route, ..self }
    }

    pub fn every(self, period: Duration) -> Self {
        Endpoint { period, ..self }
    }

    pub fn until(self, last_tick: u64) -> Self {
        Endpoint {
            until: Some(last_tick),
            ..self
        }
    }

    pub fn events(self, events: &'static [&'static str]) -> Self {
        Endpoint { events, ..self }
    }

    pub fn keep_alive(self, keep_alive: Option<Duration>) -> Self {
        Endpoint { keep_alive, ..self }
    }

    pub fn retry(self, retry: Duration) -> Self {
        Endpoint {
            retry: Some(retry),
            ..self
        }
    }

    pub fn close_event(self, close_event: Option<&'static str>) -> Self {
        Endpoint {
            close_event,
            ..self
        }
    }

    pub fn on_open(self, on_open: impl Fn() + Send + Sync + 'static) -> Self {
        Endpoint {
            on_open: Some(Box::new(on_open)),
            ..self
        }
    }

    pub fn on_close(self, on_close: impl Fn(u64) + Send + Sync + 'static) -> Self {
        Endpoint {
            on_close: Some(Arc::new(on_close)),
            ..self
        }
    }

    /// The warp filter: `GET <route>` answers with the event stream.
    pub fn into_filter(
        self,
    ) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone + Send + Sync + 'static
    {
        let shared = Arc::new(Shared::from(self));
        route(shared.route)
            .and(warp::get())
            .and(last_event_id())
            .map(move |last_event_id| shared.clone().respond(last_event_id))
    }
}

/// An endpoint's settings, shared read-only by all of its connections.
pub(crate) struct Shared<H> {
    pub(crate) route: &'static str,
    pub(crate) handler: H,
    pub(crate) period: Duration,
    pub(crate) until: Option<u64>,
    pub(crate) headers: Box<[EventHeader]>,
    pub(crate) keep_alive: Option<Duration>,
    pub(crate) retry_frame: Option<Bytes>,
    pub(crate) close_frame: Option<Bytes>,
    pub(crate) on_open: Option<Box<dyn Fn() + Send + Sync>>,
    pub(crate) on_close: Option<OnClose>,
}

impl<H> From<Endpoint<H>> for Shared<H> {
    fn from(endpoint: Endpoint<H>) -> Self {
        let close_frame = match (endpoint.until, endpoint.close_event) {
            (Some(last_tick), Some(name)) => {
                let last = last_tick.to_string();
                Some(encode_events(
                    &[EventHeader::new(name)],
                    None,
                    Payload::Json(last.as_bytes()),
                ))
            }
            _ => None,
        };
        Shared {
            route: endpoint.route,
            handler: endpoint.handler,
            period: endpoint.period,
            until: endpoint.until,
            headers: endpoint
                .events
                .iter()
                .map(|name| EventHeader::new(name))
                .collect(),
            keep_alive: endpoint.keep_alive,
            retry_frame: endpoint.retry.map(|retry| encode_retry(retry.as_millis())),
            close_frame,
            on_open: endpoint.on_open,
            on_close: endpoint.on_close,
        }
    }
}

impl<H: TickHandler> Shared<H> {
    pub(crate) fn frame_tick(&self, tick: u64) -> Result<Bytes, TickError> {
        let mut digits = [0; 20];
        self.handler
            .frame(tick, &self.headers, Some(format_u64(&mut digits, tick)))
    }

    fn respond(self: Arc<Self>, last_event_id: LastEventId) -> Response {
        let from = match last_event_id {
            LastEventId::Absent => 0,
            LastEventId::Tick(tick) => tick,
            LastEventId::Invalid => {
                tracing::warn!(
                    route = self.route,
                    "Last-Event-ID is not a decimal u64; starting from tick 1"
                );
                0
            }
        };
        if self.until.is_some_and(|last| from >= last) {
            // The stream already ended for this client; 204 tells EventSource to stop for good.
            return StatusCode::NO_CONTENT.into_response();
        }
        if let Some(on_open) = &self.on_open {
            if catch_unwind(AssertUnwindSafe(on_open)).is_err() {
                tracing::error!(route = self.route, "on_open panicked; stream not started");
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            }
        }
        let mut response = warp::reply::stream(TickStream::new(self, from)).into_response();
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        // nginx and similar proxies buffer responses by default, which would hold events back.
        headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
        response
    }
}

/// Formats `value` in decimal into `buf` (20 digits hold any `u64`) without allocating.
fn format_u64(buf: &mut [u8; 20], mut value: u64) -> &str {
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
