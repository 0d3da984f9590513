//! Job progress: `POST /jobs` starts a job on a tokio task; `GET /jobs/<id>/progress` streams
//! its progress as `progress` events until it reaches 100%, then closes.
//!
//! `cargo run --example progress`, then open the printed URL and press "Start a job" (several
//! times, for several jobs). `PORT` overrides 3032.
//!
//! The stream is `from <stream>`: each connection watches the job's latest progress through a
//! `tokio::sync::watch` channel, so a page that connects late (or reconnects) starts from where
//! the job is now, and a slow page skips intermediate values instead of queueing them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::Stream;
use serde::Serialize;
use tokio::sync::watch;
use warp::Filter;
use warp_eventstream::{event_stream, Shutdown};

const PAGE: &str = include_str!("progress.html");

#[derive(Clone, Serialize)]
struct Progress {
    job: u64,
    percent: u8,
    stage: &'static str,
}

/// The running and finished jobs, by id.
#[derive(Clone, Default)]
struct Jobs {
    next: Arc<AtomicU64>,
    running: Arc<Mutex<HashMap<u64, watch::Receiver<Progress>>>>,
}

impl Jobs {
    /// Starts a job: a task that works in steps and reports after each one.
    fn start(&self) -> u64 {
        let job = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let (report, watch) = watch::channel(Progress {
            job,
            percent: 0,
            stage: "queued",
        });
        self.running.lock().unwrap().insert(job, watch);
        tokio::spawn(async move {
            for percent in (5..=100).step_by(5) {
                // Stands in for real work: a query, a file being processed.
                tokio::time::sleep(Duration::from_millis(150)).await;
                let stage = match percent {
                    0..=30 => "reading",
                    31..=99 => "processing",
                    _ => "done",
                };
                report.send_replace(Progress {
                    job,
                    percent,
                    stage,
                });
            }
        });
        job
    }

    /// The job's progress from now on: the current value first, then each change. Unknown jobs
    /// give an empty stream, which the page sees as an immediate close.
    fn watch(&self, job: u64) -> impl Stream<Item = Progress> + Send + 'static {
        let watch = self.running.lock().unwrap().get(&job).cloned();
        futures::stream::unfold((watch, true), |(watch, first)| async move {
            let mut watch = watch?;
            if !first && watch.changed().await.is_err() {
                // The job's task ended and its last value was already sent.
                return None;
            }
            let progress = watch.borrow_and_update().clone();
            Some((progress, (Some(watch), false)))
        })
    }
}

#[tokio::main]
async fn main() {
    // The crate logs what goes wrong (a skipped event, a panic, a lagging client) through
    // `tracing`; this prints it.
    tracing_subscriber::fmt::init();
    let jobs = Jobs::default();

    // POST /jobs: starts a job and answers its id.
    let start = warp::path!("jobs").and(warp::post()).map({
        let jobs = jobs.clone();
        move || warp::reply::json(&serde_json::json!({ "job": jobs.start() }))
    });
    // GET /jobs/<id>/progress: the endpoint captures `jobs` (by move, like a closure).
    let progress = event_stream! {
        route "/jobs" / job: u64 / "progress"
        from jobs.watch(job)
        until |p| p.percent == 100
        event "progress"
    };
    let page = warp::path::end()
        .and(warp::get())
        .map(|| warp::reply::html(PAGE));

    let port: u16 = match std::env::var("PORT") {
        Ok(port) => port.parse().expect("PORT must be a port number"),
        Err(_) => 3032,
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("the port is free");
    println!("Jobs: http://{}/", listener.local_addr().expect("bound"));

    let shutdown = Shutdown::global();
    let server = warp::serve(page.or(progress).or(start))
        .incoming(listener)
        .graceful(shutdown.clone().on(async {
            let _ = tokio::signal::ctrl_c().await;
        }))
        .run();
    shutdown.within(Duration::from_secs(5), server).await;
}
