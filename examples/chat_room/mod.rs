//! The chat room both `chat` (one server, in-process hub) and `cluster` (many servers, one
//! Redis) serve: the page, the room's event stream, the endpoint that posts to it, and the
//! server's metrics.

use std::convert::Infallible;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use serde::{Deserialize, Serialize};
use warp::http::StatusCode;
use warp::Filter;
use warp_eventstream::{event_stream, Clients, Hub};

const PAGE: &str = include_str!("chat.html");
/// Longest accepted name and message, in characters; longer posts get `400`.
const MAX_NAME: usize = 40;
const MAX_TEXT: usize = 2000;

/// What a page posts.
#[derive(Deserialize)]
struct Post {
    name: String,
    text: String,
}

/// What every page of the room receives.
#[derive(Clone, Serialize)]
pub struct Message {
    name: String,
    text: String,
}

fn valid_room(room: &str) -> bool {
    (1..=40).contains(&room.len())
        && room
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Serves the chat on `PORT` (else `default_port`) until Ctrl-C, publishing through `chat`, with
/// its metrics at `/metrics` for Prometheus to scrape.
#[allow(dead_code)] // the tests serve `routes` themselves
pub async fn serve(chat: Hub<Message>, default_port: u16) {
    // The crate records its metrics through the `metrics` facade; this recorder keeps them for
    // `/metrics`. Install it before building the endpoints.
    let prometheus = PrometheusBuilder::new()
        .install_recorder()
        .expect("no other metrics recorder is installed");
    let clients = Clients::new();
    let routes = routes(chat, clients.clone(), prometheus);

    let port: u16 = match std::env::var("PORT") {
        Ok(port) => port.parse().expect("PORT must be a port number"),
        Err(_) => default_port,
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("the port is free");
    println!(
        "Chat: http://{}/rooms/lobby (metrics: /metrics)",
        listener.local_addr().expect("bound")
    );

    // Ctrl-C: every page gets the close event, then the server returns (5 s at most).
    warp_eventstream::serve(routes)
        .graceful(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .run(listener)
        .await;
    println!("Stopped with {} pages open", clients.count());
}

/// The page, the room's event stream, posting, and `/metrics`.
pub fn routes(
    chat: Hub<Message>,
    clients: Clients,
    prometheus: PrometheusHandle,
) -> impl Filter<Extract = (impl warp::Reply,), Error = warp::Rejection> + Clone + Send + Sync + 'static
{
    // GET /rooms/<room>/events: the room's stream, with replay for reconnecting pages.
    let events = event_stream! {
        route "/rooms" / room: String / "events"
        from hub(chat.clone(), room)
        max_clients 10_000
        clients clients.clone()
        retry 2s
    };

    // POST /rooms/<room>/messages {"name": "...", "text": "..."}: publish to the room. `202`
    // once the hub has stored it; `503` when it could not (a broker that is down, say).
    let post = warp::path!("rooms" / String / "messages")
        .and(warp::post())
        .and(warp::body::content_length_limit(8 * 1024))
        .and(warp::body::json())
        .and_then(move |room: String, post: Post| {
            let chat = chat.clone();
            async move {
                let name = post.name.trim();
                let text = post.text.trim();
                if !valid_room(&room)
                    || name.is_empty()
                    || text.is_empty()
                    || name.chars().count() > MAX_NAME
                    || text.chars().count() > MAX_TEXT
                {
                    return Ok::<_, Infallible>(warp::reply::with_status(
                        "bad message",
                        StatusCode::BAD_REQUEST,
                    ));
                }
                let message = Message {
                    name: name.to_owned(),
                    text: text.to_owned(),
                };
                Ok(match chat.publish(&room, message).await {
                    Ok(_id) => warp::reply::with_status("sent", StatusCode::ACCEPTED),
                    Err(error) => {
                        tracing::warn!(%error, "message not published");
                        warp::reply::with_status("not sent", StatusCode::SERVICE_UNAVAILABLE)
                    }
                })
            }
        });

    // GET / and GET /rooms/<room>: the page (it reads the room from its own URL).
    let page = warp::path::end()
        .or(warp::path!("rooms" / String)
            .map(|_room: String| ())
            .untuple_one())
        .unify()
        .and(warp::get())
        .map(|| warp::reply::html(PAGE));

    // GET /metrics: what the crate recorded, as Prometheus text.
    let metrics = warp::path!("metrics")
        .and(warp::get())
        .map(move || prometheus.render());

    // Boxed once: warp gives every connection a clone of the routes' filter, so a tree of
    // several endpoints costs each connection its size (docs/guide.md, "Cost per connection").
    page.or(events).or(post).or(metrics).boxed()
}
