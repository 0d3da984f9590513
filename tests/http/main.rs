//! Integration tests: real servers on loopback, read by a raw HTTP client and an independent
//! SSE parser. One binary, so the suite links once.

// The framing property test shares the fuzz targets' cases and expectations.
#[cfg(feature = "tls")]
mod certs;
#[allow(dead_code)]
#[path = "../checks/mod.rs"]
mod checks;
mod client;
mod h2_client;
#[cfg(feature = "redis")]
mod redis_server;
mod server;

pub mod browser;
#[cfg(feature = "tls")]
mod browser_http2;
mod computed_events;
pub mod finished;
mod framing_property;
mod http2;
mod hub;
mod lifecycle;
#[cfg(feature = "redis")]
mod redis;
mod resume;
mod routing;
mod sources;
#[cfg(feature = "tls")]
mod tls;
mod wire_format;
