//! One topic's fan-out inside one process: a ring of the newest frames that every subscriber
//! reads in place.
//!
//! A `tokio::sync::broadcast` channel hands each receiver a clone of every frame: per event and
//! per subscriber, a slot lock, a reference-count increment and its decrement, and a wake-up
//! through the channel's own machinery. Here a woken subscriber copies what waits for it into its
//! next write, a few dozen frames per hold of one read lock, without touching the frames'
//! reference counts (shared by every subscriber: with a thousand of them on two cores, taking
//! and dropping a handle per frame was a fifth of the server's time), and the ring needs no
//! per-receiver state but a position.

use std::collections::VecDeque;
use std::sync::atomic::{fence, AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use tokio::sync::futures::OwnedNotified;
use tokio::sync::Notify;

use super::transport::HubFrame;
use super::EventId;

/// The sending side of a topic's fan-out: what a [`Transport`](crate::Transport) keeps per topic
/// and [`send`](Fanout::send)s each frame into. Dropping it ends every receiver.
///
/// ```
/// use warp_eventstream::{EventId, Fanout, HubFrame};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let fanout = Fanout::new(16);
/// let mut receiver = fanout.subscribe();
/// fanout.send(HubFrame { id: EventId::seq(1), bytes: "id: 1\ndata: 1\n\n".into() });
/// assert_eq!(receiver.recv().await.unwrap().id, EventId::seq(1));
/// # }
/// ```
#[derive(Debug)]
pub struct Fanout {
    shared: Arc<Shared>,
}

/// A subscriber's place in a topic's [`Fanout`]: the frames sent after it subscribed, in order.
///
/// ```
/// use warp_eventstream::{Fanout, FanoutError};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let fanout = Fanout::new(1);
/// let mut receiver = fanout.subscribe();
/// drop(fanout);
/// assert!(matches!(receiver.recv().await, Err(FanoutError::Closed)));
/// # }
/// ```
#[derive(Debug)]
pub struct FanoutReceiver {
    shared: Arc<Shared>,
    /// The number of the next frame this receiver reads.
    next: u64,
}

/// Why [`FanoutReceiver::recv`] has no frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FanoutError {
    /// The receiver fell so far behind that this many frames left the ring before it read them;
    /// it continues with the oldest frame still there.
    Lagged(u64),
    /// The [`Fanout`] was dropped and every frame was read.
    Closed,
}

impl std::fmt::Display for FanoutError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FanoutError::Lagged(missed) => write!(f, "{missed} frames left the ring unread"),
            FanoutError::Closed => f.write_str("the fan-out was dropped"),
        }
    }
}

impl std::error::Error for FanoutError {}

#[derive(Debug)]
struct Shared {
    ring: RwLock<Ring>,
    /// Woken at each send, for the receivers that read everything and wait.
    sent: Arc<Notify>,
    /// Some receiver found nothing to read and may be waiting: set before its last look, cleared
    /// by the send that wakes it. With every receiver busy, a send then costs no trip through the
    /// `Notify`'s lock.
    waiting: AtomicBool,
    receivers: AtomicUsize,
}

#[derive(Debug)]
struct Ring {
    frames: VecDeque<HubFrame>,
    /// The number of `frames[0]`; frame numbers count every frame ever sent, from 0.
    first: u64,
    capacity: usize,
    closed: bool,
}

impl Ring {
    /// The number the next frame sent will have.
    fn end(&self) -> u64 {
        self.first + self.frames.len() as u64
    }
}

impl Shared {
    fn read(&self) -> RwLockReadGuard<'_, Ring> {
        // No user code runs under the lock: a poisoned ring is still a consistent one.
        self.ring
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Ring> {
        self.ring
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Fanout {
    /// A fan-out whose ring keeps the newest `capacity` frames (at least one): a receiver more
    /// than that behind misses the oldest.
    ///
    /// ```
    /// let fanout = warp_eventstream::Fanout::new(1024);
    /// assert_eq!(fanout.receiver_count(), 0);
    /// ```
    pub fn new(capacity: usize) -> Fanout {
        Fanout {
            shared: Arc::new(Shared {
                ring: RwLock::new(Ring {
                    frames: VecDeque::new(),
                    first: 0,
                    capacity: capacity.max(1),
                    closed: false,
                }),
                sent: Arc::new(Notify::new()),
                waiting: AtomicBool::new(false),
                receivers: AtomicUsize::new(0),
            }),
        }
    }

    /// Sends `frame` to every receiver.
    ///
    /// ```
    /// use warp_eventstream::{EventId, Fanout, HubFrame};
    /// let fanout = Fanout::new(4);
    /// fanout.send(HubFrame { id: EventId::seq(1), bytes: "id: 1\n\n".into() }); // nobody listens: kept in the ring
    /// ```
    pub fn send(&self, frame: HubFrame) {
        {
            let mut ring = self.shared.write();
            if ring.frames.len() == ring.capacity {
                ring.frames.pop_front();
                ring.first += 1;
            }
            ring.frames.push_back(frame);
        }
        // Pairs with the fence in `may_wait`: either this sees the receiver's flag, or the
        // receiver's last look sees this frame.
        fence(Ordering::SeqCst);
        let shared = &self.shared;
        if shared.waiting.load(Ordering::Relaxed) && shared.waiting.swap(false, Ordering::Relaxed) {
            shared.sent.notify_waiters();
        }
    }

    /// A receiver of the frames sent from now on.
    ///
    /// ```
    /// let fanout = warp_eventstream::Fanout::new(4);
    /// let receiver = fanout.subscribe();
    /// assert_eq!(fanout.receiver_count(), 1);
    /// drop(receiver);
    /// assert_eq!(fanout.receiver_count(), 0);
    /// ```
    pub fn subscribe(&self) -> FanoutReceiver {
        self.shared.receivers.fetch_add(1, Ordering::Relaxed);
        FanoutReceiver {
            next: self.shared.read().end(),
            shared: self.shared.clone(),
        }
    }

    /// The number of the oldest frame the ring holds (frames count from 0, every send one).
    pub(crate) fn oldest(&self) -> u64 {
        self.shared.read().first
    }

    /// The frames numbered `from` and after that the ring holds, oldest first.
    pub(crate) fn frames_from(&self, from: u64) -> Vec<HubFrame> {
        let ring = self.shared.read();
        let skip = from.saturating_sub(ring.first) as usize;
        ring.frames.iter().skip(skip).cloned().collect()
    }

    /// How many receivers there are.
    ///
    /// ```
    /// assert_eq!(warp_eventstream::Fanout::new(4).receiver_count(), 0);
    /// ```
    pub fn receiver_count(&self) -> usize {
        self.shared.receivers.load(Ordering::Relaxed)
    }
}

impl Drop for Fanout {
    fn drop(&mut self) {
        self.shared.write().closed = true;
        self.shared.sent.notify_waiters();
    }
}

/// What [`FanoutReceiver::read`] found.
pub(crate) enum Read {
    /// Frames were handed over (or the reader stopped taking them): maybe more are waiting.
    Frames,
    /// Frames left the ring before this receiver read them; it now stands at the oldest kept.
    Lagged(u64),
    /// Nothing is waiting.
    Empty,
    /// Nothing is waiting, and nothing will come.
    Closed,
}

impl FanoutReceiver {
    /// The next frame: at once if one is waiting, or else once one is sent.
    ///
    /// ```
    /// use warp_eventstream::{EventId, Fanout, FanoutError, HubFrame};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let fanout = Fanout::new(2);
    /// let mut receiver = fanout.subscribe();
    /// for n in 1..=3 {
    ///     fanout.send(HubFrame { id: EventId::seq(n), bytes: "id: 1\n\n".into() });
    /// }
    /// assert!(matches!(receiver.recv().await, Err(FanoutError::Lagged(1)))); // frame 1 is gone
    /// assert_eq!(receiver.recv().await.unwrap().id, EventId::seq(2));
    /// # }
    /// ```
    pub async fn recv(&mut self) -> Result<HubFrame, FanoutError> {
        loop {
            let waiting = self.shared.sent.clone().notified_owned();
            let mut waiting = std::pin::pin!(waiting);
            waiting.as_mut().enable();
            self.may_wait();
            let mut frame = None;
            match self.read(|next, _| {
                frame = Some(next.clone());
                false
            }) {
                Read::Frames => return Ok(frame.expect("read hands a frame over")),
                Read::Lagged(missed) => return Err(FanoutError::Lagged(missed)),
                Read::Closed => return Err(FanoutError::Closed),
                Read::Empty => waiting.await,
            }
        }
    }

    /// Hands `take` the frames waiting, oldest first, under one lock, until it returns `false`;
    /// with each, how many more are waiting after it.
    pub(crate) fn read(&mut self, mut take: impl FnMut(&HubFrame, u64) -> bool) -> Read {
        let ring = self.shared.read();
        if self.next < ring.first {
            let missed = ring.first - self.next;
            self.next = ring.first;
            return Read::Lagged(missed);
        }
        let start = (self.next - ring.first) as usize;
        if start == ring.frames.len() {
            return if ring.closed {
                Read::Closed
            } else {
                Read::Empty
            };
        }
        let end = ring.end();
        for frame in ring.frames.range(start..) {
            self.next += 1;
            if !take(frame, end - self.next) {
                break;
            }
        }
        Read::Frames
    }

    /// How many frames are waiting (those that left the ring unread included).
    pub(crate) fn len(&self) -> u64 {
        self.shared.read().end() - self.next
    }

    /// Skips every frame waiting: how many, and the last one's id if it is still in the ring.
    pub(crate) fn skip_all(&mut self) -> (u64, Option<EventId>) {
        let ring = self.shared.read();
        let missed = ring.end() - self.next;
        self.next = ring.end();
        let last = if missed == 0 {
            None
        } else {
            ring.frames.back().map(|frame| frame.id)
        };
        (missed, last)
    }

    /// Says this receiver may wait: the next send wakes the waiters. Call after the wait is
    /// registered (a `next_send` future polled once) and before the last look.
    fn may_wait(&self) {
        self.shared.waiting.store(true, Ordering::Relaxed);
        // Pairs with the fence in `Fanout::send`.
        fence(Ordering::SeqCst);
    }

    /// After a `next_send` future was polled once: true when nothing is waiting to be read, and
    /// the next send wakes it.
    pub(crate) fn nothing_waiting(&self) -> bool {
        self.may_wait();
        self.len() == 0
    }

    /// A future that completes at the next send (or drop) after it is first polled: poll it,
    /// then look again with `nothing_waiting`, and wait only if nothing came in between.
    pub(crate) fn next_send(&self) -> OwnedNotified {
        self.shared.sent.clone().notified_owned()
    }
}

impl Drop for FanoutReceiver {
    fn drop(&mut self) {
        self.shared.receivers.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A send from another thread while receivers go to sleep: the `waiting` flag must never let
    /// a send pass without waking a receiver that found nothing.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_wake_up_is_lost_between_a_last_look_and_a_send() {
        const SENDS: u64 = 20_000;
        let fanout = Fanout::new(SENDS as usize);
        let receivers: Vec<_> = (0..4)
            .map(|_| {
                let mut receiver = fanout.subscribe();
                tokio::spawn(async move {
                    // Stops at the last send, not at the fan-out's drop, whose wake-up would
                    // hide a lost one.
                    for n in 1..=SENDS {
                        assert_eq!(receiver.recv().await.unwrap().id, EventId::seq(n));
                    }
                })
            })
            .collect();
        let sender = std::thread::spawn(move || {
            for n in 1..=SENDS {
                fanout.send(HubFrame {
                    id: EventId::seq(n),
                    bytes: bytes::Bytes::from_static(b"data: x\n\n"),
                });
                if n % 64 == 0 {
                    // Let the receivers drain and go back to waiting now and then.
                    std::thread::yield_now();
                }
            }
            fanout
        });
        let _fanout = sender.join().unwrap();
        for receiver in receivers {
            tokio::time::timeout(std::time::Duration::from_secs(30), receiver)
                .await
                .expect("every receiver was woken for every send")
                .unwrap();
        }
    }
}
