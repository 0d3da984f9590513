//! `serve`: warp's server plus the one thing only a server can do for long-lived streams, a
//! write timeout on each connection.
//!
//! A client that stops reading fills the kernel's buffers, then hyper's; from then on hyper
//! stops polling the response body, so nothing in the body can notice. The timeout therefore
//! lives on the socket: a write that makes no progress for the endpoint's `write_timeout` fails,
//! hyper drops the connection, and the stream's `on_close` runs.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::Incoming;
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper::Request;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::time::Sleep;
use warp::{Filter, Rejection, Reply};

/// Serves `filter` like `warp::serve`, and closes connections whose writes stall for longer than
/// their endpoint's `write_timeout` (default 30 s).
///
/// ```
/// use warp_eventstream::{event_stream, json, serve};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let ticks = event_stream! { route "/ticks" every 1s write_timeout 10s => |i| json!(i) };
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
/// let server = serve(ticks).graceful(async { /* tokio::signal::ctrl_c().await */ });
/// server.run(listener).await;
/// # }
/// ```
pub fn serve<F, R>(filter: F) -> Server<F, std::future::Pending<()>>
where
    F: Filter<Extract = (R,), Error = Rejection> + Clone + Send + Sync + 'static,
    R: Reply,
{
    Server {
        filter,
        signal: std::future::pending(),
    }
}

/// A server built by [`serve`]: [`graceful`](Server::graceful) optionally, then
/// [`run`](Server::run).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use warp_eventstream::{event_stream, json, serve, Server};
/// let ticks = event_stream! { route "/ticks" every 1s => |i| json!(i) };
/// let server: Server<_, _> = serve(ticks).graceful(async {});
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
/// server.run(listener).await; // the signal is already done: returns at once
/// # }
/// ```
#[derive(Debug)]
pub struct Server<F, S> {
    filter: F,
    signal: S,
}

impl<F, R, S> Server<F, S>
where
    F: Filter<Extract = (R,), Error = Rejection> + Clone + Send + Sync + 'static,
    R: Reply,
    S: Future<Output = ()> + Send,
{
    /// Stops accepting when `signal` completes, then waits for open connections to finish
    /// (pair it with [`Shutdown::on`](crate::Shutdown::on), which ends every stream).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use warp_eventstream::{event_stream, json, serve, Shutdown};
    /// let shutdown = Shutdown::new();
    /// let ticks = event_stream! { route "/ticks" every 1s shutdown shutdown.clone() => |i| json!(i) };
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    /// serve(ticks).graceful(shutdown.clone().on(async {})).run(listener).await;
    /// # }
    /// ```
    pub fn graceful<S2>(self, signal: S2) -> Server<F, S2>
    where
        S2: Future<Output = ()> + Send,
    {
        Server {
            filter: self.filter,
            signal,
        }
    }

    /// Accepts connections from `listener` until the graceful signal, if any.
    ///
    /// ```no_run
    /// # #[tokio::main]
    /// # async fn main() {
    /// use warp_eventstream::{event_stream, json, serve};
    /// let ticks = event_stream! { route "/ticks" every 1s => |i| json!(i) };
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:3030").await.unwrap();
    /// serve(ticks).run(listener).await;
    /// # }
    /// ```
    pub async fn run(self, listener: TcpListener) {
        let graceful = GracefulShutdown::new();
        let mut signal = std::pin::pin!(self.signal);
        loop {
            let (socket, _peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Out of file descriptors, say: wait a little rather than spin.
                        tracing::warn!(%error, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = &mut signal => break,
            };
            let limit = WriteTimeout::default();
            let io = TimedIo::new(TokioIo::new(socket), limit.clone());
            let service = warp::service(self.filter.clone());
            let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
                request.extensions_mut().insert(limit.clone());
                tower_service::Service::call(&mut service.clone(), request)
            });
            let connection = auto::Builder::new(TokioExecutor::new())
                .serve_connection_with_upgrades(io, service)
                .into_owned();
            let connection = graceful.watch(connection);
            tokio::spawn(async move {
                if let Err(error) = connection.await {
                    tracing::debug!(%error, "connection ended with an error");
                }
            });
        }
        drop(listener);
        graceful.shutdown().await;
    }
}

/// A connection's write timeout, set by the endpoint that answers on it (0: none).
#[derive(Debug, Clone, Default)]
pub(crate) struct WriteTimeout(Arc<AtomicU64>);

impl WriteTimeout {
    pub(crate) fn set(&self, limit: Option<Duration>) {
        let nanos = limit.map_or(0, |limit| limit.as_nanos().clamp(1, u64::MAX.into()) as u64);
        self.0.store(nanos, Ordering::Relaxed);
    }

    fn get(&self) -> Option<Duration> {
        match self.0.load(Ordering::Relaxed) {
            0 => None,
            nanos => Some(Duration::from_nanos(nanos)),
        }
    }
}

/// The socket, with writes that fail once they have made no progress for the timeout.
struct TimedIo<T> {
    inner: T,
    limit: WriteTimeout,
    /// Armed when a write first finds the socket full; dropped on the next progress.
    stalled: Option<Pin<Box<Sleep>>>,
}

impl<T> TimedIo<T> {
    fn new(inner: T, limit: WriteTimeout) -> Self {
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
                tracing::warn!(?limit, "write timed out; closing the connection");
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
