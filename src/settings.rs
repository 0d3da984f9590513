//! An endpoint's settings: what its clauses declared, read by every one of its connections.
//!
//! Below the endpoint and the sources, so data flows one way: the declaration fills these in,
//! the endpoint hands them to each connection's body.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::clients::Clients;
use crate::frame::EventHeader;
use crate::hub::OnLag;
use crate::keep_alive::KeepAlive;
use crate::metrics::EndpointMetrics;
use crate::shutdown::Shutdown;
use crate::wakers::WakerSet;

/// The keep-alive period when the DSL does not name one.
pub const DEFAULT_KEEP_ALIVE: Duration = Duration::from_secs(15);
/// How long a connection's writes may stall (a client that stopped reading) before
/// [`serve`](crate::serve()) closes it, unless a `write_timeout` clause says otherwise.
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// How many events a hub client may be behind before `on_lag` applies, when `buffer` is not given.
pub const DEFAULT_BUFFER: usize = 256;

/// An endpoint's settings, shared read-only by all of its connections.
pub(crate) struct Settings {
    pub(crate) route: &'static str,
    pub(crate) period: Duration,
    pub(crate) until: Option<u64>,
    pub(crate) headers: Arc<[EventHeader]>,
    /// The open streams' wakers, woken by the endpoint's shutdown switch and keep-alive ticks.
    pub(crate) streams: Arc<WakerSet>,
    pub(crate) keep_alive: Option<KeepAlive>,
    pub(crate) write_timeout: Option<Duration>,
    pub(crate) retry_frame: Option<Bytes>,
    pub(crate) close_event: Option<&'static str>,
    /// A stream that ends by itself says so in its last frame's id, so that a browser which
    /// reconnects anyway is told `204` (the stream stays finished).
    pub(crate) marks_its_end: bool,
    pub(crate) buffer: usize,
    pub(crate) on_lag: OnLag,
    pub(crate) max_clients: Option<usize>,
    pub(crate) clients: Clients,
    pub(crate) shutdown: Shutdown,
    pub(crate) metrics: EndpointMetrics,
}

impl Settings {
    /// The defaults, before any clause.
    pub(crate) fn new(route: &'static str) -> Self {
        let streams = Arc::<WakerSet>::default();
        Settings {
            route,
            period: Duration::from_secs(1),
            until: None,
            headers: Arc::new([EventHeader::new("message")]),
            keep_alive: Some(KeepAlive::every(DEFAULT_KEEP_ALIVE, streams.clone())),
            streams,
            write_timeout: Some(DEFAULT_WRITE_TIMEOUT),
            retry_frame: None,
            close_event: Some("close"),
            marks_its_end: false,
            buffer: DEFAULT_BUFFER,
            on_lag: OnLag::Skip,
            max_clients: None,
            clients: Clients::new(),
            shutdown: Shutdown::global().clone(),
            metrics: EndpointMetrics::new(route),
        }
    }
}
