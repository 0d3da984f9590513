//! `on_close` exactly once per connection, however the connection ends.
//!
//! The guard lives inside the response body. hyper drops the body when the stream ends, when the
//! client goes away (it notices EOF even while the body is idle) and when the server's runtime
//! shuts down, so `Drop` is the one place that sees every ending.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

/// The user's `on_close` block, shared by every connection of an endpoint.
pub(crate) type OnClose = Arc<dyn Fn(u64) + Send + Sync>;

/// Runs `on_close` once, with the last tick sent, when the stream ends or is dropped.
pub(crate) struct CloseGuard {
    on_close: Option<OnClose>,
    last_tick: u64,
    route: &'static str,
}

impl CloseGuard {
    pub(crate) fn new(on_close: Option<OnClose>, route: &'static str, last_tick: u64) -> Self {
        CloseGuard {
            on_close,
            last_tick,
            route,
        }
    }

    /// Records that tick `tick` reached the body.
    pub(crate) fn sent(&mut self, tick: u64) {
        self.last_tick = tick;
    }

    /// Runs `on_close(last_tick)` unless it already ran. A panic inside it is logged and stays
    /// inside this connection: it never unwinds into hyper or aborts a drop in progress.
    pub(crate) fn close(&mut self) {
        if let Some(on_close) = self.on_close.take() {
            let last_tick = self.last_tick;
            if catch_unwind(AssertUnwindSafe(|| on_close(last_tick))).is_err() {
                tracing::error!(route = self.route, last_tick, "on_close panicked");
            }
        }
    }
}

impl Drop for CloseGuard {
    fn drop(&mut self) {
        self.close();
    }
}
