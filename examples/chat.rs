//! A chat room: every open page of a room receives every message posted to it, through the hub.
//!
//! `cargo run --example chat`, then open the printed URL in two windows. `PORT` overrides 3031.
//! Rooms are a path parameter (`/rooms/<room>`); messages are posted with `fetch` and pushed to
//! the room's open pages as `chat` events. A page that reconnects gets what it missed from the
//! hub's replay buffer. Ctrl-C shuts down gracefully: every page gets the close event.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use warp::http::StatusCode;
use warp::Filter;
use warp_eventstream::{event_stream, Clients, Hub, Shutdown};

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
struct Message {
    name: String,
    text: String,
}

fn valid_room(room: &str) -> bool {
    (1..=40).contains(&room.len())
        && room
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[tokio::main]
async fn main() {
    let chat: Hub<Message> = Hub::new();
    let clients = Clients::new();

    // GET /rooms/<room>/events: the room's stream, with replay for reconnecting pages.
    let events = event_stream! {
        route "/rooms" / room: String / "events"
        from hub(chat.clone(), room)
        max_clients 10_000
        clients clients.clone()
        retry 2s
    };

    // POST /rooms/<room>/messages {"name": "...", "text": "..."}: publish to the room.
    let post = warp::path!("rooms" / String / "messages")
        .and(warp::post())
        .and(warp::body::content_length_limit(8 * 1024))
        .and(warp::body::json())
        .map(move |room: String, post: Post| {
            let name = post.name.trim();
            let text = post.text.trim();
            if !valid_room(&room)
                || name.is_empty()
                || text.is_empty()
                || name.chars().count() > MAX_NAME
                || text.chars().count() > MAX_TEXT
            {
                return warp::reply::with_status("bad message", StatusCode::BAD_REQUEST);
            }
            let message = Message {
                name: name.to_owned(),
                text: text.to_owned(),
            };
            match chat.publish(&room, message) {
                Ok(_id) => warp::reply::with_status("sent", StatusCode::ACCEPTED),
                Err(_) => warp::reply::with_status("not sent", StatusCode::INTERNAL_SERVER_ERROR),
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

    let port: u16 = match std::env::var("PORT") {
        Ok(port) => port.parse().expect("PORT must be a port number"),
        Err(_) => 3031,
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("the port is free");
    println!(
        "Chat: http://{}/rooms/lobby",
        listener.local_addr().expect("bound")
    );

    let shutdown = Shutdown::global();
    let server = warp::serve(page.or(events).or(post))
        .incoming(listener)
        .graceful(shutdown.clone().on(async {
            let _ = tokio::signal::ctrl_c().await;
        }))
        .run();
    shutdown.within(Duration::from_secs(5), server).await;
    println!("Stopped with {} pages open", clients.count());
}
