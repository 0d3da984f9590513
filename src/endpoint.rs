//! An endpoint as the macro declares it, and the warp filter it becomes.
//!
//! The expansion calls [`Endpoint::new`], one setter per clause, then the source (`ticks`,
//! `stream` or `hub`) with the route's filter, then the hooks and the handler. Each step fixes a
//! type the next closure needs, so closures in the user's clauses infer their argument types.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::Stream;
use warp::http::header::{HeaderName, HeaderValue, CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER};
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use crate::body::{EventBody, Exclusive, SourceItem};
use crate::clients::Clients;
use crate::close::{CloseGuard, Connection};
use crate::frame::{encode_retry, EventHeader};
use crate::hooks::Hooks;
use crate::hub::{Hub, HubSource, OnLag, TransportFuture};
use crate::keep_alive::KeepAlive;
use crate::last_event_id::{last_event_id, Invalid, LastEventId};
use crate::metrics::{self, Reconnect};
use crate::render::{Format, Later, Now, Render};
use crate::serve::{claim_stream_clock, PeerAddr, ServerShutdown, StreamClock, WriteTimeout};
use crate::settings::Settings;
use crate::shutdown::Shutdown;
use crate::stream_source::{StreamSource, UntilItem};
use crate::ticks::TickSource;

/// What `event_stream!` builds: each clause sets one field, then a source, then the handler.
///
/// Hidden from the docs: the macro is the interface; this is the runtime it calls.
#[doc(hidden)]
pub struct Endpoint {
    settings: Settings,
}

/// Panics, naming the clause, when a duration given as an expression is zero: the declaration
/// is wrong, and it is found when the endpoint is built, at start-up.
fn nonzero(clause: &str, duration: Duration) -> Duration {
    assert!(
        !duration.is_zero(),
        "`{clause}` must be longer than zero (it was given {duration:?})"
    );
    duration
}

impl Endpoint {
    /// `route` is the declared path, as logs name the endpoint.
    pub fn new(route: &'static str) -> Self {
        Endpoint {
            settings: Settings::new(route),
        }
    }

    fn with(mut self, set: impl FnOnce(&mut Settings)) -> Self {
        set(&mut self.settings);
        self
    }

    pub fn every(self, period: Duration) -> Self {
        let period = nonzero("every", period);
        self.with(|s| s.period = period)
    }

    pub fn until(self, last: u64) -> Self {
        self.with(|s| s.until = Some(last))
    }

    pub fn events(self, names: &'static [&'static str]) -> Self {
        self.with(|s| s.headers = names.iter().map(|name| EventHeader::new(name)).collect())
    }

    pub fn keep_alive(self, every: Option<Duration>) -> Self {
        let every = every.map(|every| nonzero("keep_alive", every));
        self.with(|s| s.keep_alive = every.map(|every| KeepAlive::every(every, s.streams.clone())))
    }

    pub fn write_timeout(self, limit: Option<Duration>) -> Self {
        let limit = limit.map(|limit| nonzero("write_timeout", limit));
        self.with(|s| s.write_timeout = limit)
    }

    pub fn retry(self, delay: Duration) -> Self {
        let delay = nonzero("retry", delay);
        self.with(|s| s.retry_frame = Some(encode_retry(delay.as_millis())))
    }

    pub fn close_event(self, name: Option<&'static str>) -> Self {
        self.with(|s| s.close_event = name)
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
    pub fn ticks<Fl, C>(self, filter: Fl) -> Ticks<Fl, C>
    where
        Fl: Filter<Extract = (C,), Error = Rejection>,
    {
        Ticks {
            settings: self.settings,
            filter,
            hooks: Hooks::default(),
        }
    }

    /// The `from <stream>` source: `source` builds each connection's stream from its context
    /// and, for a resumable stream (`from |last| ...`), the client's `Last-Event-ID`.
    pub fn stream<Fl, C, S, St>(self, filter: Fl, source: S) -> Streams<Fl, C, S, St::Item>
    where
        Fl: Filter<Extract = (C,), Error = Rejection>,
        S: Fn(C, Option<u64>) -> St,
        St: Stream,
    {
        Streams {
            settings: self.settings,
            filter,
            source,
            until_item: None,
            resumes: false,
            hooks: Hooks::default(),
        }
    }

    /// The `from hub(hub, topic)` source: `topic` names each connection's topic from its context.
    pub fn hub<Fl, C, T, Tp, Topic>(
        self,
        filter: Fl,
        hub: Hub<T>,
        topic: Tp,
    ) -> HubEndpoint<Fl, C, T, Tp>
    where
        Fl: Filter<Extract = (C,), Error = Rejection>,
        Tp: Fn(C) -> Topic,
    {
        HubEndpoint {
            settings: self.settings,
            filter,
            hub,
            topic,
            hooks: Hooks::default(),
        }
    }
}

/// `on_open` and `on_close` on a source's builder, once its context type is known.
macro_rules! hook_setters {
    () => {
        /// `on_open { ... }`, seeing the connection's context.
        pub fn on_open(mut self, on_open: impl Fn(&C) + Send + Sync + 'static) -> Self
        where
            C: Clone + Send + 'static,
        {
            self.hooks.set_on_open(on_open);
            self
        }

        /// `on_close |n| { ... }`, seeing the connection's context.
        pub fn on_close(mut self, on_close: impl Fn(&C, u64) + Send + Sync + 'static) -> Self
        where
            C: Clone + Send + 'static,
        {
            self.hooks.set_on_close(on_close);
            self
        }
    };
}

/// An endpoint with the `from hub(...)` source.
#[doc(hidden)]
pub struct HubEndpoint<Fl, C, T, Tp> {
    settings: Settings,
    filter: Fl,
    hub: Hub<T>,
    topic: Tp,
    hooks: Hooks<C>,
}

impl<Fl, C, T, Tp, Topic> HubEndpoint<Fl, C, T, Tp>
where
    Fl: Filter<Extract = (C,), Error = Rejection> + Clone + Send + Sync + 'static,
    C: Send + 'static,
    T: 'static,
    Tp: Fn(C) -> Topic + Send + Sync + 'static,
    Topic: AsRef<str>,
{
    hook_setters!();

    /// The finished endpoint.
    pub fn filter(
        self,
    ) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone + Send + Sync + 'static {
        let HubEndpoint {
            settings,
            filter,
            hub,
            topic,
            hooks,
        } = self;
        let open = Arc::new(
            move |settings: &Arc<Settings>, ctx: C, last: &LastEventId| {
                let topic = topic(ctx);
                let after = last
                    .position(|id| hub.parse_id(id))
                    .unwrap_or_else(|Invalid| {
                        warn_invalid(settings, "is not an id of this hub's transport");
                        None
                    });
                let subscribing = hub.subscribe(topic.as_ref(), after);
                let topic_gauge = hub
                    .records_topics()
                    .then(|| Box::<str>::from(topic.as_ref()));
                let settings = settings.clone();
                subscribing.map(move |subscribed| {
                    match subscribed {
                        Ok(subscription) => {
                            let reconnect = match (&subscription.reset, after) {
                                (Some(_), _) => Reconnect::Reset,
                                (None, Some(_)) => Reconnect::Resumed,
                                (None, None) => Reconnect::None,
                            };
                            let source = HubSource::new(subscription, settings);
                            let mut started = Started::new(source, 0, reconnect);
                            started.topic_gauge = topic_gauge;
                            Ok(started)
                        }
                        Err(error) => {
                            tracing::warn!(route = settings.route, %error, "hub subscription failed; the client will retry");
                            Err(NoStream::RetryLater)
                        }
                    }
                })
            },
        );
        serve(Arc::new(settings), filter, open, hooks)
    }
}

/// An endpoint with the `every` source, waiting for its handler.
#[doc(hidden)]
pub struct Ticks<Fl, C> {
    settings: Settings,
    filter: Fl,
    hooks: Hooks<C>,
}

impl<Fl, C> Ticks<Fl, C>
where
    Fl: Filter<Extract = (C,), Error = Rejection> + Clone + Send + Sync + 'static,
    C: Send + 'static,
{
    hook_setters!();

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
        let open = Arc::new(
            move |settings: &Arc<Settings>, ctx: C, last: &LastEventId| {
                let from = resume_tick(settings, last);
                let reconnect = from.map_or(Reconnect::None, |_| Reconnect::Resumed);
                let from = from.unwrap_or(0);
                if settings.until.is_some_and(|last| from >= last) {
                    // The stream already ended for this client; 204 tells EventSource to stop for good.
                    return TransportFuture::ready(Err(NoStream::Finished));
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
                TransportFuture::ready(Ok(Started::new(source, from, reconnect)))
            },
        );
        serve(Arc::new(self.settings), self.filter, open, self.hooks)
    }
}

/// An endpoint with a `from <stream>` source, waiting for its handler.
#[doc(hidden)]
pub struct Streams<Fl, C, S, T> {
    settings: Settings,
    filter: Fl,
    source: S,
    until_item: Option<UntilItem<T>>,
    /// `from |last| ...`: the stream is built from the client's position, and its items' ids
    /// continue from there.
    resumes: bool,
    hooks: Hooks<C>,
}

impl<Fl, C, S, St> Streams<Fl, C, S, St::Item>
where
    Fl: Filter<Extract = (C,), Error = Rejection> + Clone + Send + Sync + 'static,
    C: Clone + Send + 'static,
    S: Fn(C, Option<u64>) -> St + Send + Sync + 'static,
    St: Stream + Send + 'static,
    St::Item: 'static,
{
    hook_setters!();

    /// `until |item| ...`: the first item it accepts is the last one sent.
    pub fn until_item(self, until: impl Fn(&St::Item) -> bool + Send + Sync + 'static) -> Self {
        Streams {
            until_item: Some(Arc::new(until)),
            ..self
        }
    }

    /// `from |last| ...`: the source resumes after the client's `Last-Event-ID`.
    pub fn resumes(self) -> Self {
        Streams {
            resumes: true,
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
        mut self,
        render: R,
    ) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone + Send + Sync + 'static {
        let render = Arc::new(render);
        let (source, until_item, resumes) = (self.source, self.until_item, self.resumes);
        let open = Arc::new(
            move |settings: &Arc<Settings>, ctx: C, last: &LastEventId| {
                if last.is_finished() {
                    // The client saw this stream end and reconnected anyway (a page without a
                    // `close` listener): 204 tells EventSource to stop for good.
                    return TransportFuture::ready(Err(NoStream::Finished));
                }
                // A plain stream starts over on every connection; a resumable one continues after
                // the client's position.
                let from = if resumes {
                    resume_tick(settings, last)
                } else {
                    None
                };
                if settings
                    .until
                    .is_some_and(|last| from.is_some_and(|from| from >= last))
                {
                    return TransportFuture::ready(Err(NoStream::Finished));
                }
                let reconnect = from.map_or(Reconnect::None, |_| Reconnect::Resumed);
                let stream = source(ctx.clone(), from);
                let from = from.unwrap_or(0);
                let source = StreamSource::new(
                    stream,
                    ctx,
                    render.clone(),
                    settings.headers.clone(),
                    settings.route,
                    from,
                    settings.until,
                    until_item.clone(),
                );
                TransportFuture::ready(Ok(Started::new(source, from, reconnect)))
            },
        );
        self.settings.marks_its_end = true;
        serve(Arc::new(self.settings), self.filter, open, self.hooks)
    }
}

/// Why a connection gets no stream.
enum NoStream {
    /// `204`: the stream already ended for this client.
    Finished,
    /// The source is not available now (a broker is down): an empty stream, which a browser
    /// retries with the same `Last-Event-ID`.
    RetryLater,
}

/// A connection's opened source: the count it starts from, and what its `Last-Event-ID` gave.
struct Started<S> {
    source: S,
    from: u64,
    reconnect: Reconnect,
    /// The hub topic whose subscriber gauge this stream counts in, for hubs that record them.
    topic_gauge: Option<Box<str>>,
}

impl<S> Started<S> {
    fn new(source: S, from: u64, reconnect: Reconnect) -> Self {
        Started {
            source,
            from,
            reconnect,
            topic_gauge: None,
        }
    }
}

/// Opens one connection's source. It returns at once for in-process sources; a hub over a
/// broker subscribes first.
type Open<C, S> = dyn Fn(&Arc<Settings>, C, &LastEventId) -> TransportFuture<Result<Started<S>, NoStream>>
    + Send
    + Sync;

/// What `serve` learnt about the request besides its context.
struct Request {
    last: LastEventId,
    write_timeout: Option<WriteTimeout>,
    /// The HTTP/2 stream's own write timeout, when `serve` runs the request over HTTP/2.
    stream_clock: Option<Arc<StreamClock>>,
    server_shutdown: Option<Shutdown>,
    peer: Option<SocketAddr>,
}

/// `filter`, then `GET`, then the event stream.
fn serve<Fl, C, S>(
    settings: Arc<Settings>,
    filter: Fl,
    open: Arc<Open<C, S>>,
    hooks: Hooks<C>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone + Send + Sync + 'static
where
    Fl: Filter<Extract = (C,), Error = Rejection> + Clone + Send + Sync + 'static,
    C: Send + 'static,
    S: Stream<Item = SourceItem> + Send + 'static,
{
    let hooks = Arc::new(hooks);
    settings.shutdown.watch(&settings.streams);
    filter
        .and(warp::get())
        .and(last_event_id())
        .and(warp::ext::optional::<WriteTimeout>())
        .and(warp::ext::optional::<ServerShutdown>())
        .and(warp::ext::optional::<PeerAddr>())
        .and(warp::addr::remote())
        .and_then(
            move |ctx: C,
                  last: LastEventId,
                  write_timeout: Option<WriteTimeout>,
                  server: Option<ServerShutdown>,
                  peer: Option<PeerAddr>,
                  remote: Option<SocketAddr>| {
                if let Some(write_timeout) = &write_timeout {
                    write_timeout.set(settings.write_timeout);
                }
                let stream_clock = claim_stream_clock();
                if let Some(clock) = &stream_clock {
                    clock.set_limit(settings.write_timeout);
                }
                let request = Request {
                    last,
                    write_timeout,
                    stream_clock,
                    server_shutdown: server.map(|server| server.0),
                    peer: peer.map(|peer| peer.0).or(remote),
                };
                respond(settings.clone(), open.clone(), hooks.clone(), ctx, request)
            },
        )
        // Boxed whole: hyper keeps a slot the size of the service's future for the life of each
        // connection, so the filter chain's future (its extracted values, the response future)
        // would cost every idle stream; boxed, the slot holds a pointer, and the box is freed
        // once the response head is out.
        .boxed()
}

async fn respond<C, S>(
    settings: Arc<Settings>,
    open: Arc<Open<C, S>>,
    hooks: Arc<Hooks<C>>,
    ctx: C,
    request: Request,
) -> Result<Response, Infallible>
where
    S: Stream<Item = SourceItem> + Send + 'static,
{
    let metrics = &settings.metrics;
    if settings.shutdown.is_triggered()
        || request
            .server_shutdown
            .as_ref()
            .is_some_and(Shutdown::is_triggered)
    {
        metrics.refused(metrics::Refusal::Shutdown);
        return Ok(unavailable(&settings, "server shutting down"));
    }
    let Some(slot) = settings.clients.join(settings.max_clients) else {
        metrics.refused(metrics::Refusal::MaxClients);
        return Ok(unavailable(&settings, "max_clients reached"));
    };
    let mut bound = hooks.bind(&ctx);
    let started = match open(&settings, ctx, &request.last).await {
        Ok(started) => started,
        Err(NoStream::Finished) => {
            metrics.refused(metrics::Refusal::Finished);
            return Ok(StatusCode::NO_CONTENT.into_response());
        }
        Err(NoStream::RetryLater) => {
            metrics.refused(metrics::Refusal::SourceUnavailable);
            return Ok(event_stream(Response::default()));
        }
    };
    if bound.open().is_err() {
        tracing::error!(
            route = settings.route,
            "on_open panicked; stream not started"
        );
        return Ok(StatusCode::INTERNAL_SERVER_ERROR.into_response());
    }
    let span = tracing::info_span!(
        "sse_stream",
        route = settings.route,
        peer = request.peer.map(tracing::field::display),
        last_event_id = request.last.as_text(),
        reason = tracing::field::Empty,
        events = tracing::field::Empty,
    );
    let connection = Connection {
        write_timeout: request.write_timeout,
        stream_clock: request.stream_clock,
        server_shutdown: request.server_shutdown,
        topic_gauge: started.topic_gauge,
    };
    let guard = CloseGuard::new(
        bound.on_close,
        &settings,
        started.from,
        slot,
        connection,
        &span,
        started.reconnect,
    );
    let body = EventBody::new(started.source, settings.clone(), guard, span);
    Ok(event_stream(
        warp::reply::stream(Exclusive::new(body)).into_response(),
    ))
}

/// Named once: a name given as text is copied into every response's headers.
const X_ACCEL_BUFFERING: HeaderName = HeaderName::from_static("x-accel-buffering");

/// `response` as a `text/event-stream`.
fn event_stream(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // nginx and similar proxies buffer responses by default, which would hold events back.
    headers.insert(X_ACCEL_BUFFERING, HeaderValue::from_static("no"));
    response
}

/// The tick (or item number) a client resumes after; an id that is not one is logged and
/// counts as none.
fn resume_tick(settings: &Settings, last: &LastEventId) -> Option<u64> {
    last.tick().unwrap_or_else(|Invalid| {
        warn_invalid(settings, "is not a decimal u64");
        None
    })
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
