//! The `from hub(...)` source: one connection's subscription, with its lag policy.
//!
//! Frames that are ready together are written together, as one chunk: under load a connection
//! makes one write per batch instead of one per event.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use futures::Stream;
use tokio::sync::futures::OwnedNotified;

use super::event_id::MAX_LEN;
use super::fanout::{FanoutReceiver, Read};
use super::transport::{ResetFrom, Subscription};
use super::EventId;
use crate::body::{Abort, Sent, SourceItem};
use crate::settings::Settings;

/// A batch stops growing at this size; the next poll continues.
const MAX_BATCH_BYTES: usize = 64 * 1024;

/// How many frames a subscriber copies per visit to the topic's ring, between two looks at how
/// far behind it is.
const READ_PER_VISIT: usize = 32;

/// What happens to a client more than `buffer` events behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnLag {
    /// Skip to the newest events and tell the client: a `lagged` event, data `{"missed": n}`.
    Skip,
    /// End the stream (no close event) after the frames already gathered for it; the browser
    /// reconnects with `Last-Event-ID` and replays from the buffer.
    Disconnect,
}

pin_project_lite::pin_project! {
    /// One connection's subscription: what it reads, and its wait for the topic's next send.
    pub(crate) struct HubSource {
        reader: Reader,
        // Completes at the topic's next send: polled once nothing is waiting, before the last
        // look. Kept inline, pinned in the response body with the rest of the stream, rather
        // than in a box of its own: one block less for every idle connection.
        #[pin]
        next_send: Option<OwnedNotified>,
    }
}

/// What a subscription has read, and what it still owes its client.
struct Reader {
    /// The `reset` event, which goes out before any frame (boxed: few clients get one).
    reset: Option<Box<ResetFrom>>,
    /// Without a reset or a backlog, the id-only frame of the topic's head goes out first
    /// (`last_id` until the first frame is written). It is made when it goes: most connections
    /// are idle at once, and every idle stream would carry the frame.
    position_due: bool,
    /// Kept frames a resuming client missed (boxed: most clients have none, and the body of every
    /// idle stream would carry the iterator).
    backlog: Option<Box<std::vec::IntoIter<super::HubFrame>>>,
    live: FanoutReceiver,
    settings: Arc<Settings>,
    /// The id of the last frame written (or skipped over), for `lagged` events' ids; `None`
    /// after the channel itself dropped frames whose ids are unknown here.
    last_id: Option<EventId>,
    sent: u64,
    /// `on_lag disconnect` fired while frames were gathered: they go out first, then this.
    abort: Option<Abort>,
    ended: bool,
}

impl HubSource {
    pub(crate) fn new(subscription: Subscription, settings: Arc<Settings>) -> Self {
        // The client learns its position from its first frame: the reset event, the first
        // backlog frame, or else an id-only frame, which sets a browser's last event id without
        // firing an event. Without it, a browser cut off before its first event would reconnect
        // with no `Last-Event-ID` and miss what was published in between.
        let position_due = subscription.reset.is_none() && subscription.backlog.is_empty();
        HubSource {
            reader: Reader {
                reset: subscription.reset.map(Box::new),
                position_due,
                backlog: (!subscription.backlog.is_empty())
                    .then(|| Box::new(subscription.backlog.into_iter())),
                live: subscription.live,
                settings,
                last_id: Some(subscription.head),
                sent: 0,
                abort: None,
                ended: false,
            },
            next_send: None,
        }
    }
}

impl Reader {
    /// The client is `missed` events behind: apply the policy. `Ok` carries the `lagged` frame.
    fn lagged(&mut self, missed: u64) -> Result<Bytes, Abort> {
        let policy = self.settings.on_lag;
        tracing::warn!(
            route = self.settings.route,
            missed,
            ?policy,
            "client lagging"
        );
        self.settings.metrics.dropped(missed);
        match policy {
            OnLag::Disconnect => Err(Abort::Lagged(missed)),
            OnLag::Skip => Ok(lagged_frame(self.last_id, missed)),
        }
    }
}

/// The id-only frame of `head`, written straight into the batch.
fn push_position(batch: &mut Batch, head: EventId) {
    let mut digits = [0; MAX_LEN];
    let digits = head.digits(&mut digits);
    let parts: [&[u8]; 3] = [b"id: ", digits, b"\n\n"];
    batch.reserve(parts.iter().map(|part| part.len()).sum());
    for part in parts {
        batch.push(part);
    }
}

/// `lagged`, with the id of the last skipped frame when it is known; without one, the client
/// keeps the id of the last frame it was written, and the next frame carries an id again.
fn lagged_frame(id: Option<EventId>, missed: u64) -> Bytes {
    match id {
        Some(id) => Bytes::from(format!(
            "event: lagged\nid: {id}\ndata: {{\"missed\":{missed}}}\n\n"
        )),
        None => Bytes::from(format!("event: lagged\ndata: {{\"missed\":{missed}}}\n\n")),
    }
}

/// Frames gathered for one write, copied into a buffer of the connection's own: the ring's
/// frames are borrowed from its blocks, and a stalled connection's queue must not hold a block
/// (and its frames' bytes) after the ring lets it go.
#[derive(Default)]
struct Batch {
    joined: BytesMut,
    frames: u64,
    /// Bytes expected in all, for the buffer's first allocation.
    hint: usize,
}

impl Batch {
    fn push(&mut self, frame: &[u8]) {
        if self.joined.capacity() == 0 {
            // As much as was waiting when the frames were taken (`reserve`): a batch that a
            // stalled connection's queue holds is not padded, and one that grows past the
            // hint doubles as a `Vec` does.
            self.joined = BytesMut::with_capacity(
                frame
                    .len()
                    .max(self.hint)
                    .min(MAX_BATCH_BYTES + frame.len()),
            );
        }
        self.joined.extend_from_slice(frame);
    }

    /// Makes room for about `more` bytes (at most a whole batch), now or at the first frame.
    fn reserve(&mut self, more: usize) {
        if self.joined.capacity() == 0 {
            self.hint = more.min(MAX_BATCH_BYTES);
        } else {
            let room = MAX_BATCH_BYTES.saturating_sub(self.joined.len());
            self.joined.reserve(more.min(room));
        }
    }

    fn is_empty(&self) -> bool {
        self.joined.is_empty()
    }

    fn full(&self) -> bool {
        self.joined.len() >= MAX_BATCH_BYTES
    }

    fn take(self) -> Option<Bytes> {
        (!self.joined.is_empty()).then(|| self.joined.freeze())
    }
}

impl Reader {
    /// Gathers the live frames waiting into `batch`, applying the lag policy; `Pending` when
    /// there were none and the waker is registered for the next, through `next_send`.
    fn read_live(
        &mut self,
        batch: &mut Batch,
        mut next_send: Pin<&mut Option<OwnedNotified>>,
        cx: &mut Context<'_>,
    ) -> Poll<()> {
        let buffer = self.settings.buffer.max(1) as u64;
        loop {
            let last_id = &mut self.last_id;
            // The bytes are copied into the batch where the ring holds them. Taking handles
            // instead would touch a shared reference count twice per frame and subscriber
            // (with a thousand subscribers on two cores, a fifth of the server's time), and
            // would keep the frame's block alive while a stalled connection holds it.
            let mut count = 0;
            let read = self.live.read(|frame, waiting| {
                if count == 0 {
                    // Room for what is waiting, so that the batch grows without copying itself.
                    batch.reserve(frame.bytes().len() * (waiting as usize + 1));
                }
                *last_id = Some(frame.id());
                batch.push(frame.bytes());
                batch.frames += 1;
                count += 1;
                count < READ_PER_VISIT && !batch.full() && waiting <= buffer
            });
            match read {
                Read::Frames => {
                    // A client more than `buffer` behind the topic skips or leaves now, after
                    // the frames it took, before it reads a backlog it cannot catch up with.
                    if self.live.len() > buffer {
                        let (missed, last) = self.live.skip_all();
                        self.last_id = last;
                        if self.lag(missed, batch).is_err() {
                            return Poll::Ready(());
                        }
                    }
                    if batch.full() {
                        return Poll::Ready(());
                    }
                }
                Read::Lagged(dropped) => {
                    // The ring dropped frames this client never saw; the frames waiting after
                    // them are skipped too, so that the `lagged` event carries the last one's id.
                    let (skipped, last) = self.live.skip_all();
                    self.last_id = last;
                    if self.lag(dropped + skipped, batch).is_err() {
                        return Poll::Ready(());
                    }
                }
                Read::Closed => {
                    self.ended = true;
                    return Poll::Ready(());
                }
                Read::Empty if !batch.is_empty() => return Poll::Ready(()),
                Read::Empty => {
                    // Registered for the next send first, then one more look: a frame sent in
                    // between is read now rather than missed.
                    next_send.set(Some(self.live.next_send()));
                    let wait = next_send.as_mut().as_pin_mut().expect("set above");
                    if wait.poll(cx).is_pending() && self.live.nothing_waiting() {
                        return Poll::Pending;
                    }
                }
            }
        }
    }

    /// Applies the lag policy to `missed` skipped frames: the `lagged` frame joins the batch, or
    /// the disconnect is noted for after it.
    fn lag(&mut self, missed: u64, batch: &mut Batch) -> Result<(), ()> {
        match self.lagged(missed) {
            Ok(frame) => {
                batch.push(&frame);
                Ok(())
            }
            Err(abort) => {
                self.abort = Some(abort);
                Err(())
            }
        }
    }

    fn poll_next(
        &mut self,
        next_send: Pin<&mut Option<OwnedNotified>>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<SourceItem>> {
        if self.ended {
            return Poll::Ready(None);
        }
        if let Some(abort) = self.abort.take() {
            self.ended = true;
            return Poll::Ready(Some(Err(abort)));
        }
        let mut batch = Batch::default();
        if let Some(reset) = self.reset.take() {
            batch.push(&reset.frame());
        } else if std::mem::take(&mut self.position_due) {
            // `last_id` is still the head: nothing was read before this first poll.
            if let Some(head) = self.last_id {
                push_position(&mut batch, head);
            }
        }
        if let Some(backlog) = &mut self.backlog {
            for frame in backlog.by_ref() {
                self.last_id = Some(frame.id);
                batch.push(&frame.bytes);
                batch.frames += 1;
                if batch.full() {
                    break;
                }
            }
            if backlog.len() == 0 {
                // The iterator keeps the backlog's buffer until dropped: free it now, rather
                // than for the life of a resumed client's connection.
                self.backlog = None;
            }
        }
        if !batch.full()
            && self.backlog.is_none()
            && self.read_live(&mut batch, next_send, cx).is_pending()
        {
            return Poll::Pending;
        }
        let frames = batch.frames;
        match batch.take() {
            Some(frame) => {
                self.sent += frames;
                Poll::Ready(Some(Ok(Sent {
                    frame,
                    count: self.sent,
                })))
            }
            // Gathered frames, the position frame included, reach the client before the
            // disconnect, so the id it reconnects with is the last one it was sent.
            None => match self.abort.take() {
                Some(abort) => {
                    self.ended = true;
                    Poll::Ready(Some(Err(abort)))
                }
                None if self.ended => Poll::Ready(None),
                None => Poll::Pending,
            },
        }
    }
}

impl Stream for HubSource {
    type Item = SourceItem;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<SourceItem>> {
        let this = self.project();
        this.reader.poll_next(this.next_send, cx)
    }
}
