//! `serve`: warp's server plus what only a server can do for long-lived streams: a write timeout
//! on each connection and on each HTTP/2 stream, a graceful shutdown that ends every stream it
//! serves, and HTTPS with HTTP/2 (feature `tls`).
//!
//! One concern per file: the socket's write timeout and the stall HTTP/1 bodies wait out
//! (`write_timeout`), the HTTP/2 stream's write timeout (`stream_stall`), the certificate
//! (`tls`); this file accepts connections and shuts down.

mod stream_stall;
#[cfg(feature = "tls")]
mod tls;
mod write_timeout;

use std::future::Future;
use std::time::Duration;

use futures::FutureExt;
use hyper::body::Incoming;
use hyper::Request;
use hyper_util::rt::TokioIo;
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::task::TaskTracker;
use warp::{Filter, Rejection, Reply};

use crate::shutdown::Shutdown;
use stream_stall::StreamExecutor;
use write_timeout::TimedIo;

pub(crate) use stream_stall::{claim as claim_stream_clock, StreamClock};
#[cfg(feature = "tls")]
pub use tls::{Tls, TlsError, DEFAULT_HANDSHAKE_TIMEOUT};
pub(crate) use write_timeout::WriteTimeout;

/// How long [`Server::run`] waits, after its graceful signal, for open connections to take their
/// close events and finish before it closes them itself.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(5);

/// Serves `filter` like `warp::serve`, closes connections whose writes stall for longer than
/// their endpoint's `write_timeout` (default 30 s), and shuts down gracefully on a signal.
///
/// While an HTTP/1 connection's socket is full, its event stream reads nothing more of its
/// source, so a slow client's backlog waits in the hub's ring rather than in hyper's buffer,
/// which is capped at 64 KiB (a request head larger than that is answered `431`).
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
        max_concurrent_streams: DEFAULT_MAX_CONCURRENT_STREAMS,
        #[cfg(feature = "tls")]
        tls: None,
    }
}

/// How many streams (`EventSource`s, and any other requests) one HTTP/2 connection may have
/// open at once unless [`Server::max_concurrent_streams`] says otherwise: 128, as nginx.
pub const DEFAULT_MAX_CONCURRENT_STREAMS: u32 = 128;

/// A server built by [`serve`]: optionally [`graceful`](Server::graceful),
/// [`grace`](Server::grace), [`max_concurrent_streams`](Server::max_concurrent_streams) and
/// (feature `tls`) `tls`, then [`run`](Server::run).
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
    max_concurrent_streams: u32,
    #[cfg(feature = "tls")]
    tls: Option<Tls>,
}

impl<F, R, S> Server<F, S>
where
    F: Filter<Extract = (R,), Error = Rejection> + Clone + Send + Sync + 'static,
    R: Reply + 'static,
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
            max_concurrent_streams: self.max_concurrent_streams,
            #[cfg(feature = "tls")]
            tls: self.tls,
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

    /// How many streams one HTTP/2 connection may have open at once (default
    /// [`DEFAULT_MAX_CONCURRENT_STREAMS`], 128): a browser opens every `EventSource` of an
    /// origin on one connection, and waits for a free stream beyond this.
    ///
    /// ```
    /// use warp_eventstream::{event_stream, json, serve};
    /// let ticks = event_stream! { route "/ticks" every 1s => |i| json!(i) };
    /// let server = serve(ticks).max_concurrent_streams(1000);
    /// # let _ = server;
    /// ```
    pub fn max_concurrent_streams(self, max: u32) -> Self {
        Server {
            max_concurrent_streams: max,
            ..self
        }
    }

    /// Serves HTTPS with `tls`'s certificate, HTTP/2 and HTTP/1.1 offered through ALPN.
    /// A client that does not finish its handshake within [`Tls::handshake_timeout`] is dropped.
    ///
    /// ```no_run
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use warp_eventstream::{event_stream, json, serve, Tls};
    /// let ticks = event_stream! { route "/ticks" every 1s => |i| json!(i) };
    /// let tls = Tls::from_files("cert.pem", "key.pem")?;
    /// let listener = tokio::net::TcpListener::bind("0.0.0.0:443").await?;
    /// serve(ticks).tls(tls).run(listener).await;
    /// # Ok(())
    /// # }
    /// ```
    #[cfg(feature = "tls")]
    pub fn tls(self, tls: Tls) -> Self {
        Server {
            tls: Some(tls),
            ..self
        }
    }

    /// Accepts connections from `listener` until the graceful signal, if any; then shuts down
    /// as [`graceful`](Server::graceful) says, and returns. HTTP/1.1 and HTTP/2 (over TLS, or
    /// cleartext with prior knowledge, as proxies speak it upstream) alike.
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
        let streams = TaskTracker::new();
        let mut http = auto::Builder::new(StreamExecutor {
            streams: streams.clone(),
        });
        // Frames are copied into hyper's write buffer, which every connection has anyway, rather
        // than queued beside it: an idle stream then holds no queue of its own once its first
        // frame (the position frame, say) is out, and a batch goes out in one contiguous write.
        http.http1().writev(false).max_buf_size(CONNECTION_BUFFER);
        http.http2()
            .max_concurrent_streams(self.max_concurrent_streams)
            // What an HTTP/2 stream may queue beyond its reader's window. hyper stops asking the
            // body for frames once the window is spent and a frame waits: from then on the
            // stream's write timeout runs (`stream_stall`).
            .max_send_buf_size(STREAM_SEND_BUFFER);
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
            let accepted = Accepted {
                http: http.clone(),
                filter: self.filter.clone(),
                graceful: graceful.watcher(),
                shutdown: shutdown.clone(),
                peer: PeerAddr(peer),
            };
            #[cfg(feature = "tls")]
            if let Some(tls) = &self.tls {
                connections.spawn(accepted.serve_after_handshake(socket, tls.acceptor()));
                continue;
            }
            connections.spawn(accepted.serve(socket));
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
        // An HTTP/2 stream runs in a task of its own, which ends once its connection is gone.
        streams.close();
        streams.wait().await;
    }
}

/// What hyper's write buffer may hold of an HTTP/1 connection's response before hyper stops
/// asking the body for more (hyper's default is about 400 KiB, which a stalled client would
/// keep). It also bounds a request's head: a larger one is answered `431`.
const CONNECTION_BUFFER: usize = 64 * 1024;

/// What an HTTP/2 stream may queue beyond its reader's flow-control window.
const STREAM_SEND_BUFFER: usize = 64 * 1024;

/// A connection just accepted, with what serving it needs.
struct Accepted<F> {
    http: auto::Builder<StreamExecutor>,
    filter: F,
    graceful: Watcher,
    shutdown: ServerShutdown,
    peer: PeerAddr,
}

impl<F, R> Accepted<F>
where
    F: Filter<Extract = (R,), Error = Rejection> + Clone + Send + Sync + 'static,
    R: Reply + 'static,
{
    /// Serves HTTP on `io` with the socket's write timeout, until the connection ends or the
    /// server's graceful shutdown ends it.
    ///
    /// The connection is built before the future is, so that the task holds the connection and
    /// nothing else: an `async fn` would keep its arguments (the builder, 248 bytes, among them)
    /// for the connection's whole life, and every idle stream would pay for them.
    fn serve<I>(self, io: I) -> impl Future<Output = ()> + Send + 'static
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let limit = WriteTimeout::default();
        let io = TimedIo::new(TokioIo::new(io), limit.clone());
        let service = warp::service(self.filter);
        let (server, peer) = (self.shutdown, self.peer);
        let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
            if request.version() < hyper::Version::HTTP_2 {
                limit.serves_http1();
            }
            request.extensions_mut().insert(limit.clone());
            request.extensions_mut().insert(server.clone());
            request.extensions_mut().insert(peer);
            tower_service::Service::call(&mut service.clone(), request)
        });
        let connection = self
            .http
            .serve_connection_with_upgrades(io, service)
            .into_owned();
        FutureExt::map(self.graceful.watch(connection), |ended| {
            if let Err(error) = ended {
                tracing::debug!(%error, "connection ended with an error");
            }
        })
    }

    /// The TLS handshake, then [`serve`](Accepted::serve) on the encrypted stream. A client
    /// that fails the handshake (plain HTTP, say) or stalls in it is logged and dropped; so is
    /// one still shaking hands when the server shuts down.
    #[cfg(feature = "tls")]
    async fn serve_after_handshake(
        self,
        socket: tokio::net::TcpStream,
        (acceptor, limit): (tokio_rustls::TlsAcceptor, Duration),
    ) {
        let peer = self.peer.0;
        let handshake = tokio::time::timeout(limit, acceptor.accept(socket));
        let stream = tokio::select! {
            handshake = handshake => match handshake {
                Ok(Ok(stream)) => stream,
                Ok(Err(error)) => {
                    tracing::debug!(%peer, %error, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%peer, ?limit, "TLS handshake timed out");
                    return;
                }
            },
            () = self.shutdown.0.triggered() => return,
        };
        if self.shutdown.0.is_triggered() {
            return;
        }
        self.serve(stream).await;
    }
}

/// The graceful signal of the server a request came through: every stream it serves ends on it.
#[derive(Debug, Clone)]
pub(crate) struct ServerShutdown(pub(crate) Shutdown);

/// The peer's address, as `serve` accepted it (warp's own is private to warp).
#[derive(Debug, Clone, Copy)]
pub(crate) struct PeerAddr(pub(crate) std::net::SocketAddr);
