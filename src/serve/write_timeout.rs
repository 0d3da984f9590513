//! The write timeout on a connection's socket, and the stall that HTTP/1 bodies wait out.
//!
//! A client that stops reading fills the kernel's buffers, then hyper's; from then on hyper
//! stops polling the response body, so nothing in the body can notice. The timeout therefore
//! lives on the socket: a write that makes no progress for the endpoint's `write_timeout` fails,
//! hyper drops the connection, and the stream's `on_close` runs.
//!
//! hyper's buffer would take up to its limit (64 KiB under `serve`, about 400 KiB by default) of
//! a stalled HTTP/1 connection's frames before it stopped asking the body for more: frames the
//! hub's ring already holds once for every subscriber. So an event stream's body asks [`WriteTimeout::stalled`] before it reads its
//! source, and waits while the socket is full; the write that gets through wakes it.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::rt::{Read, ReadBufCursor, Write};
use tokio::time::Sleep;

/// A connection's write timeout, set by the endpoint that answers on it (0: none), whether it
/// fired, and whether the socket is full now.
#[derive(Debug, Clone, Default)]
pub(crate) struct WriteTimeout(Arc<Limit>);

#[derive(Debug, Default)]
struct Limit {
    nanos: AtomicU64,
    fired: AtomicBool,
    /// The connection speaks HTTP/1, whose bodies hyper polls from the connection's own task.
    http1: AtomicBool,
    /// `FLOWING`, `STALLED` or `WAITED_ON`.
    stall: AtomicU8,
}

/// The socket took the last write.
const FLOWING: u8 = 0;
/// The last write found the socket full.
const STALLED: u8 = 1;
/// As `STALLED`, and a body waits for the next write that gets through to wake it.
const WAITED_ON: u8 = 2;

impl WriteTimeout {
    pub(crate) fn set(&self, limit: Option<Duration>) {
        let nanos = limit.map_or(0, |limit| limit.as_nanos().clamp(1, u64::MAX.into()) as u64);
        self.0.nanos.store(nanos, Ordering::Relaxed);
    }

    fn get(&self) -> Option<Duration> {
        match self.0.nanos.load(Ordering::Relaxed) {
            0 => None,
            nanos => Some(Duration::from_nanos(nanos)),
        }
    }

    /// Whether the connection was closed because a write stalled for the limit.
    pub(crate) fn fired(&self) -> bool {
        self.0.fired.load(Ordering::Relaxed)
    }

    /// Notes that the connection speaks HTTP/1 (`serve` sees each request's version).
    pub(crate) fn serves_http1(&self) {
        self.0.http1.store(true, Ordering::Relaxed);
    }

    /// Whether the connection speaks HTTP/1 and its socket is full; if so, the next write that
    /// gets through wakes the task that drives the connection. Over HTTP/1 that task polls the
    /// body too, so a body that waits while this says so is polled again once the socket
    /// drains. Always `false` over HTTP/2, where a stream's body runs in a task of its own (and
    /// h2's flow control bounds what it queues).
    pub(crate) fn stalled(&self) -> bool {
        let stall = &self.0.stall;
        self.0.http1.load(Ordering::Relaxed)
            && stall.load(Ordering::Relaxed) != FLOWING
            && stall
                .compare_exchange(STALLED, WAITED_ON, Ordering::Relaxed, Ordering::Relaxed)
                .map_or_else(|now| now == WAITED_ON, |_| true)
    }
}

/// The socket, with writes that fail once they have made no progress for the timeout.
pub(crate) struct TimedIo<T> {
    inner: T,
    limit: WriteTimeout,
    /// Armed when a write first finds the socket full; dropped on the next progress.
    stalled: Option<Pin<Box<Sleep>>>,
}

impl<T> TimedIo<T> {
    pub(crate) fn new(inner: T, limit: WriteTimeout) -> Self {
        TimedIo {
            inner,
            limit,
            stalled: None,
        }
    }

    /// The inner write made progress (or failed): the stall, if any, is over, and a body that
    /// waited it out is polled again. (hyper's dispatcher also polls the body again after a
    /// flush that completes; the wake keeps the body from depending on that.)
    fn progressed<R>(&mut self, cx: &mut Context<'_>, result: R) -> Poll<R> {
        self.stalled = None;
        let stall = &self.limit.0.stall;
        if stall.load(Ordering::Relaxed) != FLOWING
            && stall.swap(FLOWING, Ordering::Relaxed) == WAITED_ON
        {
            cx.waker().wake_by_ref();
        }
        Poll::Ready(result)
    }

    /// The inner write is pending: notes the stall for the body, times it, and fails it once
    /// it lasted too long.
    fn pending<R>(&mut self, cx: &mut Context<'_>, timed_out: impl FnOnce() -> R) -> Poll<R> {
        let stall = &self.limit.0.stall;
        if stall.load(Ordering::Relaxed) == FLOWING {
            stall.store(STALLED, Ordering::Relaxed);
        }
        let Some(limit) = self.limit.get() else {
            return Poll::Pending;
        };
        let stall = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match stall.as_mut().poll(cx) {
            Poll::Ready(()) => {
                tracing::warn!(
                    limit_seconds = limit.as_secs_f64(),
                    "write timed out; closing the connection"
                );
                self.limit.0.fired.store(true, Ordering::Relaxed);
                Poll::Ready(timed_out())
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

fn timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "write timed out")
}

impl<T: Read + Unpin> Read for TimedIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<T: Write + Unpin> Write for TimedIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_write(cx, buf) {
            Poll::Ready(result) => this.progressed(cx, result),
            Poll::Pending => this.pending(cx, || Err(timed_out())),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_write_vectored(cx, bufs) {
            Poll::Ready(result) => this.progressed(cx, result),
            Poll::Pending => this.pending(cx, || Err(timed_out())),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_flush(cx) {
            Poll::Ready(result) => this.progressed(cx, result),
            Poll::Pending => this.pending(cx, || Err(timed_out())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
