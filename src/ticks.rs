//! The `every`/`until` source: one connection's stream of tick frames and keep-alive comments.
//!
//! hyper polls this stream directly as the response body, so a connection costs no task of its
//! own; one timer per connection serves both the next tick and the next keep-alive.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use futures::Stream;
use tokio::time::{Instant, Sleep};

use crate::close::CloseGuard;
use crate::endpoint::Shared;
use crate::frame::KEEP_ALIVE;
use crate::handler::{TickError, TickHandler};

/// What the stream writes next once its timer is not in the way.
enum Phase {
    /// `retry:` goes first, before the first tick.
    Preamble(Bytes),
    Ticking,
    /// `until` was reached: the close event (if any) goes out, then the body ends.
    Closing(Option<Bytes>),
    Done,
}

/// One connection's body: ticks `from + 1 ..= until`, one period apart.
pub(crate) struct TickStream<H> {
    shared: Arc<Shared<H>>,
    timer: Pin<Box<Sleep>>,
    next_tick: Instant,
    keep_alive_at: Option<Instant>,
    tick: u64,
    phase: Phase,
    guard: CloseGuard,
}

impl<H: TickHandler> TickStream<H> {
    /// A stream whose first tick is `from + 1`, one period from now (like `setInterval`).
    pub(crate) fn new(shared: Arc<Shared<H>>, from: u64) -> Self {
        let now = Instant::now();
        let next_tick = now + shared.period;
        let keep_alive_at = shared.keep_alive.map(|every| now + every);
        let phase = match &shared.retry_frame {
            Some(retry) => Phase::Preamble(retry.clone()),
            None => Phase::Ticking,
        };
        let guard = CloseGuard::new(shared.on_close.clone(), shared.route, from);
        TickStream {
            timer: Box::pin(tokio::time::sleep_until(earliest(next_tick, keep_alive_at))),
            shared,
            next_tick,
            keep_alive_at,
            tick: from,
            phase,
            guard,
        }
    }

    fn schedule_after_tick(&mut self, now: Instant) {
        self.next_tick += self.shared.period;
        if self.next_tick <= now {
            // The server fell behind (a slow handler, a stalled runtime): carry on one period
            // from now instead of bursting the missed ticks.
            self.next_tick = now + self.shared.period;
        }
    }

    fn written(&mut self, now: Instant) {
        self.keep_alive_at = self.shared.keep_alive.map(|every| now + every);
        let wake = earliest(self.next_tick, self.keep_alive_at);
        self.timer.as_mut().reset(wake);
    }
}

fn earliest(tick: Instant, keep_alive: Option<Instant>) -> Instant {
    keep_alive.map_or(tick, |at| at.min(tick))
}

impl<H: TickHandler> Stream for TickStream<H> {
    type Item = Result<Bytes, TickError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        match std::mem::replace(&mut this.phase, Phase::Ticking) {
            Phase::Ticking => {}
            Phase::Preamble(retry) => return Poll::Ready(Some(Ok(retry))),
            Phase::Closing(close_event) => {
                this.phase = Phase::Done;
                if let Some(frame) = close_event {
                    return Poll::Ready(Some(Ok(frame)));
                }
                this.guard.close();
                return Poll::Ready(None);
            }
            Phase::Done => {
                this.phase = Phase::Done;
                this.guard.close();
                return Poll::Ready(None);
            }
        }
        loop {
            ready!(this.timer.as_mut().poll(cx));
            let now = Instant::now();
            if now >= this.next_tick {
                let tick = this.tick + 1;
                this.tick = tick;
                this.schedule_after_tick(now);
                match this.shared.frame_tick(tick) {
                    Ok(frame) => {
                        this.guard.sent(tick);
                        if this.shared.until == Some(tick) {
                            this.phase = Phase::Closing(this.shared.close_frame.clone());
                        }
                        this.written(now);
                        return Poll::Ready(Some(Ok(frame)));
                    }
                    Err(TickError::Panicked) => {
                        tracing::error!(
                            route = this.shared.route,
                            tick,
                            "event handler panicked; ending this stream"
                        );
                        this.phase = Phase::Done;
                        this.guard.close();
                        return Poll::Ready(Some(Err(TickError::Panicked)));
                    }
                    Err(err) => {
                        tracing::error!(route = this.shared.route, tick, error = %err, "tick skipped");
                        if this.shared.until == Some(tick) {
                            this.phase = Phase::Closing(this.shared.close_frame.clone());
                            return Pin::new(this).poll_next(cx);
                        }
                    }
                }
            } else if this.keep_alive_at.is_some_and(|at| now >= at) {
                this.written(now);
                return Poll::Ready(Some(Ok(KEEP_ALIVE)));
            }
            let wake = earliest(this.next_tick, this.keep_alive_at);
            this.timer.as_mut().reset(wake);
        }
    }
}
