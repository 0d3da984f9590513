//! A server's reader: one connection, one blocking `XREAD` over every topic this server's
//! clients watch, each entry framed once and sent to the topic's local subscribers.
//!
//! The reader reads each topic after its position (the last id it delivered), so a Redis that
//! goes away and comes back costs no event: on reconnecting it reads on from there. Before that,
//! it checks that each position is still an entry of its stream; one that is gone means Redis
//! came back without its data, and the topic's subscribers are sent `reset`.

use std::sync::Arc;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::AsyncConnectionConfig;
use tokio_util::sync::CancellationToken;

use super::entries::{self, Entry};
use super::{Shared, ZERO};
use crate::hub::transport::{HubFrame, ResetFrom, TransportError};
use crate::hub::EventId;

/// How long one `XREAD` blocks before it is issued again (with the topics watched by then).
const BLOCK: Duration = Duration::from_secs(5);
/// Entries read per topic per `XREAD`.
const BATCH: usize = 1024;
/// The longest wait between attempts to reach Redis again.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

pub(super) async fn run(shared: Arc<Shared>, mut wake_position: EventId, stop: CancellationToken) {
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(shared.timeout))
        // A connection that silently died must not hold the reader for ever.
        .set_response_timeout(Some(BLOCK + shared.timeout));
    let mut connection: Option<MultiplexedConnection> = None;
    let mut backoff = Duration::from_millis(50);
    // Set once reading failed: positions are checked before reading resumes.
    let mut recovering = false;
    loop {
        let Some(current) = connection.as_mut() else {
            let connecting = shared
                .client
                .get_multiplexed_async_connection_with_config(&config);
            let connected = tokio::select! {
                () = stop.cancelled() => break,
                connected = connecting => connected,
            };
            match connected {
                Ok(opened) => {
                    connection = Some(opened);
                    backoff = Duration::from_millis(50);
                }
                Err(error) => {
                    tracing::debug!(%error, ?backoff, "redis unreachable; retrying");
                    tokio::select! {
                        () = stop.cancelled() => break,
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
            continue;
        };
        if recovering {
            match check_positions(&shared, current).await {
                Ok(()) => {
                    tracing::info!("redis reachable again; reading on from the last ids delivered");
                    recovering = false;
                }
                Err(error) => {
                    tracing::debug!(%error, "redis not ready yet");
                    connection = None;
                    continue;
                }
            }
        }
        let watched = shared.watched();
        let mut cmd = redis::cmd("XREAD");
        cmd.arg("COUNT")
            .arg(BATCH)
            .arg("BLOCK")
            .arg(BLOCK.as_millis() as u64)
            .arg("STREAMS");
        for (topic, _) in &watched {
            cmd.arg(shared.key(topic));
        }
        cmd.arg(&shared.wake_key);
        for (_, position) in &watched {
            cmd.arg(position.to_string());
        }
        cmd.arg(wake_position.to_string());
        let reply = tokio::select! {
            () = stop.cancelled() => break,
            reply = cmd.query_async(current) => reply,
        };
        match reply {
            Ok(reply) => {
                for (key, read) in entries::read(reply) {
                    if key == shared.wake_key.as_bytes() {
                        wake_position = read.last().map_or(wake_position, |entry| entry.id);
                    } else if let Some(topic) = key.strip_prefix(shared.key_prefix.as_bytes()) {
                        deliver(&shared, topic, read);
                    }
                }
            }
            Err(error) => {
                if !recovering {
                    tracing::warn!(%error, "reading from redis failed; open streams wait for it");
                }
                connection = None;
                recovering = true;
            }
        }
    }
    // Best effort: a key left behind expires within a day.
    let mut delete = redis::cmd("DEL");
    delete.arg(&shared.wake_key);
    let _ = shared.query(&delete).await;
}

/// Sends `read`'s entries that follow the topic's position to its subscribers, framed once.
fn deliver(shared: &Shared, topic: &[u8], read: Vec<Entry>) {
    let Ok(topic) = std::str::from_utf8(topic) else {
        return;
    };
    // Framed before the lock is taken; foreign entries are skipped but still move the position.
    let framed: Vec<(EventId, Option<HubFrame>)> =
        read.iter().map(|entry| (entry.id, entry.frame())).collect();
    let mut topics = shared.topics();
    let Some(topic) = topics.get_mut(topic) else {
        return;
    };
    for (id, frame) in framed {
        // A topic dropped and watched again meanwhile starts after its new position.
        if id <= topic.position {
            continue;
        }
        topic.position = id;
        if let Some(frame) = frame {
            // With no receivers the topic is dropped at the next read.
            topic.fanout.send(frame);
        }
    }
}

/// After Redis was out of reach: each topic's position must still be an entry of its stream.
/// Where it is not, Redis lost data (it came back empty, or from an older snapshot): the
/// topic's subscribers get `reset` and the topic reads on from the stream's newest entry.
async fn check_positions(
    shared: &Shared,
    connection: &mut MultiplexedConnection,
) -> Result<(), TransportError> {
    for (topic, position) in shared.watched() {
        if position == ZERO {
            // Nothing was there to lose: every entry now in the stream is new to its clients.
            continue;
        }
        let kept: redis::Value = shared
            .range_cmd(&topic, &position.to_string(), position, 1)
            .query_async(connection)
            .await
            .map_err(TransportError::new)?;
        if !entries::range(kept).is_empty() {
            continue;
        }
        let newest: redis::Value = shared
            .newest_cmd(&topic)
            .query_async(connection)
            .await
            .map_err(TransportError::new)?;
        let head = entries::range(newest)
            .first()
            .map_or(ZERO, |entry| entry.id);
        tracing::warn!(
            topic = &*topic,
            last_delivered = %position,
            newest = %head,
            "redis came back without this topic's last events; its clients are sent reset"
        );
        let mut topics = shared.topics();
        if let Some(watched) = topics.get_mut(&*topic) {
            if watched.position == position {
                let reset = ResetFrom {
                    last_event_id: position,
                    head,
                };
                watched.fanout.send(HubFrame {
                    id: head,
                    bytes: reset.frame(),
                });
                watched.position = head;
            }
        }
    }
    Ok(())
}

impl Shared {
    /// The topics some client of this server watches, with their positions; topics nobody
    /// watches any more are dropped here, so they are no longer read.
    pub(super) fn watched(&self) -> Vec<(Box<str>, EventId)> {
        let mut topics = self.topics();
        topics.retain(|_, topic| topic.fanout.receiver_count() > 0);
        topics
            .iter()
            .map(|(name, topic)| (name.clone(), topic.position))
            .collect()
    }
}
