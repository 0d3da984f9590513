//! `on_close` exactly once per connection, however the connection ends.
//!
//! The guard lives inside the response body. hyper drops the body when the stream ends, when the
//! client goes away (it notices EOF even while the body is idle) and when the server's runtime
//! shuts down, so `Drop` is the one place that sees every ending.

use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::clients::ClientSlot;
use crate::hooks::CloseHook;

/// Runs `on_close` once, with the count of events sent, when the stream ends or is dropped; and
/// frees the connection's place in the endpoint's client count.
pub(crate) struct CloseGuard {
    on_close: Option<CloseHook>,
    sent: u64,
    route: &'static str,
    slot: Option<ClientSlot>,
}

impl CloseGuard {
    pub(crate) fn new(
        on_close: Option<CloseHook>,
        route: &'static str,
        sent: u64,
        slot: ClientSlot,
    ) -> Self {
        tracing::debug!(route, "stream opened");
        CloseGuard {
            on_close,
            sent,
            route,
            slot: Some(slot),
        }
    }

    /// Records how far the stream got: the tick number, or the count of events sent.
    pub(crate) fn sent(&mut self, sent: u64) {
        self.sent = sent;
    }

    pub(crate) fn count(&self) -> u64 {
        self.sent
    }

    /// Runs `on_close(sent)` unless it already ran. A panic inside it is logged and stays
    /// inside this connection: it never unwinds into hyper or aborts a drop in progress.
    pub(crate) fn close(&mut self, reason: &'static str) {
        if let Some(slot) = self.slot.take() {
            tracing::debug!(
                route = self.route,
                sent = self.sent,
                reason,
                "stream closed"
            );
            drop(slot);
        }
        if let Some(on_close) = self.on_close.take() {
            let sent = self.sent;
            if catch_unwind(AssertUnwindSafe(|| on_close(sent))).is_err() {
                tracing::error!(route = self.route, sent, "on_close panicked");
            }
        }
    }
}

impl Drop for CloseGuard {
    fn drop(&mut self) {
        // Every deliberate ending calls `close` first; reaching here with work left means hyper
        // dropped the body: the client went away or the server is shutting down.
        self.close("client gone or server stopped");
    }
}
