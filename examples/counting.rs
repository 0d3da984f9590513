//! The counting controller: ten ticks, one second apart, as `message` and `increment` events.
//!
//! `cargo run --example counting`, then open the printed URL. `PORT` overrides 3030.
//! Ctrl-C stops the server gracefully; every open stream's `on_close` runs on the way out.

use std::time::Duration;

use warp::Filter;
use warp_eventstream::{event_stream, json, Shutdown};

const PAGE: &str = include_str!("counting.html");

#[tokio::main]
async fn main() {
    // The crate logs what goes wrong (a skipped event, a panic, a lagging client) through
    // `tracing`; this prints it.
    tracing_subscriber::fmt::init();
    let counting = event_stream! {
        route "/event/counting"
        every 1s
        until 10
        event ["message", "increment"]
        on_open { println!("Start counting") }
        on_close |n| { println!("Counted to: {}", n) }
        => |i| json!({ "msg": format!("Server count: {}", i) })
    };
    let page = warp::path::end()
        .and(warp::get())
        .map(|| warp::reply::html(PAGE));

    let port: u16 = match std::env::var("PORT") {
        Ok(port) => port.parse().expect("PORT must be a port number"),
        Err(_) => 3030,
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("the port is free");
    println!(
        "Counting page: http://{}/",
        listener.local_addr().expect("bound")
    );

    // Ctrl-C: every open stream gets the close event (so its page stops instead of
    // reconnecting) and runs `on_close`; the server then exits, waiting 5 s at most.
    let shutdown = Shutdown::global();
    let server = warp::serve(page.or(counting))
        .incoming(listener)
        .graceful(shutdown.clone().on(async {
            let _ = tokio::signal::ctrl_c().await;
            println!("Shutting down");
        }))
        .run();
    shutdown.within(Duration::from_secs(5), server).await;
}
