//! The same routes written by hand with `warp::sse`, as its documentation shows, over a
//! `tokio::sync::broadcast` channel per topic. The channel carries each event's JSON, serialised
//! once by the publisher; each connection builds and formats its own `warp::sse::Event`.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use futures::{future, stream, StreamExt};
use tokio::net::TcpListener;
use tokio::sync::broadcast;
use tokio::time::{interval_at, Instant, MissedTickBehavior};
use tokio_stream::wrappers::{BroadcastStream, IntervalStream};
use warp::sse::Event;
use warp::{Filter, Reply};

use super::{Publish, Tick, CAPACITY};

/// An event's id and its JSON.
type Shared = (u64, Arc<str>);

fn topic_stream(sender: &broadcast::Sender<Shared>) -> impl Reply {
    let events = BroadcastStream::new(sender.subscribe())
        .filter_map(|received| future::ready(received.ok()))
        .map(|(id, json)| Ok::<_, Infallible>(Event::default().id(id.to_string()).data(&*json)));
    warp::sse::reply(warp::sse::keep_alive().stream(events))
}

fn counting() -> impl Reply {
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
    warp::sse::reply(warp::sse::keep_alive().stream(ticks))
}

pub fn start(listener: TcpListener) -> Publish {
    let idle = broadcast::channel::<Shared>(CAPACITY).0;
    let feed = broadcast::channel::<Shared>(CAPACITY).0;
    let routes = warp::get().and(
        warp::path!("idle")
            .map({
                let idle = idle.clone();
                move || topic_stream(&idle)
            })
            .or(warp::path!("feed").map({
                let feed = feed.clone();
                move || topic_stream(&feed)
            }))
            .or(warp::path!("counting").map(counting)),
    );
    tokio::spawn(warp::serve(routes).incoming(listener).run());
    Arc::new(move |topic, tick: Tick| {
        let json: Arc<str> = serde_json::to_string(&tick).expect("serialisable").into();
        let sender = if topic == "idle" { &idle } else { &feed };
        // No subscribers is not an error.
        let _ = sender.send((tick.seq, json));
        None
    })
}
