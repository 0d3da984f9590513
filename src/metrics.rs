//! What the crate records for operators, through the [`metrics`](https://docs.rs/metrics) facade
//! (cargo feature `metrics`, on by default). The library installs no recorder: an application
//! that installs one (Prometheus, StatsD, ...) gets these; one that does not pays one check of
//! the global recorder per endpoint. `docs/operations.md` documents each name, type and label.
//!
//! Every metric is labelled with the endpoint's declared route (`route="/rooms/{room}/events"`),
//! never the requested path, so the number of series stays bounded by the number of endpoints.
//!
//! | name | type | labels | what it counts |
//! |---|---|---|---|
//! | `sse_streams_open` | gauge | `route` | streams open now |
//! | `sse_streams_opened_total` | counter | `route` | streams started |
//! | `sse_streams_closed_total` | counter | `route`, `reason` | streams ended, by [`CloseReason`] |
//! | `sse_stream_duration_seconds` | histogram | `route` | how long each stream was open |
//! | `sse_events_sent_total` | counter | `route` | ticks, items and hub events written |
//! | `sse_bytes_sent_total` | counter | `route` | bytes of events, comments and close events written |
//! | `sse_keep_alives_total` | counter | `route` | keep-alive comments written |
//! | `sse_requests_refused_total` | counter | `route`, `status`, `reason` | requests that got no stream, by [`Refusal`] |
//! | `sse_reconnects_total` | counter | `route`, `outcome` | stream starts, by what their `Last-Event-ID` gave: [`Reconnect`] |
//! | `sse_hub_events_dropped_total` | counter | `route` | hub events skipped for lagging clients |
//! | `sse_hub_events_published_total` | counter | | events hubs stored |
//! | `sse_hub_publish_errors_total` | counter | `reason` | publishes that failed: `serialize`, `event_name`, `transport` |
//! | `sse_hub_subscribers` | gauge | `topic` | a topic's subscribers on this server, only for hubs that opt in |

#[cfg(feature = "metrics")]
use std::sync::OnceLock;
use std::time::Duration;

/// Why a stream ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CloseReason {
    /// Its source ended, or it reached `until`.
    Ended,
    /// The client went away (or the runtime dropped the connection).
    ClientLeft,
    /// A graceful shutdown ended it.
    Shutdown,
    /// A hub client fell behind under `on_lag disconnect`.
    Lagged,
    /// Its writes stalled for `write_timeout`.
    WriteTimeout,
    /// Its handler or source panicked.
    Panic,
}

impl CloseReason {
    #[cfg(feature = "metrics")]
    const ALL: [CloseReason; 6] = [
        CloseReason::Ended,
        CloseReason::ClientLeft,
        CloseReason::Shutdown,
        CloseReason::Lagged,
        CloseReason::WriteTimeout,
        CloseReason::Panic,
    ];

    /// The label value, and the `reason` field of the stream's span.
    pub(crate) fn label(self) -> &'static str {
        match self {
            CloseReason::Ended => "ended",
            CloseReason::ClientLeft => "client_left",
            CloseReason::Shutdown => "shutdown",
            CloseReason::Lagged => "lagged",
            CloseReason::WriteTimeout => "write_timeout",
            CloseReason::Panic => "panic",
        }
    }
}

/// Why a request got no stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// `204`: the stream had already ended for this client.
    Finished,
    /// `503`: `max_clients` streams are open.
    MaxClients,
    /// `503`: the server is shutting down.
    Shutdown,
    /// `200` with an empty stream, which a browser retries: the hub's broker is unreachable.
    SourceUnavailable,
}

#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
impl Refusal {
    const ALL: [Refusal; 4] = [
        Refusal::Finished,
        Refusal::MaxClients,
        Refusal::Shutdown,
        Refusal::SourceUnavailable,
    ];

    fn labels(self) -> (&'static str, &'static str) {
        match self {
            Refusal::Finished => ("204", "finished"),
            Refusal::MaxClients => ("503", "max_clients"),
            Refusal::Shutdown => ("503", "shutdown"),
            Refusal::SourceUnavailable => ("200", "source_unavailable"),
        }
    }
}

/// What a stream started from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reconnect {
    /// Its `Last-Event-ID` was a position the source resumed from.
    Resumed,
    /// Its `Last-Event-ID` was behind what a hub keeps: it was sent `reset`.
    Reset,
    /// No usable `Last-Event-ID` (a new client, or an id the source cannot resume from).
    None,
}

#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
impl Reconnect {
    const ALL: [Reconnect; 3] = [Reconnect::Resumed, Reconnect::Reset, Reconnect::None];

    fn label(self) -> &'static str {
        match self {
            Reconnect::Resumed => "resumed",
            Reconnect::Reset => "reset",
            Reconnect::None => "none",
        }
    }
}

/// One endpoint's metrics. The handles are made at the endpoint's first request, so install the
/// recorder before serving.
pub(crate) struct EndpointMetrics {
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    route: &'static str,
    #[cfg(feature = "metrics")]
    handles: OnceLock<Handles>,
}

#[cfg(feature = "metrics")]
struct Handles {
    open: metrics::Gauge,
    opened: metrics::Counter,
    closed: [metrics::Counter; CloseReason::ALL.len()],
    lifetime: metrics::Histogram,
    events: metrics::Counter,
    bytes: metrics::Counter,
    keep_alives: metrics::Counter,
    refused: [metrics::Counter; Refusal::ALL.len()],
    reconnects: [metrics::Counter; Reconnect::ALL.len()],
    dropped: metrics::Counter,
}

impl EndpointMetrics {
    pub(crate) fn new(route: &'static str) -> Self {
        EndpointMetrics {
            route,
            #[cfg(feature = "metrics")]
            handles: OnceLock::new(),
        }
    }

    #[cfg(feature = "metrics")]
    fn handles(&self) -> &Handles {
        self.handles.get_or_init(|| {
            let route = self.route;
            Handles {
                open: metrics::gauge!("sse_streams_open", "route" => route),
                opened: metrics::counter!("sse_streams_opened_total", "route" => route),
                closed: CloseReason::ALL.map(|reason| {
                    metrics::counter!("sse_streams_closed_total", "route" => route, "reason" => reason.label())
                }),
                lifetime: metrics::histogram!("sse_stream_duration_seconds", "route" => route),
                events: metrics::counter!("sse_events_sent_total", "route" => route),
                bytes: metrics::counter!("sse_bytes_sent_total", "route" => route),
                keep_alives: metrics::counter!("sse_keep_alives_total", "route" => route),
                refused: Refusal::ALL.map(|refusal| {
                    let (status, reason) = refusal.labels();
                    metrics::counter!("sse_requests_refused_total", "route" => route, "status" => status, "reason" => reason)
                }),
                reconnects: Reconnect::ALL.map(|outcome| {
                    metrics::counter!("sse_reconnects_total", "route" => route, "outcome" => outcome.label())
                }),
                dropped: metrics::counter!("sse_hub_events_dropped_total", "route" => route),
            }
        })
    }

    pub(crate) fn opened(&self, from: Reconnect) {
        #[cfg(feature = "metrics")]
        {
            let handles = self.handles();
            handles.open.increment(1.0);
            handles.opened.increment(1);
            handles.reconnects[from as usize].increment(1);
        }
        let _ = from;
    }

    pub(crate) fn closed(&self, reason: CloseReason, lifetime: Duration) {
        #[cfg(feature = "metrics")]
        {
            let handles = self.handles();
            handles.open.decrement(1.0);
            handles.closed[reason as usize].increment(1);
            handles.lifetime.record(lifetime.as_secs_f64());
        }
        let _ = (reason, lifetime);
    }

    pub(crate) fn refused(&self, refusal: Refusal) {
        #[cfg(feature = "metrics")]
        self.handles().refused[refusal as usize].increment(1);
        let _ = refusal;
    }

    /// A write of `events` events (0 for a comment or a close event) and `bytes` bytes.
    pub(crate) fn written(&self, events: u64, bytes: usize) {
        #[cfg(feature = "metrics")]
        {
            let handles = self.handles();
            if events > 0 {
                handles.events.increment(events);
            }
            handles.bytes.increment(bytes as u64);
        }
        let _ = (events, bytes);
    }

    pub(crate) fn keep_alive(&self, bytes: usize) {
        #[cfg(feature = "metrics")]
        {
            let handles = self.handles();
            handles.keep_alives.increment(1);
            handles.bytes.increment(bytes as u64);
        }
        let _ = bytes;
    }

    /// Hub events skipped for a lagging client.
    pub(crate) fn dropped(&self, missed: u64) {
        #[cfg(feature = "metrics")]
        self.handles().dropped.increment(missed);
        let _ = missed;
    }
}

/// A hub published an event, or failed to.
pub(crate) fn published(result: Result<(), &'static str>) {
    // The success counter is looked up once: publishing is a hot path.
    #[cfg(feature = "metrics")]
    static PUBLISHED: OnceLock<metrics::Counter> = OnceLock::new();
    #[cfg(feature = "metrics")]
    match result {
        Ok(()) => PUBLISHED
            .get_or_init(|| metrics::counter!("sse_hub_events_published_total"))
            .increment(1),
        Err(reason) => {
            metrics::counter!("sse_hub_publish_errors_total", "reason" => reason).increment(1)
        }
    }
    let _ = result;
}

/// A subscriber joined (`+1`) or left (`-1`) `topic`, for hubs that record subscribers per topic.
pub(crate) fn topic_subscribers(topic: &str, change: f64) {
    #[cfg(feature = "metrics")]
    metrics::gauge!("sse_hub_subscribers", "topic" => topic.to_owned()).increment(change);
    let _ = (topic, change);
}
