//! The write timeout on one HTTP/2 stream.
//!
//! Over HTTP/2 many streams share one socket. A reader that stops spends only its own stream's
//! flow-control window: the socket keeps moving for the other streams, so the socket's timeout
//! ([`TimedIo`](super::write_timeout::TimedIo)) never fires. hyper stops asking a stream's body
//! for frames once the stream's window is spent and a frame waits for it, so the body cannot
//! time the stall either. hyper drives each stream in a task of its own, spawned through the
//! server's executor: [`StreamExecutor`] wraps each in a [`StreamDriver`], which times the stall
//! from outside. The body marks each frame it hands over and each time it is asked for the next
//! ([`StreamClock`]); a stream that holds a frame nobody asked past for `write_timeout` is
//! dropped, which resets it (h2 sends `RST_STREAM`) and runs its `on_close`.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::{Instant, Sleep};
use tokio_util::task::TaskTracker;

thread_local! {
    /// The clock of the stream whose driver is polling on this thread, until an endpoint claims
    /// it. hyper calls the service before it spawns the stream's task, but the endpoint's
    /// response future runs inside that task: that is where the two meet.
    static OFFERED: Cell<Option<Arc<StreamClock>>> = const { Cell::new(None) };
}

/// The clock of the HTTP/2 stream being answered on this thread, if any (see the module's
/// doc). `None` over HTTP/1.1 and outside [`serve`](crate::serve()).
pub(crate) fn claim() -> Option<Arc<StreamClock>> {
    OFFERED.take()
}

/// What one stream's body tells its driver, and the driver's verdict.
#[derive(Debug, Default)]
pub(crate) struct StreamClock {
    /// The endpoint's `write_timeout` in nanoseconds; 0: none.
    limit: AtomicU64,
    /// Frames handed to hyper, times two, plus one while the last is waiting for hyper to ask
    /// for the next.
    handed: AtomicU64,
    fired: AtomicBool,
}

impl StreamClock {
    pub(crate) fn set_limit(&self, limit: Option<Duration>) {
        let nanos = limit.map_or(0, |limit| limit.as_nanos().clamp(1, u64::MAX.into()) as u64);
        self.limit.store(nanos, Ordering::Relaxed);
    }

    fn limit(&self) -> Option<Duration> {
        match self.limit.load(Ordering::Relaxed) {
            0 => None,
            nanos => Some(Duration::from_nanos(nanos)),
        }
    }

    /// hyper asks the body for its next frame: the last one was taken.
    pub(crate) fn asked(&self) {
        // Only the body writes, so a load and a store are enough (and skip the store mostly).
        let handed = self.handed.load(Ordering::Relaxed);
        if handed & 1 == 1 {
            self.handed.store(handed & !1, Ordering::Relaxed);
        }
    }

    /// The body handed hyper a frame.
    pub(crate) fn handed(&self) {
        let handed = self.handed.load(Ordering::Relaxed);
        self.handed
            .store(((handed >> 1) + 1) << 1 | 1, Ordering::Relaxed);
    }

    /// Which frame is waiting for hyper to ask past it, if one is.
    fn waiting(&self) -> Option<u64> {
        let handed = self.handed.load(Ordering::Relaxed);
        (handed & 1 == 1).then_some(handed >> 1)
    }

    /// Whether the driver reset the stream because it stalled for the limit.
    pub(crate) fn fired(&self) -> bool {
        self.fired.load(Ordering::Relaxed)
    }
}

/// hyper's executor for the server's HTTP/2 streams: each runs in a [`StreamDriver`], tracked
/// so that the server's shutdown can wait for every stream's `on_close`.
#[derive(Clone, Debug)]
pub(crate) struct StreamExecutor {
    pub(crate) streams: TaskTracker,
}

impl<F> hyper::rt::Executor<F> for StreamExecutor
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, stream: F) {
        self.streams.spawn(StreamDriver {
            stream,
            clock: Arc::default(),
            claimed: false,
            stall: None,
        });
    }
}

pin_project_lite::pin_project! {
    /// Drives one HTTP/2 stream, and drops it once it has held a frame for its write timeout.
    pub(crate) struct StreamDriver<F> {
        #[pin]
        stream: F,
        clock: Arc<StreamClock>,
        // Whether an endpoint took the clock: until then the stream is no event stream (yet).
        claimed: bool,
        // The timer of the stall under way: which frame it is timing, and when it gives up.
        stall: Option<(u64, Pin<Box<Sleep>>)>,
    }
}

/// Clears the offer however the poll ends, so that no clock outlives its driver's poll there.
struct Offer;

impl Drop for Offer {
    fn drop(&mut self) {
        OFFERED.take();
    }
}

impl<F: Future> Future for StreamDriver<F> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        let polled = if *this.claimed {
            this.stream.poll(cx)
        } else {
            OFFERED.set(Some(this.clock.clone()));
            let offer = Offer;
            let polled = this.stream.poll(cx);
            *this.claimed = OFFERED.take().is_none();
            drop(offer);
            polled
        };
        if polled.is_ready() {
            return Poll::Ready(());
        }
        if *this.claimed && stalled_for_the_limit(this.clock, this.stall, cx) {
            tracing::warn!(
                limit_seconds = this.clock.limit().unwrap_or_default().as_secs_f64(),
                "write timed out on an HTTP/2 stream; resetting it"
            );
            this.clock.fired.store(true, Ordering::Relaxed);
            // Dropping the stream resets it and drops its body, which runs `on_close`.
            return Poll::Ready(());
        }
        Poll::Pending
    }
}

/// Times the frame waiting for hyper, if any: whether it has waited for the whole limit.
fn stalled_for_the_limit(
    clock: &StreamClock,
    stall: &mut Option<(u64, Pin<Box<Sleep>>)>,
    cx: &mut Context<'_>,
) -> bool {
    let (Some(limit), Some(frame)) = (clock.limit(), clock.waiting()) else {
        return false;
    };
    match stall {
        Some((timing, timer)) if *timing == frame => timer.as_mut().poll(cx).is_ready(),
        Some((timing, timer)) => {
            *timing = frame;
            timer.as_mut().reset(Instant::now() + limit);
            timer.as_mut().poll(cx).is_ready()
        }
        None => {
            let timer = stall.insert((frame, Box::pin(tokio::time::sleep(limit))));
            timer.1.as_mut().poll(cx).is_ready()
        }
    }
}
