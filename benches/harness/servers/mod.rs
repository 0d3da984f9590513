//! The three servers under test, each serving the same routes from the same data:
//!
//! - `GET /idle`: subscribes to topic `idle`, which never gets an event;
//! - `GET /feed`: subscribes to topic `feed`, where the harness publishes `{"seq":n,"t":ns}`;
//! - `GET /counting`: 1,000 ticks 1 ms apart, `{"msg":"Server count: i"}` with id `i`, then a
//!   `close` event: the macro's `every`/`until` endpoint and the same written by hand.

mod axum_sse;
mod ours;
mod warp_sse;

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use serde::Serialize;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpListener;

use super::client::unix_nanos;

/// How many events each topic holds before a slow client lags: more than a run publishes, so
/// every client can verify it received every event.
pub const CAPACITY: usize = 200_000;

/// One published event.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Tick {
    pub seq: u64,
    /// When it was published, in nanoseconds since the Unix epoch.
    pub t: u64,
}

/// Publishes an event on a topic of the server: `None` when it is done already, else the
/// future to await (a publish through a broker).
pub type Publish = Arc<dyn Fn(&str, Tick) -> Option<BoxFuture<'static, ()>> + Send + Sync>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// This crate's `event_stream!` endpoints and `Hub`.
    Ours,
    /// Hand-written `warp::sse` over a `tokio::sync::broadcast` channel.
    Warp,
    /// Hand-written `axum::response::sse` over a `tokio::sync::broadcast` channel.
    Axum,
    /// This crate under its own `serve` (write timeouts per connection and per HTTP/2 stream,
    /// the shutdown that ends streams) instead of `warp::serve`. Run it by name
    /// (`--server warp-eventstream+serve`); the default run leaves it out.
    OursServe,
    /// This crate's hub over `RedisTransport`: two server processes sharing one `redis-server`
    /// (fan-out and latency only).
    #[cfg(feature = "redis")]
    OursRedis,
    /// This crate with a Prometheus recorder installed: what the metrics cost. Run it by name
    /// (`--server warp-eventstream+prometheus`); the default run leaves it out.
    #[cfg(feature = "metrics")]
    OursPrometheus,
}

impl Kind {
    /// Every server, in the table's column order.
    pub const ALL: &[Kind] = &[
        Kind::Ours,
        Kind::Warp,
        Kind::Axum,
        #[cfg(feature = "redis")]
        Kind::OursRedis,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Ours => "warp-eventstream",
            Kind::OursServe => "warp-eventstream+serve",
            Kind::Warp => "warp::sse",
            Kind::Axum => "axum",
            #[cfg(feature = "redis")]
            Kind::OursRedis => "warp-eventstream+redis",
            #[cfg(feature = "metrics")]
            Kind::OursPrometheus => "warp-eventstream+prometheus",
        }
    }

    /// Every server the harness knows, the table's columns in this order.
    pub const KNOWN: &[Kind] = &[
        Kind::Ours,
        Kind::OursServe,
        #[cfg(feature = "metrics")]
        Kind::OursPrometheus,
        Kind::Warp,
        Kind::Axum,
        #[cfg(feature = "redis")]
        Kind::OursRedis,
    ];

    pub fn parse(name: &str) -> Option<Kind> {
        Kind::KNOWN.iter().copied().find(|kind| kind.name() == name)
    }

    /// Whether this server's hub goes through Redis: the run starts a `redis-server` and two
    /// server processes.
    #[cfg(feature = "redis")]
    pub fn through_redis(self) -> bool {
        self == Kind::OursRedis
    }
}

/// The send buffer (`SO_SNDBUF`) of every server's connections, set on the listener they are
/// accepted from. Autotuned (up to `tcp_wmem`'s 4 MiB), a thousand sockets that a fast server
/// fills ahead of the load generator held 2 GiB between them in fan-out, past the kernel's
/// TCP memory pressure threshold (see `super::netstat`). With the clients' `RECV_BUFFER`, a
/// thousand connections stay under it.
const SEND_BUFFER: u32 = 256 * 1024;

/// Set for a server whose heap the harness asks for (`heap` on its stdin).
pub const COUNT_HEAP: &str = "SSE_BENCH_COUNT_HEAP";

/// The environment variable that gives a Redis-backed server its Redis URL.
#[cfg(feature = "redis")]
pub const REDIS_URL: &str = "SSE_BENCH_REDIS_URL";

/// The child process's `main`: serve on an ephemeral loopback port, print it, obey stdin.
pub fn serve(kind: Kind) {
    if std::env::var_os(COUNT_HEAP).is_some() {
        super::heap::count();
    }
    // Pinned before the runtime starts, so that its worker threads inherit the mask.
    if let Ok(list) = std::env::var(super::affinity::SERVER_CPUS) {
        let cpus = super::affinity::parse(&list).expect("the harness checked the list");
        super::affinity::pin(&cpus).expect("the server's CPUs exist");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
        socket.set_reuseaddr(true).expect("SO_REUSEADDR");
        // Every server's connections inherit this send buffer (`SEND_BUFFER`).
        socket.set_send_buffer_size(SEND_BUFFER).expect("SO_SNDBUF");
        socket.bind(([127, 0, 0, 1], 0).into()).expect("a port");
        let listener: TcpListener = socket.listen(4096).expect("listening");
        let addr = listener.local_addr().expect("bound");
        let publish = match kind {
            Kind::Ours => ours::start(listener),
            Kind::OursServe => ours::start_with_serve(listener),
            Kind::Warp => warp_sse::start(listener),
            Kind::Axum => axum_sse::start(listener),
            #[cfg(feature = "redis")]
            Kind::OursRedis => {
                let url = std::env::var(REDIS_URL).expect("the harness sets the Redis URL");
                ours::start_redis(listener, &url).await
            }
            #[cfg(feature = "metrics")]
            Kind::OursPrometheus => {
                metrics_exporter_prometheus::PrometheusBuilder::new()
                    .install_recorder()
                    .expect("the only recorder of this server");
                ours::start(listener)
            }
        };
        println!("listening {addr}");
        obey(publish).await;
    });
    // The parent closed stdin: it is done with this server.
    runtime.shutdown_timeout(Duration::from_millis(100));
}

/// The CPU time this thread has used.
fn thread_cpu() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `clock_gettime` writes one `timespec`, which `now` is.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    assert_eq!(status, 0, "the thread CPU clock exists on Linux");
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

async fn obey(publish: Publish) {
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words == ["heap"] {
            println!("heap {}", super::heap::snapshot());
            continue;
        }
        let ["publish", topic, count, rate] = words[..] else {
            println!("unknown command {line:?}");
            continue;
        };
        let (Ok(count), Ok(rate)) = (count.parse::<u64>(), rate.parse::<u64>()) else {
            println!("bad numbers in {line:?}");
            continue;
        };
        let (took, busy) = publish_many(&publish, topic, count, rate).await;
        println!("published {} {}", took.as_nanos(), busy.as_nanos());
    }
}

/// Publishes not yet known to be stored, at most: a publisher that goes flat out through a
/// broker keeps this many on their way (the transport stores them in call order, pipelined).
const IN_FLIGHT: usize = 1024;

/// Publishes `count` ticks, `rate` per second (0: flat out, yielding now and then so the
/// runtime's other tasks keep running on this worker); returns when every one is stored: how
/// long that took, and the CPU time the publishing itself used (on whichever worker thread
/// it ran; not the tasks it yielded to, not waiting for a broker, not time the thread was
/// preempted).
async fn publish_many(
    publish: &Publish,
    topic: &str,
    count: u64,
    rate: u64,
) -> (Duration, Duration) {
    let started = Instant::now();
    let mut busy = Duration::ZERO;
    let mut running = thread_cpu();
    let mut in_flight = std::collections::VecDeque::new();
    let mut pace = (rate > 0).then(|| {
        let mut interval = tokio::time::interval(Duration::from_nanos(1_000_000_000 / rate));
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        interval
    });
    for seq in 1..=count {
        match &mut pace {
            Some(interval) => {
                busy += thread_cpu().saturating_sub(running);
                interval.tick().await;
                running = thread_cpu();
            }
            None if seq % 256 == 0 => {
                busy += thread_cpu().saturating_sub(running);
                tokio::task::yield_now().await;
                running = thread_cpu();
            }
            None => {}
        }
        let tick = Tick {
            seq,
            t: unix_nanos(),
        };
        if let Some(pending) = publish(topic, tick) {
            in_flight.push_back(pending);
            if in_flight.len() > IN_FLIGHT {
                busy += thread_cpu().saturating_sub(running);
                in_flight.pop_front().expect("not empty").await;
                running = thread_cpu();
            }
        }
    }
    busy += thread_cpu().saturating_sub(running);
    for pending in in_flight {
        pending.await;
    }
    (started.elapsed(), busy)
}
