//! The chat room of `examples/chat.rs` on several servers at once: their hubs share one Redis,
//! so a message posted to any server reaches the pages open on every server, and a page that
//! reconnects to another server resumes exactly where it was.
//!
//! Needs the `redis` feature and a Redis 7 (or Valkey) server. Two servers against one Redis:
//!
//! ```sh
//! redis-server --port 6379 &
//! PORT=3031 cargo run --features redis --example cluster &
//! PORT=3032 cargo run --features redis --example cluster
//! ```
//!
//! then open http://127.0.0.1:3031/rooms/lobby and http://127.0.0.1:3032/rooms/lobby.
//! `REDIS_URL` overrides `redis://127.0.0.1:6379`.

mod chat_room;

use warp_eventstream::{Hub, RedisTransport};

#[tokio::main]
async fn main() {
    // The crate logs what goes wrong (a skipped event, a panic, a lagging client) through
    // `tracing`; this prints it.
    tracing_subscriber::fmt::init();
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let transport = match RedisTransport::builder(&url)
        .replay(10_000)
        .key_prefix("chat:")
        .connect()
        .await
    {
        Ok(transport) => transport,
        Err(error) => {
            eprintln!("cannot reach Redis at {url}: {error}");
            std::process::exit(1);
        }
    };
    chat_room::serve(Hub::with_transport(transport), 3031).await;
}
