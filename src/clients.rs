//! The live client count of an endpoint, and the `max_clients` limit on it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// A live count of an endpoint's open streams, for metrics.
///
/// Every endpoint keeps one. Name it with the `clients` clause to read it from elsewhere; a named
/// endpoint (`event_stream! { pub fn ticks() { ... } }`) also gets a `ticks_clients()` function.
///
/// ```
/// use warp_eventstream::{event_stream, json, Clients};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let clients = Clients::new();
/// let ticks = event_stream! {
///     route "/ticks" every 10ms until 2 clients clients.clone() => |i| json!(i)
/// };
/// assert_eq!(clients.count(), 0);
/// let response = warp::test::request().path("/ticks").reply(&ticks).await;
/// assert_eq!(response.status(), 200);
/// assert_eq!(clients.count(), 0, "the stream ended, so its client left");
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct Clients(Arc<AtomicUsize>);

impl Clients {
    /// A count at zero, to hand to one or more endpoints' `clients` clause.
    ///
    /// ```
    /// assert_eq!(warp_eventstream::Clients::new().count(), 0);
    /// ```
    pub fn new() -> Self {
        Clients::default()
    }

    /// How many streams are open right now.
    ///
    /// ```
    /// # let clients = warp_eventstream::Clients::new();
    /// println!("sse_clients {}", clients.count());
    /// ```
    pub fn count(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }

    /// Takes a place, unless `limit` places are taken already.
    pub(crate) fn join(&self, limit: Option<usize>) -> Option<ClientSlot<'_>> {
        let limit = limit.unwrap_or(usize::MAX);
        self.0
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |count| {
                (count < limit).then_some(count + 1)
            })
            .ok()?;
        Some(ClientSlot(self))
    }

    /// Gives back a place that [`ClientSlot::keep`] kept.
    pub(crate) fn leave(&self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// One stream's place in the count while its response is made: given back on drop (a request
/// that ends before its stream starts), or kept for the stream, whose close guard gives it back
/// through the endpoint's settings (so that no stream holds a handle on the count of its own).
pub(crate) struct ClientSlot<'a>(&'a Clients);

impl ClientSlot<'_> {
    /// Keeps the place taken: the caller gives it back with [`Clients::leave`].
    pub(crate) fn keep(self) {
        std::mem::forget(self);
    }
}

impl Drop for ClientSlot<'_> {
    fn drop(&mut self) {
        self.0.leave();
    }
}
