//! Keep-alive comments for all of an endpoint's streams from one timer: the endpoint's pulse.
//!
//! A timer per stream (a `tokio::time::Sleep`, 112 bytes) is the largest thing an idle stream
//! would hold. Instead, one task per endpoint ticks [`TICKS_PER_PERIOD`] times a keep-alive
//! period while the endpoint has streams, and wakes each of them through the endpoint's set of
//! stream wakers (the one its shutdown switch wakes, so a stream's one slot serves both): a
//! stream notes the tick of its last write and, when woken, writes a comment once a whole
//! period's ticks have passed since.
//!
//! So a stream is never quiet for longer than the period (the comment goes between three
//! quarters of a period and a period after the last write), an idle stream gets one comment a
//! period, and the task ends as soon as the endpoint's last stream does.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::MissedTickBehavior;

use crate::wakers::WakerSet;

/// Ticks per keep-alive period: more send the comment nearer a whole period after the last
/// write, at the price of waking every stream more often.
pub(crate) const TICKS_PER_PERIOD: u32 = 4;

/// An endpoint's keep-alive: the pulse its streams are woken by, and the tick it is at.
#[derive(Clone)]
pub(crate) struct KeepAlive {
    pulse: Arc<Pulse>,
}

struct Pulse {
    /// One period over [`TICKS_PER_PERIOD`].
    tick: Duration,
    /// Ticks since the pulse first ran (wrapping: streams only compare ticks a period apart).
    ticks: AtomicU32,
    /// Whether a task is ticking. Set by the stream that starts it; cleared by the task, under
    /// `streams`' lock when it finds no stream left, so a stream that registers then sees it
    /// cleared and starts another.
    ticking: AtomicBool,
    /// The wakers of the endpoint's streams.
    streams: Arc<WakerSet>,
    /// Tells the task that the last stream let go, so it ends now rather than at its next tick.
    left: Notify,
}

impl KeepAlive {
    /// A comment at least once every `period` of quiet, for the streams whose wakers are in
    /// `streams`.
    pub(crate) fn every(period: Duration, streams: Arc<WakerSet>) -> Self {
        KeepAlive {
            pulse: Arc::new(Pulse {
                tick: period / TICKS_PER_PERIOD,
                ticks: AtomicU32::new(0),
                ticking: AtomicBool::new(false),
                streams,
                left: Notify::new(),
            }),
        }
    }

    /// The current tick: what a stream notes when it writes.
    pub(crate) fn now(&self) -> u32 {
        self.pulse.ticks.load(Ordering::Relaxed)
    }

    /// Whether a comment is due for a stream whose last write was at tick `last_write`; if it
    /// is, the comment counts as that write.
    pub(crate) fn due(&self, last_write: &mut u32) -> bool {
        let now = self.now();
        if now.wrapping_sub(*last_write) < TICKS_PER_PERIOD {
            return false;
        }
        *last_write = now;
        true
    }

    /// Starts the ticking task if none runs: called at each poll of a stream, after it put its
    /// waker in the endpoint's set (the last task may have just ended), and since a task dies
    /// with the runtime it ran on while an endpoint's streams may be on another. One load when
    /// a task runs.
    pub(crate) fn keep_ticking(&self) {
        let pulse = &self.pulse;
        if pulse.ticking.load(Ordering::Acquire) || pulse.ticking.swap(true, Ordering::AcqRel) {
            return;
        }
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn(tick(pulse.clone()))),
            // Polled outside a runtime (hyper always polls inside one): no comments, and the
            // next poll inside one starts the task.
            Err(_) => pulse.ticking.store(false, Ordering::Release),
        }
    }

    /// The endpoint's last stream let go of its slot: the task ends now, not at its next tick.
    pub(crate) fn last_left(&self) {
        self.pulse.left.notify_one();
    }
}

/// The ticking task: while the endpoint has streams, counts a tick and wakes them all.
async fn tick(pulse: Arc<Pulse>) {
    /// Clears `ticking` if the task is dropped before it ends by itself (its runtime shut
    /// down), so that a stream polled later starts another.
    struct Dropped<'a>(Option<&'a Pulse>);
    impl Drop for Dropped<'_> {
        fn drop(&mut self) {
            if let Some(pulse) = self.0 {
                pulse.ticking.store(false, Ordering::Release);
            }
        }
    }
    let mut dropped = Dropped(Some(&pulse));
    let start = tokio::time::Instant::now() + pulse.tick;
    let mut clock = tokio::time::interval_at(start, pulse.tick);
    // A late tick (a stalled runtime) moves the next ones on rather than bursting.
    clock.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            () = pulse.left.notified() => {}
            _ = clock.tick() => {
                pulse.ticks.fetch_add(1, Ordering::Relaxed);
                pulse.streams.wake_each();
            }
        }
        let ended = pulse
            .streams
            .if_empty(|| pulse.ticking.store(false, Ordering::Release));
        if ended {
            dropped.0 = None;
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::future::poll_fn;
    use std::task::{Context, Poll};

    use super::*;
    use crate::wakers::Slot;

    /// A stream as the body is one: its waker in the set once, the task kept ticking at each
    /// poll; ready once the tick reaches `tick`.
    fn stream_at(keep_alive: &KeepAlive, slot: &mut Slot, cx: &Context<'_>, tick: u32) -> Poll<()> {
        if *slot == Slot::NONE {
            keep_alive.pulse.streams.register(slot, cx.waker());
        }
        keep_alive.keep_ticking();
        if keep_alive.now() >= tick {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }

    /// The task starts with the first stream and wakes it at every tick without taking its
    /// waker; it ends when the last stream lets go, and starts again with the next.
    #[tokio::test(start_paused = true)]
    async fn ticks_while_streams_wait_and_stops_when_the_last_leaves() {
        let keep_alive = KeepAlive::every(Duration::from_secs(4), Arc::default());
        let mut slot = Slot::NONE;
        let mut last_write = keep_alive.now();
        for tick in 1..=TICKS_PER_PERIOD {
            // Woken by the tick (the paused clock jumps to it), else this never completes.
            poll_fn(|cx| stream_at(&keep_alive, &mut slot, cx, tick)).await;
            assert_eq!(keep_alive.now(), tick);
            assert_eq!(keep_alive.due(&mut last_write), tick == TICKS_PER_PERIOD);
        }
        assert_eq!(
            last_write, TICKS_PER_PERIOD,
            "the comment counts as a write"
        );
        assert_eq!(
            Arc::strong_count(&keep_alive.pulse),
            2,
            "the task's and ours"
        );

        assert!(keep_alive.pulse.streams.release(slot));
        keep_alive.last_left();
        ran_until(|| Arc::strong_count(&keep_alive.pulse) == 1).await;
        assert!(!keep_alive.pulse.ticking.load(Ordering::Acquire));

        let mut again = Slot::NONE;
        poll_fn(|cx| stream_at(&keep_alive, &mut again, cx, TICKS_PER_PERIOD + 1)).await;
        assert!(keep_alive.pulse.streams.release(again));
        keep_alive.last_left();
        ran_until(|| Arc::strong_count(&keep_alive.pulse) == 1).await;
    }

    /// Lets the runtime's other tasks run, without moving the clock, until `done` holds.
    async fn ran_until(done: impl Fn() -> bool) {
        for _ in 0..100 {
            if done() {
                return;
            }
            tokio::task::yield_now().await;
        }
        panic!("not reached after 100 turns of the runtime");
    }
}
