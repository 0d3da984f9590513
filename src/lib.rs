//! Declare a Server-Sent Events endpoint on [warp] in a few lines.
//!
//! [`event_stream!`] turns a declaration into an ordinary warp `Filter` that answers `GET` with a
//! `text/event-stream` response: ticks on a timer, named events, ids a reconnecting browser
//! resumes from, keep-alive comments, and an `on_close` hook that runs exactly once per
//! connection however it ends.
//!
//! ```
//! use warp_eventstream::{event_stream, json};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let counting = event_stream! {
//!     route "/event/counting"
//!     every 10ms
//!     until 3
//!     event ["message", "increment"]
//!     on_close |n| { println!("Counted to: {n}") }
//!     => |i| json!({ "msg": format!("Server count: {i}") })
//! };
//!
//! let response = warp::test::request().path("/event/counting").reply(&counting).await;
//! assert_eq!(response.headers()["content-type"], "text/event-stream");
//! let body = std::str::from_utf8(response.body()).unwrap();
//! assert!(body.starts_with("id: 1\ndata: {\"msg\":\"Server count: 1\"}\n\nevent: increment\nid: 1\n"));
//! assert!(body.ends_with("event: close\ndata: 3\n\n"));
//! # }
//! ```
//!
//! Serve it like any filter: `warp::serve(counting.or(other)).run(([127, 0, 0, 1], 3030)).await`.
//! The guide (`docs/guide.md`) covers every clause and the browser side.
//!
//! Beyond the timer, `from hub(<hub>, <topic>)` pushes what a [`Hub`] publishes to every client
//! of a topic, with replay for reconnecting browsers. A hub lives in one process
//! ([`MemoryTransport`]), or spans every server that shares one Redis (`RedisTransport`, cargo
//! feature `redis`; `docs/scaling.md`).
//!
//! # Design
//!
//! hyper polls each connection's stream directly as the response body: no task per connection,
//! no keep-alive timer per connection (one per endpoint wakes its quiet streams), and each tick
//! is framed once into a single `Bytes` holding all of its events. Dropping the body (stream
//! end, client gone, runtime shutdown) runs `on_close`.

#![warn(missing_docs)]

#[path = "../macros/mod.rs"]
mod macros;

mod body;
mod clients;
mod close;
mod context;
mod duration;
mod endpoint;
mod event;
mod frame;
mod hooks;
mod hub;
mod keep_alive;
mod last_event_id;
mod metrics;
mod render;
mod route;
mod serve;
mod settings;
mod shutdown;
mod stream_source;
mod ticks;
mod validate;
mod wakers;
mod watch;

/// serde_json's `json!`, re-exported so `use warp_eventstream::{event_stream, json};` is all an
/// endpoint needs.
///
/// ```
/// use warp_eventstream::json;
/// assert_eq!(json!({ "count": 3 }).to_string(), r#"{"count":3}"#);
/// ```
pub use serde_json::json;

pub use crate::clients::Clients;
pub use crate::event::Event;
pub use crate::hub::{
    EventId, Fanout, FanoutError, FanoutReceiver, Hub, HubFrame, MemoryTransport, Outgoing,
    PublishError, ResetFrom, Subscription, Transport, TransportError, TransportFuture,
    DEFAULT_REPLAY,
};
#[cfg(feature = "redis")]
pub use crate::hub::{RedisTransport, RedisTransportBuilder};
pub use crate::serve::{serve, Server, DEFAULT_GRACE, DEFAULT_MAX_CONCURRENT_STREAMS};
#[cfg(feature = "tls")]
pub use crate::serve::{Tls, TlsError, DEFAULT_HANDSHAKE_TIMEOUT};
pub use crate::shutdown::Shutdown;

/// What macro expansions name. Not public API: it changes without notice.
#[doc(hidden)]
pub mod __private {
    pub use core::clone::Clone;
    pub use core::option::Option::{self, None, Some};
    pub use core::result::Result::{Err, Ok};
    pub use core::{compile_error, concat, panic, stringify};
    pub use std::sync::OnceLock;
    pub use std::time::Duration;

    pub use paste::paste;
    pub use warp::reply::Response;
    pub use warp::{Filter, Rejection};

    pub use crate::clients::Clients;
    pub use crate::context::{placeholder, with_check, with_value, without};
    pub use crate::duration::{parse as duration, DurationError};
    pub use crate::endpoint::Endpoint;
    pub use crate::hub::OnLag;
    pub use crate::render::{Built, Json, Text};
    pub use crate::route::{param, route, Captures, Piece};

    /// Compile-time checks of literal clause arguments.
    pub mod validate {
        pub use crate::validate::{
            count, event_names, route, route_segment, used_or_underscored, RouteError,
        };
    }
}
