//! Graceful shutdown: every open stream sends its close event, runs `on_close` and ends, so
//! warp's graceful shutdown (which waits for responses to finish) can finish.

use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;

use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

/// A switch that ends every stream of the endpoints that watch it.
///
/// Endpoints watch [`Shutdown::global`] unless a `shutdown` clause names another. Hand
/// [`Shutdown::on`] to warp's `graceful`, and bound the wait with [`Shutdown::within`]: a client
/// that stopped reading could otherwise hold its connection open for ever.
///
/// ```
/// use std::time::Duration;
/// use warp_eventstream::{event_stream, json, Shutdown};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let shutdown = Shutdown::new();
/// let ticks = event_stream! { route "/ticks" every 1s shutdown shutdown.clone() => |i| json!(i) };
///
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
/// let server = warp::serve(ticks)
///     .incoming(listener)
///     .graceful(shutdown.clone().on(async { /* tokio::signal::ctrl_c().await */ }))
///     .run();
/// shutdown.within(Duration::from_secs(5), server).await;
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct Shutdown(CancellationToken);

impl Shutdown {
    /// A switch of its own, for a server (or a test) that shuts down apart from the others.
    ///
    /// ```
    /// let shutdown = warp_eventstream::Shutdown::new();
    /// assert!(!shutdown.is_triggered());
    /// ```
    pub fn new() -> Self {
        Shutdown::default()
    }

    /// The switch endpoints watch when no `shutdown` clause names one.
    ///
    /// ```
    /// let global = warp_eventstream::Shutdown::global();
    /// # let _ = global;
    /// ```
    pub fn global() -> &'static Shutdown {
        static GLOBAL: OnceLock<Shutdown> = OnceLock::new();
        GLOBAL.get_or_init(Shutdown::new)
    }

    /// Ends every watching stream now (close event, then `on_close`); new requests get `503`.
    ///
    /// ```
    /// let shutdown = warp_eventstream::Shutdown::new();
    /// shutdown.trigger();
    /// assert!(shutdown.is_triggered());
    /// ```
    pub fn trigger(&self) {
        self.0.cancel();
    }

    /// Whether [`trigger`](Shutdown::trigger) ran.
    ///
    /// ```
    /// assert!(!warp_eventstream::Shutdown::new().is_triggered());
    /// ```
    pub fn is_triggered(&self) -> bool {
        self.0.is_cancelled()
    }

    /// Waits for `signal`, then triggers: the future to give warp's `graceful`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let shutdown = warp_eventstream::Shutdown::new();
    /// shutdown.clone().on(async {}).await;
    /// assert!(shutdown.is_triggered());
    /// # }
    /// ```
    pub async fn on(self, signal: impl Future<Output = ()> + Send + 'static) {
        signal.await;
        tracing::info!("shutdown: closing every event stream");
        self.trigger();
    }

    /// Runs `server` until it ends, or until `grace` after the trigger, whichever comes first.
    ///
    /// Returning drops the server's accept loop; connections still open belong to the runtime,
    /// which drops them (running their `on_close`) when it shuts down.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use std::time::Duration;
    /// let shutdown = warp_eventstream::Shutdown::new();
    /// shutdown.trigger();
    /// let never_ends = std::future::pending::<()>();
    /// shutdown.within(Duration::from_millis(10), never_ends).await;
    /// # }
    /// ```
    pub async fn within(&self, grace: Duration, server: impl Future<Output = ()>) {
        let deadline = async {
            self.0.cancelled().await;
            tokio::time::sleep(grace).await;
            tracing::warn!(
                ?grace,
                "shutdown: grace period over, dropping open connections"
            );
        };
        tokio::select! {
            () = server => {}
            () = deadline => {}
        }
    }

    pub(crate) fn watch(&self) -> WaitForCancellationFutureOwned {
        self.0.clone().cancelled_owned()
    }
}
