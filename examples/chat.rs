//! A chat room: every open page of a room receives every message posted to it, through the hub.
//!
//! `cargo run --example chat`, then open the printed URL in two windows. `PORT` overrides 3031.
//! Rooms are a path parameter (`/rooms/<room>`); messages are posted with `fetch` and pushed to
//! the room's open pages as `chat` events. A page that reconnects gets what it missed from the
//! hub's replay buffer. Ctrl-C shuts down gracefully: every page gets the close event.
//!
//! The same chat across several servers sharing one Redis: `examples/cluster.rs`.

mod chat_room;

use warp_eventstream::Hub;

#[tokio::main]
async fn main() {
    // The crate logs what goes wrong (a skipped event, a panic, a lagging client) through
    // `tracing`; this prints it.
    tracing_subscriber::fmt::init();
    chat_room::serve(Hub::new(), 3031).await;
}
