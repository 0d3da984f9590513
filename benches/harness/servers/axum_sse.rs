//! The same routes written by hand with axum 0.8's `Sse`, as its documentation shows, over a
//! `tokio::sync::broadcast` channel per topic carrying each event's JSON, serialised once.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use futures::{future, stream, StreamExt};
use tokio::net::TcpListener;
use tokio::sync::broadcast;
use tokio::time::{interval_at, Instant, MissedTickBehavior};
use tokio_stream::wrappers::{BroadcastStream, IntervalStream};

use super::{Publish, Tick, CAPACITY};

/// An event's id and its JSON.
type Shared = (u64, Arc<str>);

#[derive(Clone)]
struct Topics {
    idle: broadcast::Sender<Shared>,
    feed: broadcast::Sender<Shared>,
}

fn topic_stream(sender: &broadcast::Sender<Shared>) -> impl IntoResponse {
    let events = BroadcastStream::new(sender.subscribe())
        .filter_map(|received| future::ready(received.ok()))
        .map(|(id, json)| Ok::<_, Infallible>(Event::default().id(id.to_string()).data(&*json)));
    Sse::new(events).keep_alive(KeepAlive::default())
}

async fn idle(State(topics): State<Topics>) -> impl IntoResponse {
    topic_stream(&topics.idle)
}

async fn feed(State(topics): State<Topics>) -> impl IntoResponse {
    topic_stream(&topics.feed)
}

async fn counting() -> impl IntoResponse {
    let period = Duration::from_millis(1);
    let mut interval = interval_at(Instant::now() + period, period);
    interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let ticks = IntervalStream::new(interval)
        .zip(stream::iter(1..=1000u64))
        .map(|(_, i)| {
            Event::default()
                .id(i.to_string())
                .json_data(serde_json::json!({ "msg": format!("Server count: {}", i) }))
                .expect("serialisable")
        })
        .chain(stream::once(future::ready(
            Event::default().event("close").data("1000"),
        )))
        .map(Ok::<_, Infallible>);
    Sse::new(ticks).keep_alive(KeepAlive::default())
}

pub fn start(listener: TcpListener) -> Publish {
    let topics = Topics {
        idle: broadcast::channel(CAPACITY).0,
        feed: broadcast::channel(CAPACITY).0,
    };
    let app = Router::new()
        .route("/idle", get(idle))
        .route("/feed", get(feed))
        .route("/counting", get(counting))
        .with_state(topics.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Arc::new(move |topic, tick: Tick| {
        let json: Arc<str> = serde_json::to_string(&tick).expect("serialisable").into();
        let sender = if topic == "idle" {
            &topics.idle
        } else {
            &topics.feed
        };
        let _ = sender.send((tick.seq, json));
        None
    })
}
