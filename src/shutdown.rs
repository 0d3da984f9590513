//! Graceful shutdown: every open stream sends its close event, runs `on_close` and ends, so
//! warp's graceful shutdown (which waits for responses to finish) can finish.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use tokio::sync::Notify;

use crate::wakers::WakerSet;

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
#[derive(Clone, Default)]
pub struct Shutdown(Arc<Switch>);

#[derive(Default)]
struct Switch {
    triggered: AtomicBool,
    /// The open streams' wakers, one set per endpoint that watches the switch (the set its
    /// keep-alive ticks wake too): a stream checks `triggered` at every poll, so one slot in its
    /// endpoint's set is all it costs to be woken. Dropped endpoints' sets are pruned as others
    /// come.
    endpoints: Mutex<Vec<Weak<WakerSet>>>,
    /// The wakers of the streams that watch the switch as their server's, under `serve`.
    streams: WakerSet,
    /// Whatever else waits: `within`, `serve`'s accept loop.
    others: Notify,
}

impl std::fmt::Debug for Shutdown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shutdown")
            .field("triggered", &self.is_triggered())
            .finish()
    }
}

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
        // Stored before the wakers are taken: a stream registers, then reads the flag (under
        // the same lock's order), so it either is woken here or sees the flag itself.
        if !self.0.triggered.swap(true, Ordering::SeqCst) {
            let endpoints: Vec<Arc<WakerSet>> =
                self.endpoints().iter().filter_map(Weak::upgrade).collect();
            endpoints.iter().for_each(|streams| streams.wake_all());
            self.0.streams.wake_all();
            self.0.others.notify_waiters();
        }
    }

    /// Whether [`trigger`](Shutdown::trigger) ran.
    ///
    /// ```
    /// assert!(!warp_eventstream::Shutdown::new().is_triggered());
    /// ```
    pub fn is_triggered(&self) -> bool {
        self.0.triggered.load(Ordering::SeqCst)
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
            self.triggered().await;
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

    /// Lets the switch wake an endpoint's streams, whose wakers are in `streams`.
    pub(crate) fn watch(&self, streams: &Arc<WakerSet>) {
        let mut endpoints = self.endpoints();
        endpoints.retain(|set| set.strong_count() > 0);
        endpoints.push(Arc::downgrade(streams));
    }

    /// The wakers of the streams that watch this switch as their server's.
    pub(crate) fn streams(&self) -> &WakerSet {
        &self.0.streams
    }

    fn endpoints(&self) -> std::sync::MutexGuard<'_, Vec<Weak<WakerSet>>> {
        // Each step under the lock is a single push, retain or read: a poisoned lock still
        // holds a whole list.
        self.0
            .endpoints
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Completes once the switch is triggered.
    pub(crate) async fn triggered(&self) {
        loop {
            let notified = self.0.others.notified();
            tokio::pin!(notified);
            // Enlisted before the flag is read, so a trigger in between still wakes it.
            notified.as_mut().enable();
            if self.is_triggered() {
                return;
            }
            notified.await;
        }
    }
}
