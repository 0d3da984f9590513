//! The four workloads, each run against one server in a fresh child process.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio::task::JoinHandle;

use super::child::Child;
use super::client::{self, Conn, Tally};
use super::report::{Better, Figure};
use super::servers::Kind;

/// Sizes of one run of the harness.
#[derive(Debug, Clone)]
pub struct Sizes {
    pub idle_clients: usize,
    pub fanout_clients: usize,
    pub fanout_events: u64,
    pub latency_clients: usize,
    pub latency_rate: u64,
    pub latency_events: u64,
    /// Clients that stop reading during the `stalled` run, beside `latency_clients` healthy ones.
    pub stalled_clients: usize,
    /// The HTTP/2 runs: `idle_clients` streams over this many connections...
    pub idle_h2_connections: usize,
    /// ... and `fanout_clients` streams over this many.
    pub fanout_h2_connections: usize,
    pub counting_clients: usize,
    /// The longest any one scenario may take before it counts as failed.
    pub limit: Duration,
}

impl Sizes {
    /// The documented run: the numbers of docs/benchmarks.md.
    pub fn full() -> Sizes {
        Sizes {
            idle_clients: 10_000,
            fanout_clients: 1_000,
            fanout_events: 100_000,
            latency_clients: 1_000,
            latency_rate: 1_000,
            latency_events: 10_000,
            stalled_clients: 1_000,
            idle_h2_connections: 100,
            fanout_h2_connections: 10,
            counting_clients: 1_000,
            limit: Duration::from_secs(600),
        }
    }

    /// Seconds, small numbers: the test suite's run, so the harness never rots.
    pub fn quick() -> Sizes {
        Sizes {
            idle_clients: 200,
            fanout_clients: 20,
            fanout_events: 2_000,
            latency_clients: 20,
            latency_rate: 500,
            latency_events: 250,
            stalled_clients: 20,
            idle_h2_connections: 2,
            fanout_h2_connections: 2,
            counting_clients: 10,
            limit: Duration::from_secs(120),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    Idle,
    FanOut,
    Latency,
    Stalled,
    Counting,
    /// `Idle` with the streams over a few HTTP/2 connections.
    IdleH2,
    /// `FanOut` with the streams over a few HTTP/2 connections.
    FanOutH2,
}

impl Scenario {
    pub const ALL: [Scenario; 7] = [
        Scenario::Idle,
        Scenario::IdleH2,
        Scenario::FanOut,
        Scenario::FanOutH2,
        Scenario::Latency,
        Scenario::Stalled,
        Scenario::Counting,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scenario::Idle => "idle",
            Scenario::FanOut => "fan-out",
            Scenario::Latency => "latency",
            Scenario::Stalled => "stalled",
            Scenario::Counting => "counting",
            Scenario::IdleH2 => "idle-h2",
            Scenario::FanOutH2 => "fan-out-h2",
        }
    }

    /// Runs this workload against a fresh `kind` server; `Err` says what went wrong.
    pub async fn run(self, kind: Kind, sizes: &Sizes) -> Result<Vec<Figure>, String> {
        #[cfg(feature = "redis")]
        if kind.through_redis() {
            return tokio::time::timeout(sizes.limit, self.run_through_redis(kind, sizes))
                .await
                .unwrap_or_else(|_| Err(format!("took longer than {:?}", sizes.limit)));
        }
        let run = async {
            // The idle scenarios count the server's heap blocks; the others run it uncounted.
            let env: &[(&str, &str)] = match self {
                Scenario::Idle | Scenario::IdleH2 => &[(super::servers::COUNT_HEAP, "1")],
                _ => &[],
            };
            let mut server = Child::spawn_with(kind, env)
                .await
                .map_err(|e| format!("spawn: {e}"))?;
            match self {
                Scenario::Idle => idle(&mut server, kind, sizes).await,
                Scenario::FanOut => fan_out(&mut server, sizes).await,
                Scenario::Latency => latency(&mut server, sizes).await,
                Scenario::Stalled => stalled(&mut server, sizes).await,
                Scenario::Counting => counting(&server, sizes).await,
                Scenario::IdleH2 => idle_h2(&mut server, kind, sizes).await,
                Scenario::FanOutH2 => fan_out_h2(&mut server, sizes).await,
            }
        };
        tokio::time::timeout(sizes.limit, run)
            .await
            .unwrap_or_else(|_| Err(format!("took longer than {:?}", sizes.limit)))
    }
}

#[cfg(feature = "redis")]
impl Scenario {
    /// Fan-out and latency with the hub on Redis: a `redis-server`, two server processes sharing
    /// it, half the clients on each, every event published through the first. The other
    /// scenarios do not involve the hub's transport and are left out.
    async fn run_through_redis(self, kind: Kind, sizes: &Sizes) -> Result<Vec<Figure>, String> {
        if !matches!(self, Scenario::FanOut | Scenario::Latency) {
            return Ok(Vec::new());
        }
        let redis = super::redis_server::RedisServer::start()
            .await
            .map_err(|e| format!("redis-server: {e}"))?;
        let env = [(super::servers::REDIS_URL, redis.url.as_str())];
        let mut first = Child::spawn_with(kind, &env)
            .await
            .map_err(|e| format!("spawn: {e}"))?;
        let second = Child::spawn_with(kind, &env)
            .await
            .map_err(|e| format!("spawn: {e}"))?;
        let (n, half) = match self {
            Scenario::FanOut => (sizes.fanout_clients, sizes.fanout_clients / 2),
            _ => (sizes.latency_clients, sizes.latency_clients / 2),
        };
        let mut conns = open_all(first.addr, "/feed", half).await?;
        conns.extend(open_all(second.addr, "/feed", n - half).await?);
        match self {
            Scenario::FanOut => fan_out_to(&mut first, &[&second], conns, sizes).await,
            _ => {
                let all = publish_and_time(&mut first, conns, sizes).await?;
                let rate = sizes.latency_rate;
                let label = format!("publish to receive, {n} clients, {rate} events/s, p50 (ms)");
                Ok(latency_figures("latency", label, &all))
            }
        }
    }
}

/// Client `i`'s source address: spread over 127.0.0.1-16, so ports never run short.
fn source(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, 1 + (i % 16) as u8)
}

/// Opens `n` connections to `path`, at most 256 connecting at a time, in client order.
async fn open_all(addr: SocketAddr, path: &str, n: usize) -> Result<Vec<Conn>, String> {
    let conns: Vec<io::Result<Conn>> = futures::stream::iter(0..n)
        .map(|i| client::open(addr, source(i), path))
        .buffered(256)
        .collect()
        .await;
    conns
        .into_iter()
        .collect::<io::Result<Vec<_>>>()
        .map_err(|e| format!("connect {path}: {e}"))
}

/// Every client's tally, each received on its own task.
async fn receive_all(conns: Vec<Conn>, expect: u64, latencies: bool) -> Result<Vec<Tally>, String> {
    let tasks = conns
        .into_iter()
        .map(|conn| tokio::spawn(conn.receive(expect, latencies)))
        .collect();
    tallies(tasks).await
}

/// The tallies of clients receiving on tasks of their own, in client order.
async fn tallies(tasks: Vec<JoinHandle<io::Result<Tally>>>) -> Result<Vec<Tally>, String> {
    let mut tallies = Vec::with_capacity(tasks.len());
    for task in tasks {
        let tally = task
            .await
            .map_err(|e| format!("client task: {e}"))?
            .map_err(|e| format!("client read: {e}"))?;
        tallies.push(tally);
    }
    Ok(tallies)
}

/// Every client got exactly `expect` events, `seq` 1, 2, 3... in order.
fn verify(tallies: &[Tally], expect: u64) -> Result<(), String> {
    for (i, tally) in tallies.iter().enumerate() {
        if tally.events != expect || !tally.in_order {
            return Err(format!(
                "client {i} received {} of {expect} events (in order: {})",
                tally.events, tally.in_order
            ));
        }
    }
    Ok(())
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// The server's heap blocks now, for `heap_figure` after the connections open.
async fn heap(server: &mut Child) -> Result<String, String> {
    server.heap().await.map_err(|e| format!("heap: {e}"))
}

/// The heap the `n` connections (or streams: `each` says which) opened since `before` hold, per
/// connection, as a figure; the blocks it is made of are printed, largest share first.
async fn heap_figure(
    server: &mut Child,
    kind: Kind,
    scenario: &'static str,
    each: &str,
    before: &str,
    n: usize,
) -> Result<Figure, String> {
    let after = heap(server).await?;
    let super::heap::PerConnection {
        bytes,
        made,
        blocks,
    } = super::heap::per_connection(before, &after, n);
    let blocks: Vec<String> = blocks
        .iter()
        .map(|(size, count)| format!("{size} B x {count:.2}"))
        .collect();
    eprintln!(
        "  {scenario} {}: heap per {each} {bytes:.0} B ({made:.1} blocks allocated): {}",
        kind.name(),
        blocks.join(", ")
    );
    Ok(Figure::new(
        scenario,
        format!("heap per {each}, counted (KiB)"),
        bytes / 1024.0,
        Better::Lower,
    ))
}

/// Checks that each idle reader (`who`) got exactly the one event published.
fn one_event_each(tallies: Vec<io::Result<Tally>>, who: &str) -> Result<(), String> {
    for tally in tallies {
        let tally = tally.map_err(|e| format!("{who}: {e}"))?;
        if tally.events != 1 {
            return Err(format!("an {who} got {} events, not 1", tally.events));
        }
    }
    Ok(())
}

async fn idle(server: &mut Child, kind: Kind, sizes: &Sizes) -> Result<Vec<Figure>, String> {
    let n = sizes.idle_clients;
    // One connection first, so lazily allocated per-process state is in the baseline.
    let warm = open_all(server.addr, "/idle", 1).await?;
    let heap_before = heap(server).await?;
    let before = server.rss_bytes();
    let started = Instant::now();
    let mut conns = open_all(server.addr, "/idle", n).await?;
    let all = started.elapsed();
    let after = server.rss_bytes();
    let heap = heap_figure(server, kind, "idle", "connection", &heap_before, n).await?;
    let mut connect: Vec<Duration> = conns.iter().map(|conn| conn.connect_time).collect();
    connect.sort();
    // Then one event, which every client reads, and idle again: what a connection that has
    // been sent something costs while it waits (hyper keeps what its first write allocated).
    server
        .publish("idle", 1, 0)
        .await
        .map_err(|e| format!("publish: {e}"))?;
    let reading = futures::future::join_all(conns.iter_mut().map(|conn| conn.receive_few(1)));
    one_event_each(reading.await, "idle client")?;
    let after_event = server.rss_bytes();
    let heap_after_event = heap_figure(
        server,
        kind,
        "idle",
        "connection after its first event",
        &heap_before,
        n,
    )
    .await?;
    drop((warm, conns));
    Ok(vec![
        Figure::new(
            "idle",
            format!("RSS per connection, {n} held (KiB)"),
            (after.saturating_sub(before)) as f64 / n as f64 / 1024.0,
            Better::Lower,
        ),
        heap,
        Figure::new(
            "idle",
            "RSS per connection after its first event (KiB)",
            (after_event.saturating_sub(before)) as f64 / n as f64 / 1024.0,
            Better::Lower,
        ),
        heap_after_event,
        Figure::new(
            "idle",
            format!("time to connect all {n} (ms)"),
            millis(all),
            Better::Lower,
        ),
        Figure::new(
            "idle",
            "connect to response head, p99 (ms)",
            millis(percentile(&connect, 0.99)),
            Better::Lower,
        ),
    ])
}

/// Opens `streams` streams to `path` over `connections` HTTP/2 connections, a few connecting
/// at a time.
async fn open_all_h2(
    addr: SocketAddr,
    path: &str,
    streams: usize,
    connections: usize,
) -> Result<Vec<client::H2Conn>, String> {
    let per = streams.div_ceil(connections);
    let conns: Vec<io::Result<client::H2Conn>> = futures::stream::iter(0..connections)
        .map(|i| client::open_h2(addr, source(i), path, per.min(streams - i * per)))
        .buffered(8)
        .collect()
        .await;
    conns
        .into_iter()
        .collect::<io::Result<Vec<_>>>()
        .map_err(|e| format!("HTTP/2 {path}: {e}"))
}

async fn idle_h2(server: &mut Child, kind: Kind, sizes: &Sizes) -> Result<Vec<Figure>, String> {
    let (n, connections) = (sizes.idle_clients, sizes.idle_h2_connections);
    let warm = open_all_h2(server.addr, "/idle", 1, 1).await?;
    let heap_before = heap(server).await?;
    let before = server.rss_bytes();
    let started = Instant::now();
    let mut conns = open_all_h2(server.addr, "/idle", n, connections).await?;
    let all = started.elapsed();
    let after = server.rss_bytes();
    let heap = heap_figure(server, kind, "idle-h2", "stream", &heap_before, n).await?;
    // Then one event, which every stream reads, and idle again, as in `idle`: what hyper and h2
    // allocate for a stream's first write is then there for every server.
    server
        .publish("idle", 1, 0)
        .await
        .map_err(|e| format!("publish: {e}"))?;
    let streams = conns.iter_mut().flat_map(|conn| conn.streams.iter_mut());
    let reading = futures::future::join_all(streams.map(|stream| stream.receive_few(1)));
    one_event_each(reading.await, "idle HTTP/2 stream")?;
    let after_event = server.rss_bytes();
    let heap_after_event = heap_figure(
        server,
        kind,
        "idle-h2",
        "stream after its first event",
        &heap_before,
        n,
    )
    .await?;
    drop((warm, conns));
    Ok(vec![
        Figure::new(
            "idle-h2",
            format!("RSS per stream, {n} held over {connections} HTTP/2 connections (KiB)"),
            (after.saturating_sub(before)) as f64 / n as f64 / 1024.0,
            Better::Lower,
        ),
        heap,
        Figure::new(
            "idle-h2",
            "RSS per stream after its first event (KiB)",
            (after_event.saturating_sub(before)) as f64 / n as f64 / 1024.0,
            Better::Lower,
        ),
        heap_after_event,
        Figure::new(
            "idle-h2",
            format!("time to open all {n} (ms)"),
            millis(all),
            Better::Lower,
        ),
    ])
}

async fn fan_out_h2(server: &mut Child, sizes: &Sizes) -> Result<Vec<Figure>, String> {
    let (n, connections) = (sizes.fanout_clients, sizes.fanout_h2_connections);
    let events = sizes.fanout_events;
    let mut conns = open_all_h2(server.addr, "/feed", n, connections).await?;
    let receiving = conns
        .iter_mut()
        .flat_map(|conn| conn.streams.drain(..))
        .map(|stream| tokio::spawn(stream.receive(events, false)))
        .collect();
    let clients = format!("{n} streams over {connections} HTTP/2 connections");
    let figures = publish_to(server, &[], receiving, "fan-out-h2", clients, sizes).await;
    drop(conns);
    figures
}

async fn fan_out(server: &mut Child, sizes: &Sizes) -> Result<Vec<Figure>, String> {
    // Each response head is written after its subscription is made: nothing published is missed.
    let conns = open_all(server.addr, "/feed", sizes.fanout_clients).await?;
    fan_out_to(server, &[], conns, sizes).await
}

/// Publishes `fanout_events` through `server` to `conns` (connected to it and to `others`),
/// flat out.
async fn fan_out_to(
    server: &mut Child,
    others: &[&Child],
    conns: Vec<Conn>,
    sizes: &Sizes,
) -> Result<Vec<Figure>, String> {
    let n = conns.len();
    let receiving = conns
        .into_iter()
        .map(|conn| tokio::spawn(conn.receive(sizes.fanout_events, false)))
        .collect();
    publish_to(
        server,
        others,
        receiving,
        "fan-out",
        format!("{n} clients"),
        sizes,
    )
    .await
}

/// Publishes `fanout_events` through `server`, flat out, to the clients receiving on tasks of
/// their own (from it and from `others`); the delivery rate, the servers' CPU per delivered
/// event and the publish time, as `scenario`'s rows.
async fn publish_to(
    server: &mut Child,
    others: &[&Child],
    receiving: Vec<JoinHandle<io::Result<Tally>>>,
    scenario: &'static str,
    clients: String,
    sizes: &Sizes,
) -> Result<Vec<Figure>, String> {
    let events = sizes.fanout_events;
    let servers_cpu = |server: &Child| {
        server.cpu_seconds() + others.iter().map(|other| other.cpu_seconds()).sum::<f64>()
    };
    let cpu_before = servers_cpu(server);
    let started = Instant::now();
    let published = server
        .publish("feed", events, 0)
        .await
        .map_err(|e| format!("publish: {e}"))?;
    let tallies = tallies(receiving).await?;
    let elapsed = started.elapsed();
    let cpu = servers_cpu(server) - cpu_before;
    verify(&tallies, events)?;
    let delivered: u64 = tallies.iter().map(|tally| tally.events).sum();
    Ok(vec![
        Figure::new(
            scenario,
            format!("events delivered per second, {clients} x {events} events"),
            delivered as f64 / elapsed.as_secs_f64(),
            Better::Higher,
        ),
        // The load generator, parsing every event, takes most of the shared cores, and the rate
        // above is mostly its pace: the servers' own cost per event is this row.
        Figure::new(
            scenario,
            "server CPU per delivered event (ns)",
            cpu * 1e9 / delivered as f64,
            Better::Lower,
        ),
        Figure::new(
            scenario,
            "time to publish them all (ms)",
            millis(published.took),
            Better::Lower,
        ),
        Figure::new(
            scenario,
            "publisher's CPU time for them (ms)",
            millis(published.cpu),
            Better::Lower,
        ),
    ])
}

async fn latency(server: &mut Child, sizes: &Sizes) -> Result<Vec<Figure>, String> {
    let (n, rate) = (sizes.latency_clients, sizes.latency_rate);
    let conns = open_all(server.addr, "/feed", n).await?;
    let all = publish_and_time(server, conns, sizes).await?;
    let label = format!("publish to receive, {n} clients, {rate} events/s, p50 (ms)");
    Ok(latency_figures("latency", label, &all))
}

/// The latency run again, while as many clients again stop reading: what a frozen tab costs
/// the others, and the server's memory growth while it holds them.
async fn stalled(server: &mut Child, sizes: &Sizes) -> Result<Vec<Figure>, String> {
    let (n, rate, stalled_n) = (
        sizes.latency_clients,
        sizes.latency_rate,
        sizes.stalled_clients,
    );
    let stalled: Vec<Conn> = futures::stream::iter(0..stalled_n)
        .map(|i| client::open_stalling(server.addr, source(i), "/feed", 4096))
        .buffered(256)
        .collect::<Vec<io::Result<Conn>>>()
        .await
        .into_iter()
        .collect::<io::Result<_>>()
        .map_err(|e| format!("connect stalled: {e}"))?;
    let conns = open_all(server.addr, "/feed", n).await?;
    let (before, cpu_before) = (server.rss_bytes(), server.cpu_seconds());
    let all = publish_and_time(server, conns, sizes).await?;
    let grown = server.rss_bytes().saturating_sub(before);
    let cpu = server.cpu_seconds() - cpu_before;
    drop(stalled);
    let label = format!("{n} clients, {stalled_n} more stalled, {rate} events/s");
    let mut figures = latency_figures(
        "stalled",
        format!("publish to receive, {label}, p50 (ms)"),
        &all,
    );
    figures.push(Figure::new(
        "stalled",
        "server RSS growth during the run (MiB)",
        grown as f64 / (1024.0 * 1024.0),
        Better::Lower,
    ));
    figures.push(Figure::new(
        "stalled",
        "server CPU during the run (s)",
        cpu,
        Better::Lower,
    ));
    Ok(figures)
}

/// Publishes the latency run's events at its rate; every client in `conns` must receive them
/// all, in order. Returns every publish-to-receive time, sorted.
async fn publish_and_time(
    server: &mut Child,
    conns: Vec<Conn>,
    sizes: &Sizes,
) -> Result<Vec<Duration>, String> {
    let (rate, events) = (sizes.latency_rate, sizes.latency_events);
    let receiving = tokio::spawn(receive_all(conns, events, true));
    server
        .publish("feed", events, rate)
        .await
        .map_err(|e| format!("publish: {e}"))?;
    let tallies = receiving.await.map_err(|e| e.to_string())??;
    verify(&tallies, events)?;
    let mut all: Vec<Duration> = tallies
        .iter()
        .flat_map(|tally| tally.latencies_us.iter())
        .map(|&us| Duration::from_micros(us.into()))
        .collect();
    all.sort();
    Ok(all)
}

/// p50, p99 and max of sorted latencies; `first_label` names the row that opens the group.
fn latency_figures(
    scenario: &'static str,
    first_label: String,
    sorted: &[Duration],
) -> Vec<Figure> {
    vec![
        Figure::new(
            scenario,
            first_label,
            millis(percentile(sorted, 0.5)),
            Better::Lower,
        ),
        Figure::new(
            scenario,
            "p99 (ms)",
            millis(percentile(sorted, 0.99)),
            Better::Lower,
        ),
        Figure::new(
            scenario,
            "max (ms)",
            millis(*sorted.last().expect("events")),
            Better::Lower,
        ),
    ]
}

async fn counting(server: &Child, sizes: &Sizes) -> Result<Vec<Figure>, String> {
    const TICKS: u64 = 1000;
    let n = sizes.counting_clients;
    let cpu_before = server.cpu_seconds();
    let started = Instant::now();
    let conns = open_all(server.addr, "/counting", n).await?;
    // `expect` above the tick count: each client reads on to the close event.
    let tallies = receive_all(conns, TICKS + 1, false).await?;
    let elapsed = started.elapsed();
    let cpu = server.cpu_seconds() - cpu_before;
    for (i, tally) in tallies.iter().enumerate() {
        if tally.events != TICKS || !tally.closed {
            return Err(format!(
                "counting client {i} received {} of {TICKS} ticks (closed: {})",
                tally.events, tally.closed
            ));
        }
    }
    let events = (n as u64 * TICKS) as f64;
    Ok(vec![
        Figure::new(
            "counting",
            format!("server CPU per 1,000 events, {n} clients x {TICKS} ticks at 1 ms (ms)"),
            cpu * 1000.0 / events * 1000.0,
            Better::Lower,
        ),
        Figure::new(
            "counting",
            "time until every client has its close event (ms)",
            millis(elapsed),
            Better::Lower,
        ),
    ])
}
