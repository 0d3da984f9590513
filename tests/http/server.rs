//! Serving filters on loopback for the tests, and recording what hooks report.

use std::net::SocketAddr;

use tokio::net::TcpListener;
use tokio::sync::mpsc;
use warp::{Filter, Rejection, Reply};

/// An ephemeral loopback listener whose accepted sockets take a send buffer of about
/// `send_buffer` bytes, so that a client that stops reading stalls the server's writes soon.
#[allow(dead_code)] // used by the stall tests of tests/faults and tests/http/tls.rs
pub fn listener_with_send_buffer(send_buffer: u32) -> TcpListener {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_send_buffer_size(send_buffer).unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    socket.listen(16).unwrap()
}

/// Serves `filter` on an ephemeral loopback port on the current runtime.
pub async fn serve<F, R>(filter: F) -> SocketAddr
where
    F: Filter<Extract = (R,), Error = Rejection> + Clone + Send + Sync + 'static,
    R: Reply,
{
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("loopback port");
    let addr = listener.local_addr().unwrap();
    tokio::spawn(warp::serve(filter).incoming(listener).run());
    addr
}

/// Hook calls, as a channel the test awaits (never a sleep).
pub struct Calls<T> {
    pub sender: mpsc::UnboundedSender<T>,
    receiver: mpsc::UnboundedReceiver<T>,
}

impl<T> Calls<T> {
    pub fn new() -> Self {
        let (sender, receiver) = mpsc::unbounded_channel();
        Calls { sender, receiver }
    }

    /// The next call, failing the test if none comes within `limit`.
    pub async fn next_within(&mut self, limit: std::time::Duration) -> T {
        tokio::time::timeout(limit, self.receiver.recv())
            .await
            .expect("the hook runs in time")
            .expect("sender alive")
    }

    /// Calls made so far, without waiting.
    pub fn so_far(&mut self) -> Vec<T> {
        let mut calls = Vec::new();
        while let Ok(call) = self.receiver.try_recv() {
            calls.push(call);
        }
        calls
    }
}

/// Runs `future`, failing the test with `what` if it takes longer than `limit`.
pub async fn within<T>(
    what: &str,
    limit: std::time::Duration,
    future: impl std::future::Future<Output = T>,
) -> T {
    tokio::time::timeout(limit, future)
        .await
        .unwrap_or_else(|_| panic!("{what}: not within {limit:?}"))
}
