//! The transport a hub test runs against.

use serde::Serialize;
use warp_eventstream::Hub;

#[cfg(feature = "redis")]
use crate::redis_server::RedisServer;

pub enum Backend {
    Memory,
    #[cfg(feature = "redis")]
    Redis(Box<RedisServer>),
}

impl Backend {
    pub fn memory() -> Self {
        Backend::Memory
    }

    /// A `redis-server` of this test's own.
    #[cfg(feature = "redis")]
    pub async fn redis() -> Self {
        Backend::Redis(Box::new(RedisServer::start().await))
    }

    /// A hub keeping the last `replay` events of each topic.
    pub async fn hub<T: Serialize>(&self, replay: usize) -> Hub<T> {
        match self {
            Backend::Memory => Hub::with_replay(replay),
            #[cfg(feature = "redis")]
            Backend::Redis(server) => Hub::with_transport(
                warp_eventstream::RedisTransport::builder(&server.url())
                    .replay(replay)
                    .connect()
                    .await
                    .expect("the test's redis-server accepts"),
            ),
        }
    }

    /// An id no event of this backend has.
    pub fn foreign_id(&self) -> &'static str {
        match self {
            Backend::Memory => "1700000000000-0",
            #[cfg(feature = "redis")]
            Backend::Redis(_) => "7",
        }
    }

    /// How many events to publish so that a `replay` of 5 has dropped the first ones: Redis
    /// trims whole blocks of 100 entries and keeps at least 64.
    pub fn enough_to_trim(&self) -> u32 {
        match self {
            Backend::Memory => 10,
            #[cfg(feature = "redis")]
            Backend::Redis(_) => 400,
        }
    }
}
