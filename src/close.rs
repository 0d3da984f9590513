//! `on_close` exactly once per connection, however the connection ends; and what the operator
//! sees of it: the stream's span, its close reason, the endpoint's metrics.
//!
//! The guard lives inside the response body. hyper drops the body when the stream ends, when the
//! client goes away (it notices EOF even while the body is idle) and when the server's runtime
//! shuts down, so the body's `Drop` is the one place that sees every ending: it calls
//! [`CloseGuard::dropped`].

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::time::Instant;

use crate::clients::ClientSlot;
use crate::hooks::CloseHook;
use crate::metrics::{self, CloseReason, Reconnect};
use crate::serve::{StreamClock, WriteTimeout};
use crate::settings::Settings;
use crate::shutdown::Shutdown;

/// What a connection's guard needs to tell, when it is dropped, why the stream ended.
pub(crate) struct Connection {
    /// The connection's write timeout, under [`serve`](crate::serve()): it says when it fired.
    pub(crate) write_timeout: Option<WriteTimeout>,
    /// The HTTP/2 stream's own write timeout, under [`serve`](crate::serve()) over HTTP/2.
    pub(crate) stream_clock: Option<Arc<StreamClock>>,
    /// The graceful signal of the [`serve`](crate::serve()) running the connection.
    pub(crate) server_shutdown: Option<Shutdown>,
    /// The hub topic whose subscriber gauge counts this stream while it is open.
    pub(crate) topic_gauge: Option<Box<str>>,
}

/// Runs `on_close` once, with the count of events sent, when the stream ends or is dropped;
/// frees the connection's place in the endpoint's client count; records the close.
pub(crate) struct CloseGuard {
    on_close: Option<CloseHook>,
    sent: u64,
    /// Counted among the endpoint's clients, and its close not yet recorded.
    open: bool,
    opened_at: OpenedAt,
    connection: Connection,
}

/// When a stream opened, in the 8 bytes of its nanoseconds since the first stream of the
/// process did (an `Instant` is 16): every idle stream keeps one.
struct OpenedAt(u64);

impl OpenedAt {
    fn now() -> Self {
        let nanos = Instant::now()
            .saturating_duration_since(Self::origin())
            .as_nanos();
        OpenedAt(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    fn elapsed(&self) -> Duration {
        Self::origin()
            .elapsed()
            .saturating_sub(Duration::from_nanos(self.0))
    }

    fn origin() -> Instant {
        static ORIGIN: OnceLock<Instant> = OnceLock::new();
        *ORIGIN.get_or_init(Instant::now)
    }
}

impl CloseGuard {
    pub(crate) fn new(
        on_close: Option<CloseHook>,
        settings: &Settings,
        sent: u64,
        slot: ClientSlot<'_>,
        connection: Connection,
        span: &tracing::Span,
        from: Reconnect,
    ) -> Self {
        settings.metrics.opened(from);
        if let Some(topic) = &connection.topic_gauge {
            metrics::topic_subscribers(topic, 1.0);
        }
        tracing::debug!(parent: span, "stream opened");
        slot.keep();
        CloseGuard {
            on_close,
            sent,
            open: true,
            opened_at: OpenedAt::now(),
            connection,
        }
    }

    /// Records how far the stream got: the tick number, or the count of events sent.
    pub(crate) fn sent(&mut self, sent: u64) {
        self.sent = sent;
    }

    pub(crate) fn count(&self) -> u64 {
        self.sent
    }

    /// The graceful signal of the [`serve`](crate::serve()) running the connection, if any.
    pub(crate) fn server_shutdown(&self) -> Option<&Shutdown> {
        self.connection.server_shutdown.as_ref()
    }

    /// Whether the stream's HTTP/1 connection under [`serve`](crate::serve()) found its socket
    /// full at the last write, in which case the body reads nothing more of its source until a
    /// write gets through ([`WriteTimeout::stalled`]).
    pub(crate) fn socket_stalled(&self) -> bool {
        self.connection
            .write_timeout
            .as_ref()
            .is_some_and(WriteTimeout::stalled)
    }

    /// The HTTP/2 stream's write-timeout clock, which the body keeps informed.
    pub(crate) fn stream_clock(&self) -> Option<&StreamClock> {
        self.connection.stream_clock.as_deref()
    }

    /// Runs `on_close(sent)` unless it already ran. A panic inside it is logged and stays
    /// inside this connection: it never unwinds into hyper or aborts a drop in progress.
    /// `span` is the stream's: the reason and the count are recorded on it.
    pub(crate) fn close(&mut self, settings: &Settings, reason: CloseReason, span: &tracing::Span) {
        if std::mem::take(&mut self.open) {
            settings.clients.leave();
            let lifetime = self.opened_at.elapsed();
            settings.metrics.closed(reason, lifetime);
            if let Some(topic) = &self.connection.topic_gauge {
                metrics::topic_subscribers(topic, -1.0);
            }
            span.record("reason", reason.label());
            span.record("events", self.sent);
            tracing::debug!(
                parent: span,
                reason = reason.label(),
                events = self.sent,
                seconds = lifetime.as_secs_f64(),
                "stream closed"
            );
        }
        if let Some(on_close) = self.on_close.take() {
            let sent = self.sent;
            if catch_unwind(AssertUnwindSafe(|| on_close(sent))).is_err() {
                tracing::error!(parent: span, route = settings.route, sent, "on_close panicked");
            }
        }
    }

    /// The body was dropped: closes the stream unless it was closed already, with the reason
    /// [`dropped_because`](CloseGuard::dropped_because) gives.
    pub(crate) fn dropped(&mut self, settings: &Settings, span: &tracing::Span) {
        if self.open || self.on_close.is_some() {
            let reason = self.dropped_because(settings);
            self.close(settings, reason, span);
        }
    }

    /// Why hyper dropped the body: the write timeout fired, a shutdown was under way (the
    /// grace period ran out, or the runtime stopped), or else the client went away.
    fn dropped_because(&self, settings: &Settings) -> CloseReason {
        let timed_out = self
            .connection
            .write_timeout
            .as_ref()
            .is_some_and(WriteTimeout::fired)
            || self
                .connection
                .stream_clock
                .as_deref()
                .is_some_and(StreamClock::fired);
        let shutting_down = settings.shutdown.is_triggered()
            || self
                .connection
                .server_shutdown
                .as_ref()
                .is_some_and(Shutdown::is_triggered);
        if timed_out {
            CloseReason::WriteTimeout
        } else if shutting_down {
            CloseReason::Shutdown
        } else {
            CloseReason::ClientLeft
        }
    }
}
