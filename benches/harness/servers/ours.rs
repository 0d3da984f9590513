//! This crate: three `event_stream!` declarations and a `Hub`.

use std::sync::Arc;

use futures::FutureExt;
use tokio::net::TcpListener;
use warp::Filter;
use warp_eventstream::{event_stream, json, Hub};

use super::{Publish, Tick, CAPACITY};

pub fn start(listener: TcpListener) -> Publish {
    serve_hub(listener, Hub::with_replay(CAPACITY))
}

/// The same routes with the hub on Redis. Each publish is checked: the harness awaits every
/// one, keeping up to `IN_FLIGHT` on their way.
#[cfg(feature = "redis")]
pub async fn start_redis(listener: TcpListener, url: &str) -> Publish {
    let transport = warp_eventstream::RedisTransport::builder(url)
        .replay(CAPACITY)
        .connect()
        .await
        .expect("the harness's redis-server accepts");
    let hub: Hub<Tick> = Hub::with_transport(transport);
    let routes = routes(&hub);
    tokio::spawn(warp::serve(routes).incoming(listener).run());
    Arc::new(move |topic, tick| {
        let published = hub.publish(topic, tick);
        Some(Box::pin(async move {
            published.await.expect("redis stores the tick");
        }))
    })
}

/// The same routes under the crate's own `serve`.
pub fn start_with_serve(listener: TcpListener) -> Publish {
    let hub = Hub::with_replay(CAPACITY);
    tokio::spawn(warp_eventstream::serve(routes(&hub)).run(listener));
    publish_in_process(hub)
}

fn serve_hub(listener: TcpListener, hub: Hub<Tick>) -> Publish {
    tokio::spawn(warp::serve(routes(&hub)).incoming(listener).run());
    publish_in_process(hub)
}

fn publish_in_process(hub: Hub<Tick>) -> Publish {
    Arc::new(move |topic, tick| {
        // The in-process hub stores and sends at once: its future is ready at the first poll.
        hub.publish(topic, tick)
            .now_or_never()
            .expect("the in-process hub publishes at once")
            .expect("a tick serialises");
        None
    })
}

fn routes(
    hub: &Hub<Tick>,
) -> impl warp::Filter<Extract = (warp::reply::Response,), Error = warp::Rejection>
       + Clone
       + Send
       + Sync
       + 'static {
    let idle = event_stream! { route "/idle" from hub(hub.clone(), "idle") buffer 200_000 };
    let feed = event_stream! { route "/feed" from hub(hub.clone(), "feed") buffer 200_000 };
    let counting = event_stream! {
        route "/counting" every 1ms until 1000
        => |i| json!({ "msg": format!("Server count: {}", i) })
    };
    // Boxed once, as the guide says for a tree of endpoints: warp clones the routes' filter into
    // every connection.
    idle.or(feed).unify().or(counting).unify().boxed()
}
