//! `cargo bench --bench keep_alive`: what keep-alive costs a server holding idle streams. Each
//! server (this crate, hand-written `warp::sse`) runs on a thread of its own with 5,000 idle hub
//! streams whose keep-alive period is 2 s; the clients count the comments, and the server
//! thread's CPU time is read from `/proc` over 20 s, after the streams are open. Five rounds,
//! the servers in turns, medians.
//!
//! This crate wakes an endpoint's streams four times a period from one timer and writes the
//! comment once a whole period's ticks passed since a stream's last write; `warp::sse` has a
//! timer per stream, re-armed at every event. Both write one comment a period to an idle stream.
//! `-- --streams N --seconds S --rounds R` changes the load.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::{future, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::broadcast;
use tokio_stream::wrappers::BroadcastStream;
use warp::Filter;
use warp_eventstream::{event_stream, Hub};

const PERIOD: Duration = Duration::from_secs(2);
const SERVERS: [&str; 2] = ["warp-eventstream", "warp::sse"];

/// A server's thread: its id, to read its CPU time, and its address.
struct Server {
    thread: u32,
    addr: SocketAddr,
}

/// Starts `kind` on a current-thread runtime of its own thread, which it never leaves.
fn start(kind: &'static str) -> Server {
    let (started, ready) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("a loopback port");
            let server = Server {
                thread: this_thread(),
                addr: listener.local_addr().expect("bound"),
            };
            started.send(server).expect("the bench waits");
            if kind == SERVERS[0] {
                let hub: Hub<u64> = Hub::new();
                let idle =
                    event_stream! { route "/idle" from hub(hub, "idle") keep_alive (PERIOD) };
                warp::serve(idle).incoming(listener).run().await;
            } else {
                let (sender, _) = broadcast::channel::<(u64, Arc<str>)>(16);
                let idle = warp::path!("idle").map(move || {
                    let events = BroadcastStream::new(sender.subscribe())
                        .filter_map(|received| future::ready(received.ok()))
                        .map(|(id, json)| {
                            Ok::<_, Infallible>(
                                warp::sse::Event::default().id(id.to_string()).data(&*json),
                            )
                        });
                    warp::sse::reply(warp::sse::keep_alive().interval(PERIOD).stream(events))
                });
                warp::serve(idle).incoming(listener).run().await;
            }
        });
    });
    ready.recv().expect("the server starts")
}

/// The calling thread's id, from `/proc/thread-self` (`<pid>/task/<tid>`).
fn this_thread() -> u32 {
    let link = std::fs::read_link("/proc/thread-self").expect("Linux's /proc");
    let tid = link
        .file_name()
        .expect("<pid>/task/<tid>")
        .to_string_lossy();
    tid.parse().expect("a thread id")
}

/// The CPU time thread `tid` of this process has run for.
fn cpu_time(tid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/schedstat"))
        .expect("the server's thread");
    let nanos = stat.split_whitespace().next().expect("run time, first");
    Duration::from_nanos(nanos.parse().expect("nanoseconds"))
}

/// One round: the server thread's CPU time over `window`, and the comments the clients got in it.
async fn round(server: &Server, streams: usize, window: Duration) -> (Duration, usize) {
    let comments = Arc::new(AtomicUsize::new(0));
    let mut readers = Vec::with_capacity(streams);
    for _ in 0..streams {
        let mut conn = tokio::net::TcpStream::connect(server.addr)
            .await
            .expect("connects");
        conn.write_all(b"GET /idle HTTP/1.1\r\nhost: bench\r\naccept: text/event-stream\r\n\r\n")
            .await
            .expect("sends the request");
        let comments = comments.clone();
        readers.push(tokio::spawn(async move {
            let mut buf = [0u8; 1024];
            while let Ok(read @ 1..) = conn.read(&mut buf).await {
                let seen = buf[..read].windows(3).filter(|w| w == b":\n\n").count();
                comments.fetch_add(seen, Ordering::Relaxed);
            }
        }));
    }
    // Past the first period, so that every stream is open and on its keep-alive cycle.
    tokio::time::sleep(PERIOD + PERIOD / 2).await;
    let (cpu, seen) = (cpu_time(server.thread), comments.load(Ordering::Relaxed));
    tokio::time::sleep(window).await;
    let spent = cpu_time(server.thread) - cpu;
    let got = comments.load(Ordering::Relaxed) - seen;
    readers.iter().for_each(|reader| reader.abort());
    (spent, got)
}

fn arg(name: &str, default: u64) -> u64 {
    let value = std::env::args().skip_while(|arg| arg != name).nth(1);
    value.map_or(default, |value| value.parse().expect("a number"))
}

fn main() {
    let streams = arg("--streams", 5_000) as usize;
    let window = Duration::from_secs(arg("--seconds", 20));
    let rounds = arg("--rounds", 5) as usize;
    let servers: Vec<Server> = SERVERS.iter().map(|kind| start(kind)).collect();
    let clients = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let mut results = vec![Vec::new(); servers.len()];
    for _ in 0..rounds {
        for (server, results) in servers.iter().zip(&mut results) {
            results.push(clients.block_on(round(server, streams, window)));
        }
    }
    println!(
        "| keep-alive, {streams} idle streams, period {PERIOD:?}, {window:?} | server CPU (median of {rounds}) | per stream and period | comments | rounds |"
    );
    println!("|---|---:|---:|---:|---|");
    let periods = window.as_secs_f64() / PERIOD.as_secs_f64();
    for (kind, mut results) in SERVERS.iter().zip(results) {
        let rounds: Vec<String> = results
            .iter()
            .map(|(cpu, _)| format!("{:.0}", cpu.as_secs_f64() * 1e3))
            .collect();
        results.sort();
        let (cpu, comments) = results[results.len() / 2];
        println!(
            "| {kind} | {:.1} ms | {:.2} µs | {comments} | {} ms |",
            cpu.as_secs_f64() * 1e3,
            cpu.as_secs_f64() * 1e6 / streams as f64 / periods,
            rounds.join(", "),
        );
    }
}
