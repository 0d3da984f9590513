//! `cargo bench --bench publish`: what publishing costs the publisher alone, with no delivery
//! competing for the cores: `Hub::publish` (serialise, frame once with its id, keep for replay,
//! append to the topic's ring) against the hand-written peers' publish in `cargo bench --bench
//! sse` (serialise, `Arc<str>`, `broadcast::send` into a channel with the same capacity). Each
//! has 1,000 subscribers that do not read, so no one is woken and nothing is dropped; 100,000
//! events, seven rounds, medians.
//!
//! `-- --only hub` or `-- --only peers` runs one side, once: for a profiler such as
//! `valgrind --tool=callgrind --cache-sim=yes`, which counts instructions and simulated cache
//! misses where the clock cannot tell them apart (`docs/benchmarks.md`, "Publishing").

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::FutureExt;
use warp_eventstream::{Hub, MemoryTransport, Subscription, Transport};

const EVENTS: u64 = 100_000;
const SUBSCRIBERS: usize = 1_000;
/// As in `cargo bench --bench sse`: more than a run publishes.
const CAPACITY: usize = 200_000;
const ROUNDS: usize = 7;
/// The rows' names.
const HUB: &str = "`Hub::publish`";
const PEERS: &str = "`serde_json::to_string` + `broadcast::send`";

#[derive(serde::Serialize)]
struct Tick {
    seq: u64,
    t: u64,
}

fn hub_publish() -> Duration {
    let transport = Arc::new(MemoryTransport::new(CAPACITY));
    // Shared with the benchmark, which subscribes without a client.
    let hub: Hub<Tick> = Hub::with_transport(transport.clone());
    let subscribers: Vec<Subscription> = (0..SUBSCRIBERS)
        .map(|_| {
            transport
                .subscribe("feed", None)
                .now_or_never()
                .expect("in-process")
                .expect("subscribed")
        })
        .collect();
    let started = Instant::now();
    for seq in 1..=EVENTS {
        hub.publish("feed", Tick { seq, t: seq })
            .now_or_never()
            .expect("the in-process hub publishes at once")
            .expect("a tick serialises");
    }
    let took = started.elapsed();
    drop(subscribers);
    took
}

fn broadcast_send() -> Duration {
    let (sender, _) = tokio::sync::broadcast::channel::<(u64, Arc<str>)>(CAPACITY);
    let receivers: Vec<_> = (0..SUBSCRIBERS).map(|_| sender.subscribe()).collect();
    let started = Instant::now();
    for seq in 1..=EVENTS {
        let json = serde_json::to_string(&Tick { seq, t: seq }).expect("a tick serialises");
        sender.send((seq, json.into())).expect("receivers exist");
    }
    let took = started.elapsed();
    // Receivers that never read take long to drop (each walks what it did not read): not timed.
    drop(receivers);
    took
}

fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs[runs.len() / 2]
}

fn main() {
    let only = std::env::args().skip_while(|arg| arg != "--only").nth(1);
    match only.as_deref() {
        Some("hub") => return report(HUB, hub_publish()),
        Some("peers") => return report(PEERS, broadcast_send()),
        Some(other) => panic!("--only takes `hub` or `peers`, not {other:?}"),
        None => {}
    }
    let (mut hub, mut peers) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        hub.push(hub_publish());
        peers.push(broadcast_send());
    }
    let (hub, peers) = (median(hub), median(peers));
    println!("| publish, {EVENTS} events, {SUBSCRIBERS} subscribers not reading | median of {ROUNDS} | per event |");
    println!("|---|---:|---:|");
    report(HUB, hub);
    report(PEERS, peers);
    println!(
        "| ratio | {:.2}x | |",
        hub.as_secs_f64() / peers.as_secs_f64()
    );
}

/// One row: what `EVENTS` publishes took, in all and per event.
fn report(what: &str, took: Duration) {
    println!(
        "| {what} | {:.2} ms | {:.0} ns |",
        took.as_secs_f64() * 1e3,
        took.as_nanos() as f64 / EVENTS as f64
    );
}
