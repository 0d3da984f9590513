//! The `every`/`until` source: ticks `from + 1 ..= until`, one period apart, each rendered by the
//! handler (awaited in place for `async` handlers, so ticks never overlap).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use futures::Stream;
use tokio::time::{Instant, Sleep};

use crate::body::{Abort, Sent, SourceItem};
use crate::frame::EventHeader;
use crate::render::{Render, RenderError, Rendering};

type PendingFrame = Pin<Box<dyn Future<Output = Result<bytes::Bytes, RenderError>> + Send>>;

/// How late a tick may fire and still count as on time: tokio's own `Interval` uses the same
/// tolerance for its timer wheel's rounding.
const LATE: Duration = Duration::from_millis(5);

pin_project_lite::pin_project! {
    pub(crate) struct TickSource<C, R> {
        // Fires at the next tick. Pinned in the response body with the rest of the source,
        // rather than in a box of its own.
        #[pin]
        timer: Sleep,
        schedule: Schedule<C, R>,
    }
}

/// Everything of a tick source but its timer: how ticks are rendered, and which is next.
struct Schedule<C, R> {
    ctx: C,
    render: Arc<R>,
    headers: Arc<[EventHeader]>,
    route: &'static str,
    period: Duration,
    next_tick: Instant,
    tick: u64,
    until: Option<u64>,
    pending: Option<PendingFrame>,
}

impl<C, R: Render<C, u64>> TickSource<C, R> {
    /// A source whose first tick is `from + 1`, one period from now (like `setInterval`).
    pub(crate) fn new(
        ctx: C,
        render: Arc<R>,
        headers: Arc<[EventHeader]>,
        route: &'static str,
        period: Duration,
        from: u64,
        until: Option<u64>,
    ) -> Self {
        let next_tick = Instant::now() + period;
        TickSource {
            timer: tokio::time::sleep_until(next_tick),
            schedule: Schedule {
                ctx,
                render,
                headers,
                route,
                period,
                next_tick,
                tick: from,
                until,
                pending: None,
            },
        }
    }
}

impl<C, R> Schedule<C, R> {
    /// What a rendered tick means for the stream: a frame, the end of it, or nothing (skipped).
    fn rendered(&self, result: Result<bytes::Bytes, RenderError>) -> Option<SourceItem> {
        match result {
            Ok(frame) => Some(Ok(Sent {
                frame,
                count: self.tick,
            })),
            Err(RenderError::Panicked) => {
                tracing::error!(
                    route = self.route,
                    tick = self.tick,
                    "event handler panicked; ending this stream"
                );
                Some(Err(Abort::Panicked))
            }
            Err(err) => {
                tracing::error!(route = self.route, tick = self.tick, error = %err, "tick skipped");
                None
            }
        }
    }
}

impl<C, R: Render<C, u64>> Stream for TickSource<C, R> {
    type Item = SourceItem;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<SourceItem>> {
        let projected = self.project();
        let mut timer = projected.timer;
        let this = projected.schedule;
        loop {
            if let Some(pending) = &mut this.pending {
                let result = ready!(pending.as_mut().poll(cx));
                this.pending = None;
                if let Some(item) = this.rendered(result) {
                    return Poll::Ready(Some(item));
                }
            }
            if this.until.is_some_and(|last| this.tick >= last) {
                return Poll::Ready(None);
            }
            ready!(timer.as_mut().poll(cx));
            let now = Instant::now();
            let fired = this.next_tick;
            this.next_tick = if now > fired + LATE {
                // The server fell behind (a slow handler, a stalled runtime): carry on one period
                // from now instead of bursting the missed ticks.
                now + this.period
            } else {
                // On time, or late only by the timer's millisecond rounding: keep the schedule,
                // or every tick would drift by that rounding.
                fired + this.period
            };
            timer.as_mut().reset(this.next_tick);
            this.tick += 1;
            match this
                .render
                .render(&this.ctx, this.tick, Some(this.tick), &this.headers)
            {
                Rendering::Ready(result) => {
                    if let Some(item) = this.rendered(result) {
                        return Poll::Ready(Some(item));
                    }
                }
                Rendering::Pending(future) => this.pending = Some(future),
            }
        }
    }
}
