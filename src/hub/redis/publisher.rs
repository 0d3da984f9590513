//! Publishing: each `publish` joins a queue at the moment it is called, and one writer sends
//! whatever has queued up as a single pipeline of `XADD`s, one round trip for the lot.
//!
//! So events are stored in the order `publish` was called, whether or not each call is awaited
//! before the next (or at all), and a burst of publishes (from one task or many) costs Redis one round trip
//! per batch rather than one per event.

use std::sync::Arc;
use std::time::Duration;

use redis::Value;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::{entries, Shared};
use crate::hub::transport::{Outgoing, TransportError, TransportFuture};
use crate::hub::{EventId, PublishError};

/// Publishes waiting to be sent at most: past it, `publish` fails at once rather than queue
/// without bound while Redis is slow.
pub(super) const QUEUE: usize = 65_536;
/// Events sent in one pipeline at most.
const BATCH: usize = 1024;

type Reply = oneshot::Sender<Result<EventId, TransportError>>;

/// One publish waiting for its pipeline.
pub(super) struct Queued {
    key: String,
    event: Outgoing,
    reply: Reply,
}

/// The queue's sending side, kept by the transport.
pub(super) struct Publisher {
    queue: mpsc::Sender<Queued>,
    timeout: Duration,
}

impl Publisher {
    /// A publisher whose writer runs until `stop`.
    pub(super) fn start(shared: Arc<Shared>, stop: CancellationToken) -> Publisher {
        let (queue, waiting) = mpsc::channel(QUEUE);
        let timeout = shared.timeout;
        tokio::spawn(write(shared, waiting, stop));
        Publisher { queue, timeout }
    }

    /// Queues `event` for `key` now; the future resolves to its id once Redis stored it, or to
    /// an error after the timeout.
    pub(super) fn publish(
        &self,
        key: String,
        event: Outgoing,
    ) -> TransportFuture<Result<EventId, PublishError>> {
        let (reply, stored) = oneshot::channel();
        if let Err(refused) = self.queue.try_send(Queued { key, event, reply }) {
            let why = match refused {
                mpsc::error::TrySendError::Full(_) => "too many publishes are waiting for redis",
                mpsc::error::TrySendError::Closed(_) => "the transport has stopped",
            };
            return TransportFuture::ready(Err(PublishError::Transport(TransportError::new(why))));
        }
        let timeout = self.timeout;
        TransportFuture::new(async move {
            let stored = match tokio::time::timeout(timeout, stored).await {
                Ok(Ok(stored)) => stored,
                Ok(Err(_)) => Err(TransportError::new("the transport has stopped")),
                Err(_) => Err(TransportError::new(format!(
                    "redis did not store the event within {timeout:?}"
                ))),
            };
            stored.map_err(PublishError::Transport)
        })
    }
}

/// The writer: takes what has queued up, sends it as one pipeline, answers each publish.
async fn write(shared: Arc<Shared>, mut waiting: mpsc::Receiver<Queued>, stop: CancellationToken) {
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        let received = tokio::select! {
            () = stop.cancelled() => return,
            received = waiting.recv_many(&mut batch, BATCH) => received,
        };
        if received == 0 {
            return;
        }
        // Every queued publish is sent, awaited or not: publishing takes effect when `publish`
        // is called, as with the in-process transport. A caller that timed out was told it
        // failed; the event may still be stored (docs/scaling.md says so).
        let mut pipe = redis::pipe();
        for queued in &batch {
            let (name, kind, data) = queued.event.stored();
            pipe.cmd("XADD")
                .arg(&queued.key)
                .arg("MAXLEN")
                .arg("~")
                .arg(shared.kept)
                .arg("*")
                .arg("event")
                .arg(name)
                .arg("kind")
                .arg(kind)
                .arg("data")
                .arg(data);
        }
        let mut connection = shared.commands.clone();
        let stored: Result<Vec<Value>, TransportError> =
            shared.within(pipe.query_async(&mut connection)).await;
        match stored {
            Ok(ids) => {
                for (queued, id) in batch.drain(..).zip(ids) {
                    let id = entries::id(id)
                        .ok_or_else(|| TransportError::new("XADD answered without an id"));
                    let _ = queued.reply.send(id);
                }
            }
            Err(error) => {
                for queued in batch.drain(..) {
                    let _ = queued.reply.send(Err(error.clone()));
                }
            }
        }
        // Anything left unanswered (a short reply) is told it failed when dropped here.
        batch.clear();
    }
}
