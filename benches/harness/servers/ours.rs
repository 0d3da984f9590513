//! This crate: three `event_stream!` declarations and a `Hub`.

use std::sync::Arc;

use futures::FutureExt;
use tokio::net::TcpListener;
use warp::Filter;
use warp_eventstream::{event_stream, json, Hub};

use super::{Publish, Tick, CAPACITY};

pub fn start(listener: TcpListener) -> Publish {
    let hub: Hub<Tick> = Hub::with_replay(CAPACITY);
    let idle = event_stream! { route "/idle" from hub(hub.clone(), "idle") buffer 200_000 };
    let feed = event_stream! { route "/feed" from hub(hub.clone(), "feed") buffer 200_000 };
    let counting = event_stream! {
        route "/counting" every 1ms until 1000
        => |i| json!({ "msg": format!("Server count: {}", i) })
    };
    tokio::spawn(
        warp::serve(idle.or(feed).or(counting))
            .incoming(listener)
            .run(),
    );
    Arc::new(move |topic, tick| {
        // The in-process hub stores and sends at once: its future is ready at the first poll.
        hub.publish(topic, tick)
            .now_or_never()
            .expect("the in-process hub publishes at once")
            .expect("a tick serialises");
        None
    })
}
