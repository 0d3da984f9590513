//! [`RedisTransport`]: one hub across many servers, through Redis streams.
//!
//! Each topic is one stream, `<prefix><topic>`, appended with `XADD … MAXLEN ~ <replay>`; the
//! entry id Redis assigns is the event's SSE `id:`, the same on every server. Each process reads
//! the topics its clients subscribe to with one blocking `XREAD` over all of them (see
//! [`reader`]), frames each entry once and fans it out through a [`Fanout`] per topic,
//! as the in-process transport does.

mod entries;
mod publisher;
mod reader;

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, Cmd, Value};
use tokio_util::sync::CancellationToken;

use self::entries::Entry;
use self::publisher::Publisher;
use super::fanout::{Fanout, FanoutReceiver};
use super::memory::CHANNEL_CAPACITY;
use super::transport::{
    HubFrame, Outgoing, ResetFrom, Subscription, Transport, TransportError, TransportFuture,
};
use super::{EventId, PublishError, DEFAULT_REPLAY};

/// How long `publish` (and a subscription's reads) wait for Redis by default.
pub const DEFAULT_PUBLISH_TIMEOUT: Duration = Duration::from_secs(2);

/// The fewest entries a topic's stream keeps, whatever `replay` says: a server whose reader is
/// briefly behind must still find the entries it has not read.
const MIN_KEPT: usize = 64;

/// The position of an empty stream: what Redis's `XREAD` reads after to get every entry.
const ZERO: EventId = EventId::pair(0, 0);

/// A [`Transport`] over Redis streams (or Valkey's): hubs on several servers that share one
/// Redis are one hub. Behind the cargo feature `redis`.
///
/// - Each topic is one Redis stream, `<key_prefix><topic>`, trimmed to about `replay` entries.
///   The entry id Redis assigns (`1700000000000-0`) is the event's `id:`, identical on every
///   server, so a browser that reconnects to any of them resumes exactly where it was.
/// - Each server reads the topics its own clients watch, over one connection, and frames each
///   event once; a topic whose last local client left is no longer read. Publishing and
///   subscribing share a second connection.
/// - [`Hub::publish`](crate::Hub::publish) resolves once Redis has stored the event, and fails
///   with [`PublishError::Transport`] when Redis does not answer within the publish timeout
///   (2 s by default).
/// - While Redis is unreachable, open streams stay open (keep-alives go on) and reading resumes
///   from the last id delivered when it is back: every event Redis stored reaches every open
///   stream once. If it comes back without the data, clients are sent `reset`. A client that
///   connects meanwhile is answered with an empty stream, which a browser retries.
///
/// ```no_run
/// use warp_eventstream::{event_stream, Hub, RedisTransport};
///
/// # #[tokio::main]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let transport = RedisTransport::connect("redis://127.0.0.1:6379").await?;
/// let chat: Hub<String> = Hub::with_transport(transport);
/// let rooms = event_stream! {
///     route "/rooms" / room: String / "events"
///     from hub(chat.clone(), room)
/// };
/// let id = chat.publish("lobby", "hello".to_owned()).await?;
/// println!("published as {id}");
/// # let _ = rooms;
/// # Ok(())
/// # }
/// ```
pub struct RedisTransport {
    shared: Arc<Shared>,
    publisher: Publisher,
    /// Stops this server's reader when the transport (the last hub holding it) is dropped.
    stop: CancellationToken,
}

/// What the transport and its reader share.
struct Shared {
    /// Commands that answer at once: `XADD`, `XRANGE`, `XREVRANGE`. Reconnects on its own.
    commands: ConnectionManager,
    /// Where the reader opens its own connection, which blocks in `XREAD`.
    client: Client,
    key_prefix: String,
    /// `MAXLEN ~` of each topic's stream.
    kept: usize,
    timeout: Duration,
    topics: Mutex<HashMap<Box<str>, Topic>>,
    /// A stream of this server's own, read with the topics: an entry added to it wakes the
    /// reader's `XREAD` to take in a new topic.
    wake_key: String,
}

/// A topic some client of this server watches.
struct Topic {
    fanout: Fanout,
    /// The id of the last entry sent to this server's subscribers (or where reading starts):
    /// what the reader reads after.
    position: EventId,
}

/// Options for a [`RedisTransport`], from [`RedisTransport::builder`].
///
/// ```no_run
/// use std::time::Duration;
/// use warp_eventstream::RedisTransport;
///
/// # #[tokio::main]
/// # async fn main() -> Result<(), warp_eventstream::TransportError> {
/// let transport = RedisTransport::builder("redis://127.0.0.1:6379")
///     .replay(10_000)                            // events kept per topic for resume
///     .key_prefix("chat:")                       // one Redis stream per topic: "chat:<topic>"
///     .publish_timeout(Duration::from_secs(1))   // publish fails after this long
///     .connect()
///     .await?;
/// # let _ = transport;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct RedisTransportBuilder {
    url: String,
    replay: usize,
    key_prefix: String,
    timeout: Duration,
}

impl RedisTransport {
    /// Connects with the defaults: replay [`DEFAULT_REPLAY`] events per topic, keys prefixed
    /// `sse:`, publish timeout 2 s. Fails when Redis cannot be reached now.
    ///
    /// ```no_run
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), warp_eventstream::TransportError> {
    /// let transport = warp_eventstream::RedisTransport::connect("redis://127.0.0.1:6379").await?;
    /// # let _ = transport;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn connect(url: &str) -> Result<RedisTransport, TransportError> {
        RedisTransport::builder(url).connect().await
    }

    /// Options beyond the defaults: [`replay`](RedisTransportBuilder::replay),
    /// [`key_prefix`](RedisTransportBuilder::key_prefix),
    /// [`publish_timeout`](RedisTransportBuilder::publish_timeout).
    ///
    /// ```
    /// let builder = warp_eventstream::RedisTransport::builder("redis://127.0.0.1:6379").replay(64);
    /// # let _ = builder;
    /// ```
    pub fn builder(url: &str) -> RedisTransportBuilder {
        RedisTransportBuilder {
            url: url.to_owned(),
            replay: DEFAULT_REPLAY,
            key_prefix: "sse:".to_owned(),
            timeout: DEFAULT_PUBLISH_TIMEOUT,
        }
    }
}

impl RedisTransportBuilder {
    /// How many events each topic keeps for reconnecting clients (about: Redis trims whole
    /// blocks of entries, so slightly more may be kept). At least 64 are kept whatever this
    /// says, so that another server's reader that is briefly behind still finds them.
    ///
    /// ```
    /// let builder = warp_eventstream::RedisTransport::builder("redis://127.0.0.1").replay(10_000);
    /// # let _ = builder;
    /// ```
    pub fn replay(mut self, events: usize) -> Self {
        self.replay = events;
        self
    }

    /// What each topic's Redis key starts with (default `sse:`): topic `lobby` is the stream
    /// `sse:lobby`. Servers share topics when they share Redis and the prefix.
    ///
    /// ```
    /// let builder = warp_eventstream::RedisTransport::builder("redis://127.0.0.1").key_prefix("chat:");
    /// # let _ = builder;
    /// ```
    pub fn key_prefix(mut self, prefix: &str) -> Self {
        self.key_prefix = prefix.to_owned();
        self
    }

    /// How long a publish (or a new subscription's read) waits for Redis before it fails
    /// (default 2 s).
    ///
    /// ```
    /// use std::time::Duration;
    /// let builder = warp_eventstream::RedisTransport::builder("redis://127.0.0.1")
    ///     .publish_timeout(Duration::from_millis(500));
    /// # let _ = builder;
    /// ```
    pub fn publish_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Connects, and starts this server's reader on the current tokio runtime. Fails when the
    /// URL is not a Redis URL or Redis cannot be reached now.
    ///
    /// ```no_run
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), warp_eventstream::TransportError> {
    /// let transport = warp_eventstream::RedisTransport::builder("redis://127.0.0.1:6379")
    ///     .connect()
    ///     .await?;
    /// # let _ = transport;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn connect(self) -> Result<RedisTransport, TransportError> {
        let client = Client::open(self.url.as_str()).map_err(TransportError::new)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout))
            .set_number_of_retries(1);
        let commands = ConnectionManager::new_with_config(client.clone(), config)
            .await
            .map_err(TransportError::new)?;
        let shared = Arc::new(Shared {
            commands,
            client,
            wake_key: format!("{}{{wake}}:{}", self.key_prefix, instance_name()),
            key_prefix: self.key_prefix,
            kept: self.replay.max(MIN_KEPT),
            timeout: self.timeout,
            topics: Mutex::new(HashMap::new()),
        });
        let wake_position = shared.wake().await?;
        let stop = CancellationToken::new();
        tokio::spawn(reader::run(shared.clone(), wake_position, stop.clone()));
        let publisher = Publisher::start(shared.clone(), stop.clone());
        Ok(RedisTransport {
            shared,
            publisher,
            stop,
        })
    }
}

/// A name for this transport's wake stream that no other transport picks: this process's id,
/// the time, and a count of the transports this process made.
fn instance_name() -> String {
    static MADE: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos());
    let made = MADE.fetch_add(1, Ordering::Relaxed);
    format!("{:x}-{nanos:x}-{made}", std::process::id())
}

impl fmt::Debug for RedisTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisTransport")
            .field("key_prefix", &self.shared.key_prefix)
            .field("kept", &self.shared.kept)
            .finish_non_exhaustive()
    }
}

impl Drop for RedisTransport {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl Shared {
    fn key(&self, topic: &str) -> String {
        format!("{}{topic}", self.key_prefix)
    }

    fn topics(&self) -> std::sync::MutexGuard<'_, HashMap<Box<str>, Topic>> {
        // No user code runs under this lock, so a poisoned lock still holds consistent topics.
        self.topics
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `cmd` on the command connection, failing after the timeout.
    async fn query(&self, cmd: &Cmd) -> Result<Value, TransportError> {
        let mut connection = self.commands.clone();
        self.within(cmd.query_async(&mut connection)).await
    }

    /// Waits for Redis's answer to `request` for the timeout at most.
    async fn within<T>(
        &self,
        request: impl std::future::Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, TransportError> {
        match tokio::time::timeout(self.timeout, request).await {
            Ok(reply) => reply.map_err(TransportError::new),
            Err(_) => Err(TransportError::new(format!(
                "redis did not answer within {:?}",
                self.timeout
            ))),
        }
    }

    /// `XREVRANGE` of `topic`'s newest entry.
    fn newest_cmd(&self, topic: &str) -> Cmd {
        let mut cmd = redis::cmd("XREVRANGE");
        cmd.arg(self.key(topic))
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(1);
        cmd
    }

    /// `XRANGE` of `topic`'s entries from `first` (inclusive) to `last`, at most `count`.
    fn range_cmd(&self, topic: &str, first: &str, last: EventId, count: usize) -> Cmd {
        let mut cmd = redis::cmd("XRANGE");
        cmd.arg(self.key(topic))
            .arg(first)
            .arg(last.to_string())
            .arg("COUNT")
            .arg(count);
        cmd
    }

    /// Adds an entry to this server's wake stream (which an `XREAD` on it returns at once);
    /// returns its id.
    async fn wake(&self) -> Result<EventId, TransportError> {
        let mut pipe = redis::pipe();
        pipe.cmd("XADD")
            .arg(&self.wake_key)
            .arg("MAXLEN")
            .arg(1)
            .arg("*")
            .arg("w")
            .arg(1)
            // A server that stops without deleting it leaves one small key, gone within a day.
            .cmd("EXPIRE")
            .arg(&self.wake_key)
            .arg(86_400)
            .ignore();
        let mut connection = self.commands.clone();
        let replies: Vec<Value> = self.within(pipe.query_async(&mut connection)).await?;
        replies
            .into_iter()
            .next()
            .and_then(entries::id)
            .ok_or_else(|| TransportError::new("XADD answered without an id"))
    }

    /// The id of the newest entry of `topic` (`0-0` for an empty or missing stream).
    async fn newest(&self, topic: &str) -> Result<EventId, TransportError> {
        let newest = entries::range(self.query(&self.newest_cmd(topic)).await?);
        Ok(newest.first().map_or(ZERO, |entry| entry.id))
    }

    /// Entries of `topic` from `first` (inclusive) to `last`, at most `count`.
    async fn range(
        &self,
        topic: &str,
        first: &str,
        last: EventId,
        count: usize,
    ) -> Result<Vec<Entry>, TransportError> {
        let cmd = self.range_cmd(topic, first, last, count);
        Ok(entries::range(self.query(&cmd).await?))
    }

    /// Whether every entry ever added to `topic` is still there (nothing was trimmed or lost).
    async fn never_trimmed(&self, topic: &str) -> Result<bool, TransportError> {
        let mut exists = redis::cmd("EXISTS");
        exists.arg(self.key(topic));
        if self.query(&exists).await? == Value::Int(0) {
            // Nothing was ever added, or all of it went with a restart: nothing kept is missing.
            return Ok(true);
        }
        let mut cmd = redis::cmd("XINFO");
        cmd.arg("STREAM").arg(self.key(topic));
        let fields: Vec<(Value, Value)> = match self.query(&cmd).await? {
            Value::Array(flat) => {
                let mut flat = flat.into_iter();
                std::iter::from_fn(|| Some((flat.next()?, flat.next()?))).collect()
            }
            Value::Map(pairs) => pairs,
            _ => return Ok(false),
        };
        Ok(fields.into_iter().any(|(name, value)| {
            matches!(&name, Value::BulkString(n) if n == b"max-deleted-entry-id")
                && entries::id(value) == Some(ZERO)
        }))
    }

    /// Takes a place in `topic`'s fan-out: its receiver, and the position it follows. A topic
    /// new to this server starts at the stream's newest entry, and wakes the reader.
    async fn join(&self, topic: &str) -> Result<(FanoutReceiver, EventId), TransportError> {
        if let Some(topic) = self.topics().get(topic) {
            return Ok((topic.fanout.subscribe(), topic.position));
        }
        let newest = self.newest(topic).await?;
        let joined = {
            let mut topics = self.topics();
            let known = topics.contains_key(topic);
            let entry = topics.entry(topic.into()).or_insert_with(|| Topic {
                fanout: Fanout::new(CHANNEL_CAPACITY.max(self.kept)),
                position: newest,
            });
            (entry.fanout.subscribe(), entry.position, known)
        };
        let (live, position, known) = joined;
        if !known {
            self.wake().await?;
        }
        Ok((live, position))
    }

    async fn subscribe(
        self: Arc<Self>,
        topic: String,
        after: Option<EventId>,
    ) -> Result<Subscription, TransportError> {
        let (mut live, position) = self.join(&topic).await?;
        let start = match after {
            None => Start::Live,
            Some(after) if after == position => Start::Live,
            Some(after) if after < position => self.behind(&topic, after, position).await?,
            Some(after) => self.ahead(&topic, after, &mut live).await?,
        };
        let (head, backlog, reset) = match start {
            Start::Live => (position, Vec::new(), None),
            Start::Backlog(backlog) => (position, backlog, None),
            Start::Reset(last_event_id) => (
                position,
                Vec::new(),
                Some(ResetFrom {
                    last_event_id,
                    head: position,
                }),
            ),
            Start::After(head, backlog) => (head, backlog, None),
        };
        Ok(Subscription {
            head,
            backlog,
            reset,
            live,
        })
    }

    /// A client behind this server's position: the entries after `after` up to `position` are
    /// its backlog, provided `after` itself is still kept (so nothing between was trimmed or
    /// lost); else it is reset.
    async fn behind(
        &self,
        topic: &str,
        after: EventId,
        position: EventId,
    ) -> Result<Start, TransportError> {
        let (first, skip) = if after == ZERO {
            if !self.never_trimmed(topic).await? {
                return Ok(Start::Reset(after));
            }
            ("-".to_owned(), 0)
        } else {
            (after.to_string(), 1)
        };
        // More than the stream keeps after `after` means the client is too far behind.
        let limit = self.kept + self.kept / 2 + 200;
        let entries = self.range(topic, &first, position, limit + 1).await?;
        let kept_after = skip == 0 || entries.first().is_some_and(|entry| entry.id == after);
        let complete = entries.last().is_some_and(|entry| entry.id == position);
        if !kept_after || !complete {
            return Ok(Start::Reset(after));
        }
        Ok(Start::Backlog(
            entries.iter().skip(skip).filter_map(Entry::frame).collect(),
        ))
    }

    /// A client ahead of this server's reader (it came from a server that had read further):
    /// once `after` is confirmed as an entry of the topic, the live frames up to it are dropped,
    /// so the client gets what follows it, once.
    async fn ahead(
        &self,
        topic: &str,
        after: EventId,
        live: &mut FanoutReceiver,
    ) -> Result<Start, TransportError> {
        let confirmed = self.range(topic, &after.to_string(), after, 1).await?;
        if confirmed.first().map(|entry| entry.id) != Some(after) {
            return Ok(Start::Reset(after));
        }
        let caught_up = async {
            loop {
                match live.recv().await {
                    Ok(frame) if frame.id < after => continue,
                    Ok(frame) if frame.id == after => return Ok(Vec::new()),
                    Ok(frame) => return Ok(vec![frame]),
                    Err(error) => return Err(TransportError::new(error)),
                }
            }
        };
        match tokio::time::timeout(self.timeout, caught_up).await {
            Ok(backlog) => Ok(Start::After(after, backlog?)),
            Err(_) => Err(TransportError::new(
                "this server's reader did not reach the client's Last-Event-ID in time",
            )),
        }
    }
}

/// Where a new subscriber starts, relative to the topic's position on this server.
enum Start {
    /// At the position: live frames only.
    Live,
    /// With these kept frames first.
    Backlog(Vec<HubFrame>),
    /// With `reset`: what it missed since this id is no longer kept.
    Reset(EventId),
    /// Past the position, at this id (the live frames up to it already dropped), with these
    /// frames first.
    After(EventId, Vec<HubFrame>),
}

impl Transport for RedisTransport {
    fn publish(
        &self,
        topic: &str,
        event: Outgoing,
    ) -> TransportFuture<Result<EventId, PublishError>> {
        self.publisher.publish(self.shared.key(topic), event)
    }

    fn subscribe(
        &self,
        topic: &str,
        after: Option<EventId>,
    ) -> TransportFuture<Result<Subscription, TransportError>> {
        TransportFuture::new(self.shared.clone().subscribe(topic.to_owned(), after))
    }

    fn parse_id(&self, id: &str) -> Option<EventId> {
        EventId::parse_pair(id)
    }

    fn subscribers(&self, topic: &str) -> usize {
        self.shared
            .topics()
            .get(topic)
            .map_or(0, |topic| topic.fanout.receiver_count())
    }
}
