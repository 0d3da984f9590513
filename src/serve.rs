//! `serve`: warp's server plus what only a server can do for long-lived streams: a write timeout
//! on each connection, and a graceful shutdown that ends every stream it serves.
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

use hyper::body::Incoming;
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper::Request;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio::time::Sleep;
use warp::{Filter, Rejection, Reply};

use crate::shutdown::Shutdown;

/// How long [`Server::run`] waits, after its graceful signal, for open connections to take their
/// close events and finish before it closes them itself.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(5);

/// Serves `filter` like `warp::serve`, closes connections whose writes stall for longer than
/// their endpoint's `write_timeout` (default 30 s), and shuts down gracefully on a signal.
///
/// ```
/// use warp_eventstream::{event_stream, json, serve};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let ticks = event_stream! { route "/ticks" every 1s write_timeout 10s => |i| json!(i) };
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
/// // Ctrl-C: every open stream gets its close event and runs `on_close`; `run` then returns.
/// let server = serve(ticks).graceful(async { /* let _ = tokio::signal::ctrl_c().await; */ });
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
        grace: DEFAULT_GRACE,
    }
}

/// A server built by [`serve`]: [`graceful`](Server::graceful) and [`grace`](Server::grace)
/// optionally, then [`run`](Server::run).
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
    grace: Duration,
}

impl<F, R, S> Server<F, S>
where
    F: Filter<Extract = (R,), Error = Rejection> + Clone + Send + Sync + 'static,
    R: Reply,
    S: Future<Output = ()> + Send,
{
    /// Shuts down when `signal` completes: stops accepting, sends every open stream its close
    /// event (each runs `on_close`), waits for the connections to finish, for at most the
    /// [`grace`](Server::grace) period, closes what is left, and returns from
    /// [`run`](Server::run). Nothing else needs wiring: the endpoints' own
    /// [`Shutdown`](crate::Shutdown) switches still work too.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use warp_eventstream::{event_stream, json, serve};
    /// let ticks = event_stream! { route "/ticks" every 1s => |i| json!(i) };
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    /// serve(ticks)
    ///     .graceful(async { /* let _ = tokio::signal::ctrl_c().await; */ })
    ///     .run(listener)
    ///     .await;
    /// # }
    /// ```
    pub fn graceful<S2>(self, signal: S2) -> Server<F, S2>
    where
        S2: Future<Output = ()> + Send,
    {
        Server {
            filter: self.filter,
            signal,
            grace: self.grace,
        }
    }

    /// How long, after the graceful signal, connections may take to finish before they are
    /// closed (default [`DEFAULT_GRACE`], 5 s): a client that stopped reading cannot take its
    /// close event, and would otherwise hold the shutdown up.
    ///
    /// ```
    /// use std::time::Duration;
    /// use warp_eventstream::{event_stream, json, serve};
    /// let ticks = event_stream! { route "/ticks" every 1s => |i| json!(i) };
    /// let server = serve(ticks).grace(Duration::from_secs(2));
    /// # let _ = server;
    /// ```
    pub fn grace(self, grace: Duration) -> Self {
        Server { grace, ..self }
    }

    /// Accepts connections from `listener` until the graceful signal, if any; then shuts down
    /// as [`graceful`](Server::graceful) says, and returns.
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
        let shutdown = ServerShutdown(Shutdown::new());
        let mut connections = JoinSet::new();
        let mut signal = std::pin::pin!(self.signal);
        loop {
            let (socket, peer) = tokio::select! {
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
            // Finished connections leave the set as new ones arrive.
            while connections.try_join_next().is_some() {}
            let limit = WriteTimeout::default();
            let io = TimedIo::new(TokioIo::new(socket), limit.clone());
            let service = warp::service(self.filter.clone());
            let server = shutdown.clone();
            let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
                request.extensions_mut().insert(limit.clone());
                request.extensions_mut().insert(server.clone());
                request.extensions_mut().insert(PeerAddr(peer));
                tower_service::Service::call(&mut service.clone(), request)
            });
            let connection = auto::Builder::new(TokioExecutor::new())
                .serve_connection_with_upgrades(io, service)
                .into_owned();
            let connection = graceful.watch(connection);
            connections.spawn(async move {
                if let Err(error) = connection.await {
                    tracing::debug!(%error, "connection ended with an error");
                }
            });
        }
        drop(listener);
        tracing::info!(
            open = connections.len(),
            "shutdown: closing every event stream"
        );
        shutdown.0.trigger();
        if tokio::time::timeout(self.grace, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!(
                grace = ?self.grace,
                open = connections.len(),
                "shutdown: grace period over, closing the connections left"
            );
            // Dropping a connection drops its streams, which runs their `on_close`.
            connections.abort_all();
        }
        while connections.join_next().await.is_some() {}
    }
}

/// The graceful signal of the server a request came through: every stream it serves ends on it.
#[derive(Debug, Clone)]
pub(crate) struct ServerShutdown(pub(crate) Shutdown);

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

/// The peer's address, as `serve` accepted it (warp's own is private to warp).
#[derive(Debug, Clone, Copy)]
pub(crate) struct PeerAddr(pub(crate) std::net::SocketAddr);

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
