//! The write timeout on a connection's socket.
//!
//! A client that stops reading fills the kernel's buffers, then hyper's; from then on hyper
//! stops polling the response body, so nothing in the body can notice. The timeout therefore
//! lives on the socket: a write that makes no progress for the endpoint's `write_timeout` fails,
//! hyper drops the connection, and the stream's `on_close` runs.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::rt::{Read, ReadBufCursor, Write};
use tokio::time::Sleep;

/// A connection's write timeout, set by the endpoint that answers on it (0: none), and whether
/// it fired.
#[derive(Debug, Clone, Default)]
pub(crate) struct WriteTimeout(Arc<Limit>);

#[derive(Debug, Default)]
struct Limit {
    nanos: AtomicU64,
    fired: AtomicBool,
}

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

    /// The inner write made progress (or failed): the stall, if any, is over.
    fn progressed<R>(&mut self, result: R) -> Poll<R> {
        self.stalled = None;
        Poll::Ready(result)
    }

    /// The inner write is pending: times the stall, and fails it once it lasted too long.
    fn pending<R>(&mut self, cx: &mut Context<'_>, timed_out: impl FnOnce() -> R) -> Poll<R> {
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
            Poll::Ready(result) => this.progressed(result),
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
            Poll::Ready(result) => this.progressed(result),
            Poll::Pending => this.pending(cx, || Err(timed_out())),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_flush(cx) {
            Poll::Ready(result) => this.progressed(result),
            Poll::Pending => this.pending(cx, || Err(timed_out())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
