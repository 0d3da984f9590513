//! The `from hub(...)` source: one connection's subscription, with its lag policy.
//!
//! Frames that are ready together are written together, as one chunk: under load a connection
//! makes one write per batch instead of one per event.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use futures::Stream;
use tokio::sync::broadcast::{self, error::RecvError, error::TryRecvError};
use tokio_util::sync::ReusableBoxFuture;

use super::transport::{HubFrame, Subscription};
use super::EventId;
use crate::body::{Abort, Sent, SourceItem};
use crate::settings::Settings;

/// A batch stops growing at this size; the next poll continues.
const MAX_BATCH_BYTES: usize = 64 * 1024;

/// What happens to a client more than `buffer` events behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnLag {
    /// Skip to the newest events and tell the client: a `lagged` event, data `{"missed": n}`.
    Skip,
    /// End the stream (no close event) after the frames already gathered for it; the browser
    /// reconnects with `Last-Event-ID` and replays from the buffer.
    Disconnect,
}

type Received = (Result<HubFrame, RecvError>, broadcast::Receiver<HubFrame>);

async fn receive(mut live: broadcast::Receiver<HubFrame>) -> Received {
    let result = live.recv().await;
    (result, live)
}

pub(crate) struct HubSource {
    /// Sent before any frame: the `reset` event, or the id-only position frame.
    first: Option<Bytes>,
    backlog: std::vec::IntoIter<HubFrame>,
    next: ReusableBoxFuture<'static, Received>,
    buffer: usize,
    on_lag: OnLag,
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
        let first = match subscription.reset {
            Some(reset) => Some(reset.frame()),
            None if subscription.backlog.is_empty() => Some(position_frame(subscription.head)),
            None => None,
        };
        HubSource {
            first,
            backlog: subscription.backlog.into_iter(),
            next: ReusableBoxFuture::new(receive(subscription.live)),
            buffer: settings.buffer.max(1),
            on_lag: settings.on_lag,
            settings,
            last_id: Some(subscription.head),
            sent: 0,
            abort: None,
            ended: false,
        }
    }

    /// The client is `missed` events behind: apply the policy. `Ok` carries the `lagged` frame.
    fn lagged(&mut self, missed: u64) -> Result<Bytes, Abort> {
        tracing::warn!(route = self.settings.route, missed, policy = ?self.on_lag, "client lagging");
        self.settings.metrics.dropped(missed);
        match self.on_lag {
            OnLag::Disconnect => Err(Abort::Lagged(missed)),
            OnLag::Skip => Ok(lagged_frame(self.last_id, missed)),
        }
    }

    /// The client is more than `buffer` behind: skips every frame waiting in `live`, noting the
    /// last one's id so that the `lagged` event's id is where a reconnect resumes.
    fn skip_waiting(&mut self, live: &mut broadcast::Receiver<HubFrame>) -> u64 {
        let mut missed = 0;
        loop {
            match live.try_recv() {
                Ok(frame) => {
                    self.last_id = Some(frame.id);
                    missed += 1;
                }
                Err(TryRecvError::Lagged(dropped)) => {
                    self.last_id = None;
                    missed += dropped;
                }
                Err(TryRecvError::Empty | TryRecvError::Closed) => return missed,
            }
        }
    }
}

fn position_frame(head: EventId) -> Bytes {
    Bytes::from(format!("id: {head}\n\n"))
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

/// What the live receiver had.
enum Got {
    Frame(HubFrame),
    Lagged(u64),
    Closed,
    Empty,
}

impl From<Result<HubFrame, RecvError>> for Got {
    fn from(received: Result<HubFrame, RecvError>) -> Self {
        match received {
            Ok(frame) => Got::Frame(frame),
            Err(RecvError::Lagged(missed)) => Got::Lagged(missed),
            Err(RecvError::Closed) => Got::Closed,
        }
    }
}

impl From<Result<HubFrame, TryRecvError>> for Got {
    fn from(received: Result<HubFrame, TryRecvError>) -> Self {
        match received {
            Ok(frame) => Got::Frame(frame),
            Err(TryRecvError::Lagged(missed)) => Got::Lagged(missed),
            Err(TryRecvError::Closed) => Got::Closed,
            Err(TryRecvError::Empty) => Got::Empty,
        }
    }
}

/// Frames gathered for one write.
#[derive(Default)]
struct Batch {
    first: Option<Bytes>,
    rest: Option<BytesMut>,
    len: usize,
    frames: u64,
}

impl Batch {
    fn push(&mut self, frame: Bytes) {
        self.len += frame.len();
        match (&self.first, &mut self.rest) {
            (None, _) => self.first = Some(frame),
            (Some(first), None) => {
                let mut joined = BytesMut::with_capacity((first.len() + frame.len()) * 4);
                joined.extend_from_slice(first);
                joined.extend_from_slice(&frame);
                self.rest = Some(joined);
            }
            (Some(_), Some(joined)) => joined.extend_from_slice(&frame),
        }
    }

    fn full(&self) -> bool {
        self.len >= MAX_BATCH_BYTES
    }

    /// One frame goes out as is, without a copy.
    fn take(self) -> Option<Bytes> {
        match self.rest {
            Some(joined) => Some(joined.freeze()),
            None => self.first,
        }
    }
}

impl Stream for HubSource {
    type Item = SourceItem;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<SourceItem>> {
        let this = self.get_mut();
        if this.ended {
            return Poll::Ready(None);
        }
        if let Some(abort) = this.abort.take() {
            this.ended = true;
            return Poll::Ready(Some(Err(abort)));
        }
        let mut batch = Batch::default();
        if let Some(first) = this.first.take() {
            batch.push(first);
        }
        for frame in this.backlog.by_ref() {
            this.last_id = Some(frame.id);
            batch.push(frame.bytes);
            batch.frames += 1;
            if batch.full() {
                break;
            }
        }
        if !batch.full() && this.backlog.len() == 0 {
            if let Poll::Ready((result, mut live)) = this.next.poll(cx) {
                let mut next = Some(result);
                loop {
                    let got = match next.take() {
                        Some(received) => Got::from(received),
                        None => Got::from(live.try_recv()),
                    };
                    match got {
                        Got::Frame(frame) => {
                            this.last_id = Some(frame.id);
                            batch.push(frame.bytes);
                            batch.frames += 1;
                        }
                        Got::Lagged(dropped) => {
                            // The channel dropped frames this client never saw, whose ids are
                            // not known here; the frames waiting after them are skipped too,
                            // so that the `lagged` event carries the last one's id.
                            this.last_id = None;
                            let missed = dropped + this.skip_waiting(&mut live);
                            match this.lagged(missed) {
                                Ok(frame) => batch.push(frame),
                                Err(abort) => {
                                    this.abort = Some(abort);
                                    break;
                                }
                            }
                        }
                        Got::Closed => {
                            this.ended = true;
                            break;
                        }
                        Got::Empty => break,
                    }
                    // A client more than `buffer` behind the topic skips or leaves now, before
                    // it reads a backlog it cannot catch up with.
                    if live.len() > this.buffer {
                        let missed = this.skip_waiting(&mut live);
                        match this.lagged(missed) {
                            Ok(frame) => batch.push(frame),
                            Err(abort) => {
                                this.abort = Some(abort);
                                break;
                            }
                        }
                    }
                    if batch.full() {
                        break;
                    }
                }
                if !this.ended && this.abort.is_none() {
                    this.next.set(receive(live));
                    // Registers the waker for the next frame (or finds one already there).
                    if batch.first.is_none() {
                        return Pin::new(this).poll_next(cx);
                    }
                }
            }
        }
        let frames = batch.frames;
        match batch.take() {
            Some(frame) => {
                this.sent += frames;
                Poll::Ready(Some(Ok(Sent {
                    frame,
                    count: this.sent,
                })))
            }
            // Gathered frames, the position frame included, reach the client before the
            // disconnect, so the id it reconnects with is the last one it was sent.
            None => match this.abort.take() {
                Some(abort) => {
                    this.ended = true;
                    Poll::Ready(Some(Err(abort)))
                }
                None if this.ended => Poll::Ready(None),
                None => Poll::Pending,
            },
        }
    }
}
