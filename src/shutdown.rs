//! Graceful shutdown: every open stream sends its close event, runs `on_close` and ends, so
//! warp's graceful shutdown (which waits for responses to finish) can finish.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Waker};
use std::time::Duration;

use tokio::sync::Notify;

use crate::wakers::{Slot, WakerSet};

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
    /// The open streams' wakers: a stream checks `triggered` at every poll, so one slot each
    /// is all it costs to be woken.
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

/// A stream's watch on its endpoint's switch and its server's: its waker, in a slot of each.
///
/// The owner lets go of the slots with [`release`](StreamWatch::release) when the stream is
/// dropped; a slot left behind would keep the stream's task alive through its waker.
pub(crate) struct StreamWatch {
    /// The waker the slots hold, to tell when a poll comes with another.
    waker: Option<Waker>,
    endpoint: Slot,
    server: Slot,
}

impl StreamWatch {
    pub(crate) fn new() -> Self {
        StreamWatch {
            waker: None,
            endpoint: Slot::NONE,
            server: Slot::NONE,
        }
    }

    /// Whether either switch was triggered; if not, this poll's task is woken when one is.
    pub(crate) fn triggered(
        &mut self,
        cx: &Context<'_>,
        endpoint: &Shutdown,
        server: Option<&Shutdown>,
    ) -> bool {
        if !self
            .waker
            .as_ref()
            .is_some_and(|waker| waker.will_wake(cx.waker()))
        {
            endpoint.0.streams.register(&mut self.endpoint, cx.waker());
            if let Some(server) = server {
                server.0.streams.register(&mut self.server, cx.waker());
            }
            self.waker = Some(cx.waker().clone());
        }
        endpoint.is_triggered() || server.is_some_and(Shutdown::is_triggered)
    }

    /// Frees the stream's slots: `endpoint` and `server` are the switches it was polled with.
    pub(crate) fn release(&mut self, endpoint: &Shutdown, server: Option<&Shutdown>) {
        endpoint
            .0
            .streams
            .release(std::mem::replace(&mut self.endpoint, Slot::NONE));
        if let Some(server) = server {
            server
                .0
                .streams
                .release(std::mem::replace(&mut self.server, Slot::NONE));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wakers::counting::counter;

    /// A stream's watch registers once per waker, is woken by either switch, and lets go of the
    /// waker (which holds its task) when released.
    #[test]
    fn a_watch_is_woken_by_either_switch_and_lets_go_when_released() {
        let (task, waker) = counter();
        let cx = Context::from_waker(&waker);
        let (endpoint, server) = (Shutdown::new(), Shutdown::new());

        let mut watch = StreamWatch::new();
        assert!(!watch.triggered(&cx, &endpoint, Some(&server)));
        assert!(!watch.triggered(&cx, &endpoint, Some(&server)));
        assert_eq!(
            Arc::strong_count(&task),
            5,
            "the test's, `waker`, the watch's, two slots"
        );
        watch.release(&endpoint, Some(&server));
        assert_eq!(Arc::strong_count(&task), 3, "the slots let go");
        drop(watch);

        let mut watch = StreamWatch::new();
        assert!(!watch.triggered(&cx, &endpoint, Some(&server)));
        server.trigger();
        assert_eq!(task.woken(), 1);
        assert!(watch.triggered(&cx, &endpoint, Some(&server)));
        endpoint.trigger();
        assert_eq!(task.woken(), 2);
        watch.release(&endpoint, Some(&server));
        drop(watch);
        assert_eq!(Arc::strong_count(&task), 2);
    }
}
