//! One topic's fan-out inside one process: a ring of the newest frames that every subscriber
//! reads in place.
//!
//! A `tokio::sync::broadcast` channel hands each receiver a clone of every frame: per event and
//! per subscriber, a slot lock, a reference-count increment and its decrement, and a wake-up
//! through the channel's own machinery. Here a woken subscriber copies what waits for it into its
//! next write without touching the frames' reference counts (shared by every subscriber: with a
//! thousand of them on two cores, taking and dropping a handle per frame was a fifth of the
//! server's time), and the ring needs no per-receiver state but a position.
//!
//! The ring is a queue of blocks of `BLOCK` write-once slots (`super::block`), which hold the
//! frames' bytes too. A frame is written to its slot and then published by advancing `end`; a
//! receiver holds the block it reads and reads what is written without a lock. Locks are taken
//! once per block only (a sender adding one, a receiver moving to the next), so a receiver
//! preempted in the middle of a copy never holds up a publisher.

use std::collections::VecDeque;
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use bytes::BufMut;
use tokio::sync::futures::OwnedNotified;
use tokio::sync::Notify;

use super::block::{Block, RingFrame, BLOCK};
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
    /// Serialises senders; holds the block being filled. A sender holding the fan-out by
    /// `&mut` ([`send_mut`](Fanout::send_mut)) needs no lock.
    filling: Mutex<Option<Arc<Block>>>,
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
    /// The block it last read from, held so that reading on in it takes no lock.
    block: Option<Arc<Block>>,
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

/// A value on cache lines of its own: `Shared`'s `end` is written at every send and read by
/// every receiver, its `blocks` lock taken by every receiver moving to a new block; sharing a
/// line, each would make the other's cache line move between cores.
#[derive(Debug)]
#[repr(align(128))]
struct Padded<T>(T);

impl<T> std::ops::Deref for Padded<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

#[derive(Debug)]
struct Shared {
    /// The blocks holding the kept frames, oldest first; a sender adds one every `BLOCK` frames
    /// and drops those wholly older than the newest `capacity` frames.
    blocks: Padded<RwLock<VecDeque<Arc<Block>>>>,
    /// The number the next frame sent will have (frames count from 0): every frame below it is
    /// set in its slot.
    end: Padded<AtomicU64>,
    /// How many of the newest frames a receiver may still read.
    capacity: u64,
    closed: AtomicBool,
    /// Woken at each send, for the receivers that read everything and wait.
    sent: Arc<Notify>,
    /// Some receiver found nothing to read and may be waiting: set before its last look, cleared
    /// by the send that wakes it. With every receiver busy, a send then costs no trip through the
    /// `Notify`'s lock.
    waiting: AtomicBool,
    receivers: AtomicUsize,
}

impl Shared {
    /// Writes `frame` to its slot, publishes it, and wakes the receivers if one may wait.
    ///
    /// # Safety
    ///
    /// Appends must not run concurrently: the caller is the fan-out's only sender for the call
    /// (it holds the `filling` lock, or the fan-out by `&mut`).
    unsafe fn append(
        &self,
        filling: &mut Option<Arc<Block>>,
        id: EventId,
        len: usize,
        write: impl FnOnce(&mut [MaybeUninit<u8>]),
    ) {
        let n = self.end.load(Ordering::Relaxed);
        let block = match filling {
            Some(block) if block.holds(n) => block,
            _ => {
                // SAFETY: the caller is the one writer (this function's contract).
                let used = filling.as_ref().map_or(0, |block| unsafe { block.used() });
                filling.insert(self.add_block(n, used))
            }
        };
        // SAFETY: pushes are serialised (this function's contract).
        let stored = unsafe { block.push(id, len, write) };
        debug_assert!(stored, "the block holds frame `n`, so it has room for it");
        // Publishes the slot: a receiver that sees the new end sees the frame. With the load of
        // `waiting` below, pairs with `may_wait` (all four accesses are in one total order):
        // either this sees the receiver's flag, or the receiver's last look sees this frame.
        self.end.swap(n + 1, Ordering::SeqCst);
        if self.waiting.load(Ordering::SeqCst) && self.waiting.swap(false, Ordering::Relaxed) {
            self.sent.notify_waiters();
        }
    }

    /// A block starting at frame `n`, added to the ring, which lets go of the blocks wholly
    /// older than the newest `capacity` frames (a receiver reading one keeps it until it moves
    /// on). `used`, the bytes of the block before, sizes its first chunk.
    fn add_block(&self, n: u64, used: usize) -> Arc<Block> {
        let block = Arc::new(Block::new(n, used));
        let mut blocks = self
            .blocks
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let first = self.first(n + 1);
        while blocks
            .front()
            .is_some_and(|oldest| oldest.start + BLOCK as u64 <= first)
        {
            blocks.pop_front();
        }
        blocks.push_back(block.clone());
        block
    }

    /// Hands `take` frames `*next` up to `end` (a value of `self.end` loaded with acquire), oldest
    /// first, with how many more are below `end` after each, until it returns `false`; `held` keeps
    /// the block being read, so that reading on in it takes no lock (one reference-count change
    /// per block, not per frame).
    fn walk(
        &self,
        next: &mut u64,
        end: u64,
        held: &mut Option<Arc<Block>>,
        mut take: impl FnMut(&RingFrame, u64) -> bool,
    ) -> Walked {
        while *next < end {
            if !held.as_ref().is_some_and(|block| block.holds(*next)) {
                *held = self.block(*next);
            }
            let Some(block) = held else {
                return Walked::Gone;
            };
            let to = usize::try_from(end - block.start).map_or(BLOCK, |to| to.min(BLOCK));
            // SAFETY: every frame below `end` (loaded with acquire, the caller's contract) is
            // written in the block that holds it: `append` counts a frame in `end` (release)
            // after pushing it.
            let written = unsafe { block.first(to) };
            for frame in &written[(*next - block.start) as usize..] {
                *next += 1;
                if !take(frame, end - *next) {
                    return Walked::Read;
                }
            }
        }
        Walked::Read
    }

    /// The number of the oldest frame a receiver may still read, given `end`.
    fn first(&self, end: u64) -> u64 {
        end.saturating_sub(self.capacity)
    }

    /// The block that holds frame `n`, if the ring still does.
    fn block(&self, n: u64) -> Option<Arc<Block>> {
        // No user code runs under the lock: a poisoned one still guards consistent blocks.
        let blocks = self
            .blocks
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let oldest = blocks.front()?.start;
        let index = usize::try_from(n.checked_sub(oldest)? / BLOCK as u64).ok()?;
        blocks.get(index).cloned()
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
                blocks: Padded(RwLock::new(VecDeque::new())),
                end: Padded(AtomicU64::new(0)),
                capacity: capacity.max(1) as u64,
                closed: AtomicBool::new(false),
                sent: Arc::new(Notify::new()),
                waiting: AtomicBool::new(false),
                receivers: AtomicUsize::new(0),
            }),
            filling: Mutex::new(None),
        }
    }

    /// Sends `frame` to every receiver.
    ///
    /// ```
    /// use warp_eventstream::{EventId, Fanout, HubFrame};
    /// let fanout = Fanout::new(4);
    /// fanout.send(HubFrame { id: EventId::seq(1), bytes: "id: 1\n\n".into() }); // nobody listens: kept in the ring
    /// ```
    ///
    /// The ring keeps a copy of the frame's bytes, in the block that holds its slot.
    pub fn send(&self, frame: HubFrame) {
        let mut filling = self
            .filling
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let bytes = &frame.bytes[..];
        // SAFETY: the lock, held until the frame is in, serialises the sends.
        unsafe {
            self.shared
                .append(&mut filling, frame.id, bytes.len(), |mut out| {
                    out.put_slice(bytes)
                })
        };
    }

    /// [`send`](Fanout::send) for a sender that holds the fan-out exclusively (the in-process
    /// transport, under its topic table's lock), with the frame written in place: `write`
    /// writes all of its `len` bytes into the ring, without a lock or a copy.
    pub(crate) fn send_mut(
        &mut self,
        id: EventId,
        len: usize,
        write: impl FnOnce(&mut [MaybeUninit<u8>]),
    ) {
        let filling = self
            .filling
            .get_mut()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // SAFETY: `&mut self` is the only sender.
        unsafe { self.shared.append(filling, id, len, write) };
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
            next: self.shared.end.load(Ordering::Acquire),
            shared: self.shared.clone(),
            block: None,
        }
    }

    /// The number of the oldest frame the ring holds (frames count from 0, every send one).
    pub(crate) fn oldest(&self) -> u64 {
        self.shared.first(self.shared.end.load(Ordering::Acquire))
    }

    /// The frames numbered `from` and after that the ring holds, oldest first: copies, in one
    /// buffer they share.
    pub(crate) fn frames_from(&self, from: u64) -> Vec<HubFrame> {
        let end = self.shared.end.load(Ordering::Acquire);
        let mut next = from.max(self.shared.first(end));
        let mut ids = Vec::with_capacity(end.saturating_sub(next) as usize);
        let mut joined = bytes::BytesMut::new();
        // A block that left the ring meanwhile ends the list: what is older is not kept.
        let _ = self.shared.walk(&mut next, end, &mut None, |frame, _| {
            ids.push((frame.id(), frame.bytes().len()));
            joined.extend_from_slice(frame.bytes());
            true
        });
        let mut joined = joined.freeze();
        ids.into_iter()
            .map(|(id, len)| HubFrame {
                id,
                bytes: joined.split_to(len),
            })
            .collect()
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
        // Before the wake-up: a receiver registers its wait, then reads `closed`.
        self.shared.closed.store(true, Ordering::SeqCst);
        self.shared.sent.notify_waiters();
    }
}

/// How far [`Shared::walk`] got.
enum Walked {
    /// Up to `end`, or until `take` stopped.
    Read,
    /// A block left the ring before it was read.
    Gone,
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
    /// The next frame: at once if one is waiting, or else once one is sent. The frame is a copy
    /// of the ring's.
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
            // `read` looks at `end` again, and sees at least what this saw.
            let _seen = self.may_wait();
            let mut frame = None;
            match self.read(|next, _| {
                frame = Some(HubFrame {
                    id: next.id(),
                    bytes: bytes::Bytes::copy_from_slice(next.bytes()),
                });
                false
            }) {
                Read::Frames => return Ok(frame.expect("read hands a frame over")),
                Read::Lagged(missed) => return Err(FanoutError::Lagged(missed)),
                Read::Closed => return Err(FanoutError::Closed),
                Read::Empty => waiting.await,
            }
        }
    }

    /// Hands `take` the frames waiting, oldest first, without a lock, until it returns `false`;
    /// with each, how many more are waiting after it.
    pub(crate) fn read(&mut self, take: impl FnMut(&RingFrame, u64) -> bool) -> Read {
        // `closed` before `end`: once closed is seen, so is every frame sent before the drop.
        let closed = self.shared.closed.load(Ordering::Acquire);
        let end = self.shared.end.load(Ordering::Acquire);
        let first = self.shared.first(end);
        if self.next < first {
            let missed = first - self.next;
            self.next = first;
            return Read::Lagged(missed);
        }
        if self.next == end {
            return if closed { Read::Closed } else { Read::Empty };
        }
        // Frames past `end` are left for the next read: `end` is what was waiting.
        match self.shared.walk(&mut self.next, end, &mut self.block, take) {
            Walked::Read => Read::Frames,
            Walked::Gone => {
                // The sender let go of a block since `end` was read: this receiver fell behind.
                let first = self.shared.first(self.shared.end.load(Ordering::Acquire));
                let missed = first.saturating_sub(self.next).max(1);
                self.next += missed;
                Read::Lagged(missed)
            }
        }
    }

    /// How many frames are waiting (those that left the ring unread included).
    pub(crate) fn len(&self) -> u64 {
        self.shared.end.load(Ordering::Acquire) - self.next
    }

    /// Skips every frame waiting: how many, and the last one's id if it is still in the ring.
    pub(crate) fn skip_all(&mut self) -> (u64, Option<EventId>) {
        let end = self.shared.end.load(Ordering::Acquire);
        let missed = end - self.next;
        self.next = end;
        if missed == 0 {
            return (0, None);
        }
        let last = self.shared.block(end - 1).and_then(|block| {
            block
                .written()
                .get((end - 1 - block.start) as usize)
                .map(RingFrame::id)
        });
        (missed, last)
    }

    /// Says this receiver may wait: the next send wakes the waiters. Call after the wait is
    /// registered (a `next_send` future polled once) and before the last look.
    /// Returns the end it then sees: every later look sees it or a newer one.
    fn may_wait(&self) -> u64 {
        // Pairs with `Shared::append`'s swap of `end` and load of `waiting`.
        self.shared.waiting.store(true, Ordering::SeqCst);
        self.shared.end.load(Ordering::SeqCst)
    }

    /// After a `next_send` future was polled once: true when nothing is waiting to be read, and
    /// the next send wakes it.
    pub(crate) fn nothing_waiting(&self) -> bool {
        // `closed` after the wait is registered: a drop before it is seen here, one after it
        // wakes the wait.
        self.may_wait() == self.next && !self.shared.closed.load(Ordering::SeqCst)
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

    fn send(fanout: &Fanout, numbers: std::ops::Range<u64>) {
        for n in numbers {
            fanout.send(HubFrame {
                id: EventId::seq(n),
                bytes: bytes::Bytes::from(format!("id: {n}\n\n")),
            });
        }
    }

    /// Reads everything waiting: the lag reported first, if any, and the ids read.
    fn read_all(receiver: &mut FanoutReceiver) -> (u64, Vec<u64>) {
        let (mut lagged, mut ids) = (0, Vec::new());
        loop {
            match receiver.read(|frame, _| {
                ids.push(frame.id().parts().1);
                true
            }) {
                Read::Lagged(missed) => lagged += missed,
                Read::Frames => {}
                Read::Empty | Read::Closed => return (lagged, ids),
            }
        }
    }

    #[test]
    fn a_receiver_reads_across_blocks_and_lags_by_exactly_what_left_the_ring() {
        let fanout = Fanout::new(100);
        let mut receiver = fanout.subscribe();
        send(&fanout, 0..10);
        assert_eq!(read_all(&mut receiver), (0, (0..10).collect()));
        // Its block leaves the ring while it holds it.
        send(&fanout, 10..510);
        assert_eq!(read_all(&mut receiver), (400, (410..510).collect()));
        assert!(fanout.shared.blocks.read().unwrap().len() <= 100 / BLOCK + 2);
    }

    #[test]
    fn the_frames_kept_span_blocks() {
        let fanout = Fanout::new(150);
        send(&fanout, 0..200);
        assert_eq!(fanout.oldest(), 50);
        let ids = |frames: Vec<HubFrame>| -> Vec<u64> {
            frames.iter().map(|frame| frame.id.parts().1).collect()
        };
        assert_eq!(ids(fanout.frames_from(10)), (50..200).collect::<Vec<_>>());
        assert_eq!(ids(fanout.frames_from(120)), (120..200).collect::<Vec<_>>());
        assert!(fanout.frames_from(200).is_empty());
    }

    /// A receiver that found nothing just before the fan-out was dropped, and registers its
    /// wait after the drop's wake-up, sees the drop on its last look instead of waiting for ever.
    #[tokio::test]
    async fn a_drop_before_the_wait_is_seen_on_the_last_look() {
        let fanout = Fanout::new(4);
        let mut receiver = fanout.subscribe();
        assert!(matches!(receiver.read(|_, _| true), Read::Empty));
        drop(fanout);
        let wait = receiver.next_send();
        let mut wait = std::pin::pin!(wait);
        assert!(
            futures::poll!(wait.as_mut()).is_pending(),
            "the wake-up came before it"
        );
        assert!(!receiver.nothing_waiting(), "closed: not a wait");
        assert!(matches!(receiver.read(|_, _| true), Read::Closed));
    }

    /// A send from another thread while receivers go to sleep: the `waiting` flag must never let
    /// a send pass without waking a receiver that found nothing.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_wake_up_is_lost_between_a_last_look_and_a_send() {
        // Fewer under Miri, which checks every access of the reads racing the sends.
        const SENDS: u64 = if cfg!(miri) { 300 } else { 20_000 };
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
