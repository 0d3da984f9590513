//! An endpoint as the macro declares it, and the warp filter it becomes.
//!
//! The expansion calls [`Endpoint::new`], one setter per clause, then the source (`ticks`,
//! `stream` or `hub`) with the route's filter, then the handler. Each step fixes a type the next
//! closure needs, so closures in the user's clauses infer their argument types.

use std::convert::Infallible;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::Stream;
use warp::http::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER};
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use crate::body::{EventBody, Exclusive, SourceItem};
use crate::clients::Clients;
use crate::close::{CloseGuard, OnClose};
use crate::frame::{encode_retry, EventHeader};
use crate::hub::{Hub, HubSource, OnLag, TransportFuture};
use crate::last_event_id::{last_event_id, Invalid, LastEventId};
use crate::render::{Format, Later, Now, Render};
use crate::serve::WriteTimeout;
use crate::shutdown::Shutdown;
use crate::stream_source::{StreamSource, UntilItem};
use crate::ticks::TickSource;

/// The keep-alive period when the DSL does not name one.
pub const DEFAULT_KEEP_ALIVE: Duration = Duration::from_secs(15);
/// How long a connection's writes may stall (a client that stopped reading) before
/// [`serve`](crate::serve()) closes it, unless a `write_timeout` clause says otherwise.
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// How many events a hub client may be behind before `on_lag` applies, when `buffer` is not given.
pub const DEFAULT_BUFFER: usize = 256;

/// What `event_stream!` builds: each clause sets one field, then a source, then the handler.
///
/// Hidden from the docs: the macro is the interface; this is the runtime it calls.
#[doc(hidden)]
pub struct Endpoint {
    settings: Settings,
}

/// An endpoint's settings, shared read-only by all of its connections.
pub(crate) struct Settings {
    pub(crate) route: &'static str,
    pub(crate) period: Duration,
    pub(crate) until: Option<u64>,
    pub(crate) headers: Arc<[EventHeader]>,
    pub(crate) keep_alive: Option<Duration>,
    pub(crate) write_timeout: Option<Duration>,
    pub(crate) retry_frame: Option<Bytes>,
    pub(crate) close_event: Option<&'static str>,
    pub(crate) on_open: Option<Box<dyn Fn() + Send + Sync>>,
    pub(crate) on_close: Option<OnClose>,
    pub(crate) buffer: usize,
    pub(crate) on_lag: OnLag,
    pub(crate) max_clients: Option<usize>,
    pub(crate) clients: Clients,
    pub(crate) shutdown: Shutdown,
}

impl Endpoint {
    /// `route` is the declared path, as logs name the endpoint.
    pub fn new(route: &'static str) -> Self {
        Endpoint {
            settings: Settings {
                route,
                period: Duration::from_secs(1),
                until: None,
                headers: Arc::new([EventHeader::new("message")]),
                keep_alive: Some(DEFAULT_KEEP_ALIVE),
                write_timeout: Some(DEFAULT_WRITE_TIMEOUT),
                retry_frame: None,
                close_event: Some("close"),
                on_open: None,
                on_close: None,
                buffer: DEFAULT_BUFFER,
                on_lag: OnLag::Skip,
                max_clients: None,
                clients: Clients::new(),
                shutdown: Shutdown::global().clone(),
            },
        }
    }

    fn with(mut self, set: impl FnOnce(&mut Settings)) -> Self {
        set(&mut self.settings);
        self
    }

    pub fn every(self, period: Duration) -> Self {
        self.with(|s| s.period = period)
    }

    pub fn until(self, last: u64) -> Self {
        self.with(|s| s.until = Some(last))
    }

    pub fn events(self, names: &'static [&'static str]) -> Self {
        self.with(|s| s.headers = names.iter().map(|name| EventHeader::new(name)).collect())
    }

    pub fn keep_alive(self, every: Option<Duration>) -> Self {
        self.with(|s| s.keep_alive = every)
    }

    pub fn write_timeout(self, limit: Option<Duration>) -> Self {
        self.with(|s| s.write_timeout = limit)
    }

    pub fn retry(self, delay: Duration) -> Self {
        self.with(|s| s.retry_frame = Some(encode_retry(delay.as_millis())))
    }

    pub fn close_event(self, name: Option<&'static str>) -> Self {
        self.with(|s| s.close_event = name)
    }

    pub fn on_open(self, on_open: impl Fn() + Send + Sync + 'static) -> Self {
        self.with(|s| s.on_open = Some(Box::new(on_open)))
    }

    pub fn on_close(self, on_close: impl Fn(u64) + Send + Sync + 'static) -> Self {
        self.with(|s| s.on_close = Some(Arc::new(on_close)))
    }

    pub fn buffer(self, events: usize) -> Self {
        self.with(|s| s.buffer = events)
    }

    pub fn on_lag(self, policy: OnLag) -> Self {
        self.with(|s| s.on_lag = policy)
    }

    pub fn max_clients(self, limit: usize) -> Self {
        self.with(|s| s.max_clients = Some(limit))
    }

    pub fn clients(self, clients: Clients) -> Self {
        self.with(|s| s.clients = clients)
    }

    pub fn shutdown(self, shutdown: Shutdown) -> Self {
        self.with(|s| s.shutdown = shutdown)
    }

    /// The `every` source, on requests that `filter` (route, then `with`) accepts.
    pub fn ticks<Fl>(self, filter: Fl) -> Ticks<Fl> {
        Ticks {
            settings: self.settings,
            filter,
        }
    }

    /// The `from <stream>` source: `source` builds each connection's stream from its context.
    pub fn stream<Fl, C, S, St>(self, filter: Fl, source: S) -> Streams<Fl, S, St::Item>
    where
        Fl: Filter<Extract = (C,), Error = Rejection>,
        S: Fn(C) -> St,
        St: Stream,
    {
        Streams {
            settings: self.settings,
            filter,
            source,
            until_item: None,
        }
    }

    /// The `from hub(hub, topic)` source: `topic` names each connection's topic from its context.
    pub fn hub<Fl, C, T, Tp, Topic>(
        self,
        filter: Fl,
        hub: Hub<T>,
        topic: Tp,
    ) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone + Send + Sync + 'static
    where
        Fl: Filter<Extract = (C,), Error = Rejection> + Clone + Send + Sync + 'static,
        C: Send + 'static,
        T: 'static,
        Tp: Fn(C) -> Topic + Send + Sync + 'static,
        Topic: AsRef<str>,
    {
        let settings = Arc::new(self.settings);
        let open = Arc::new(move |settings: &Settings, ctx: C, last: &LastEventId| {
            let topic = topic(ctx);
            let after = last
                .position(|id| hub.parse_id(id))
                .unwrap_or_else(|Invalid| {
                    warn_invalid(settings, "is not an id of this hub's transport");
                    None
                });
            let subscribing = hub.subscribe(topic.as_ref(), after);
            let (buffer, on_lag, route) = (settings.buffer, settings.on_lag, settings.route);
            TransportFuture::new(async move {
                match subscribing.await {
                    Ok(subscription) => {
                        Ok((HubSource::new(subscription, buffer, on_lag, route), 0))
                    }
                    Err(error) => {
                        tracing::warn!(route, %error, "hub subscription failed; the client will retry");
                        Err(Refusal::RetryLater)
                    }
                }
            })
        });
        serve(settings, filter, open)
    }
}

/// An endpoint with the `every` source, waiting for its handler.
#[doc(hidden)]
pub struct Ticks<Fl> {
    settings: Settings,
    filter: Fl,
}

impl<Fl, C> Ticks<Fl>
where
    Fl: Filter<Extract = (C,), Error = Rejection> + Clone + Send + Sync + 'static,
    C: Send + Unpin + 'static,
{
    /// `=> |i| value`.
    pub fn render<F, V, M>(
        self,
        format: M,
        handler: F,
    ) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone + Send + Sync + 'static
    where
        F: Fn(&C, u64) -> V + Send + Sync + 'static,
        M: Format<V>,
    {
        self.serve(Now::new(handler, format))
    }

    /// `=> async |i| value`.
    pub fn render_async<F, Fut, M>(
        self,
        format: M,
        handler: F,
    ) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone + Send + Sync + 'static
    where
        F: Fn(&C, u64) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future + Send + 'static,
        M: Format<Fut::Output>,
    {
        self.serve(Later::new(handler, format))
    }

    fn serve<R: Render<C, u64>>(
        self,
        render: R,
    ) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone + Send + Sync + 'static {
        let render = Arc::new(render);
        let open = Arc::new(move |settings: &Settings, ctx: C, last: &LastEventId| {
            let from = last.tick().unwrap_or_else(|Invalid| {
                warn_invalid(settings, "is not a decimal u64");
                None
            });
            let from = from.unwrap_or(0);
            if settings.until.is_some_and(|last| from >= last) {
                // The stream already ended for this client; 204 tells EventSource to stop for good.
                return TransportFuture::ready(Err(Refusal::Status(StatusCode::NO_CONTENT)));
            }
            let source = TickSource::new(
                ctx,
                render.clone(),
                settings.headers.clone(),
                settings.route,
                settings.period,
                from,
                settings.until,
            );
            TransportFuture::ready(Ok((source, from)))
        });
        serve(Arc::new(self.settings), self.filter, open)
    }
}

/// An endpoint with a `from <stream>` source, waiting for its handler.
#[doc(hidden)]
pub struct Streams<Fl, S, T> {
    settings: Settings,
    filter: Fl,
    source: S,
    until_item: Option<UntilItem<T>>,
}

impl<Fl, C, S, St> Streams<Fl, S, St::Item>
where
    Fl: Filter<Extract = (C,), Error = Rejection> + Clone + Send + Sync + 'static,
    C: Clone + Send + Unpin + 'static,
    S: Fn(C) -> St + Send + Sync + 'static,
    St: Stream + Send + 'static,
    St::Item: 'static,
{
    /// `until |item| ...`: the first item it accepts is the last one sent.
    pub fn until_item(self, until: impl Fn(&St::Item) -> bool + Send + Sync + 'static) -> Self {
        Streams {
            until_item: Some(Arc::new(until)),
            ..self
        }
    }

    /// `=> |item| value`, or the item itself when no handler is given.
    pub fn render<F, V, M>(
        self,
        format: M,
        handler: F,
    ) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone + Send + Sync + 'static
    where
        F: Fn(&C, St::Item) -> V + Send + Sync + 'static,
        M: Format<V>,
    {
        self.serve(Now::new(handler, format))
    }

    /// `=> async |item| value`.
    pub fn render_async<F, Fut, M>(
        self,
        format: M,
        handler: F,
    ) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone + Send + Sync + 'static
    where
        F: Fn(&C, St::Item) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future + Send + 'static,
        M: Format<Fut::Output>,
    {
        self.serve(Later::new(handler, format))
    }

    fn serve<R: Render<C, St::Item>>(
        self,
        render: R,
    ) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone + Send + Sync + 'static {
        let render = Arc::new(render);
        let (source, until_item) = (self.source, self.until_item);
        let open = Arc::new(move |settings: &Settings, ctx: C, _last: &LastEventId| {
            let stream = source(ctx.clone());
            let source = StreamSource::new(
                stream,
                ctx,
                render.clone(),
                settings.headers.clone(),
                settings.route,
                settings.until,
                until_item.clone(),
            );
            TransportFuture::ready(Ok((source, 0)))
        });
        serve(Arc::new(self.settings), self.filter, open)
    }
}

/// Why a connection gets no stream.
enum Refusal {
    /// An early answer (`204`: the stream already ended for this client).
    Status(StatusCode),
    /// The source is not available now (a broker is down): an empty stream, which a browser
    /// retries with the same `Last-Event-ID`.
    RetryLater,
}

/// One connection's source and the count it starts from, or a refusal.
type Opened<S> = Result<(S, u64), Refusal>;

/// Opens one connection's source. It returns at once for in-process sources; a hub over a
/// broker subscribes first.
type Open<C, S> = dyn Fn(&Settings, C, &LastEventId) -> TransportFuture<Opened<S>> + Send + Sync;

/// `filter`, then `GET`, then the event stream.
fn serve<Fl, C, S>(
    settings: Arc<Settings>,
    filter: Fl,
    open: Arc<Open<C, S>>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone + Send + Sync + 'static
where
    Fl: Filter<Extract = (C,), Error = Rejection> + Clone + Send + Sync + 'static,
    C: Send + 'static,
    S: Stream<Item = SourceItem> + Unpin + Send + 'static,
{
    filter
        .and(warp::get())
        .and(last_event_id())
        .and(warp::ext::optional::<WriteTimeout>())
        .and_then(
            move |ctx: C, last: LastEventId, connection: Option<WriteTimeout>| {
                if let Some(connection) = connection {
                    connection.set(settings.write_timeout);
                }
                respond(settings.clone(), open.clone(), ctx, last)
            },
        )
}

async fn respond<C, S>(
    settings: Arc<Settings>,
    open: Arc<Open<C, S>>,
    ctx: C,
    last: LastEventId,
) -> Result<Response, Infallible>
where
    S: Stream<Item = SourceItem> + Unpin + Send + 'static,
{
    if settings.shutdown.is_triggered() {
        return Ok(unavailable(&settings, "server shutting down"));
    }
    let Some(slot) = settings.clients.join(settings.max_clients) else {
        return Ok(unavailable(&settings, "max_clients reached"));
    };
    let (source, from) = match open(&settings, ctx, &last).await {
        Ok(opened) => opened,
        Err(Refusal::Status(status)) => return Ok(status.into_response()),
        Err(Refusal::RetryLater) => return Ok(event_stream(Response::default())),
    };
    if let Some(on_open) = &settings.on_open {
        if catch_unwind(AssertUnwindSafe(on_open)).is_err() {
            tracing::error!(
                route = settings.route,
                "on_open panicked; stream not started"
            );
            return Ok(StatusCode::INTERNAL_SERVER_ERROR.into_response());
        }
    }
    let guard = CloseGuard::new(settings.on_close.clone(), settings.route, from, slot);
    let body = EventBody::new(source, settings.clone(), guard);
    Ok(event_stream(
        warp::reply::stream(Exclusive(body)).into_response(),
    ))
}

/// `response` as a `text/event-stream`.
fn event_stream(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // nginx and similar proxies buffer responses by default, which would hold events back.
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

fn warn_invalid(settings: &Settings, why: &'static str) {
    tracing::warn!(
        route = settings.route,
        "Last-Event-ID {why}; starting as for a new client"
    );
}

/// `503 Service Unavailable` with `retry-after`, which `EventSource` treats as fatal but a
/// script (or a proxy) can honour.
fn unavailable(settings: &Settings, reason: &'static str) -> Response {
    tracing::warn!(route = settings.route, reason, "stream refused");
    let mut response =
        warp::reply::with_status(reason, StatusCode::SERVICE_UNAVAILABLE).into_response();
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from_static("5"));
    response
}
