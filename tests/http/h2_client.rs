//! An HTTP/2 client for the tests: the h2 crate (hyper's own HTTP/2), so a test controls each
//! stream's flow-control window, resets one stream alone, and sees the server's resets.

use bytes::Bytes;
use eventsource_stream::{Event, Eventsource};
use futures::stream::BoxStream;
use futures::StreamExt;
use h2::client::SendRequest;
use h2::RecvStream;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::task::JoinHandle;
use warp::http::{Request, StatusCode};

/// One HTTP/2 connection, its frames driven by a task of its own.
pub struct H2Connection {
    send: SendRequest<Bytes>,
    /// Ends when the server closes the connection (after GOAWAY, say).
    pub driver: JoinHandle<Result<(), h2::Error>>,
}

/// Opens an HTTP/2 connection over `io` (prior knowledge, or after ALPN chose `h2`). Each
/// stream may receive `stream_window` bytes its reader has not taken yet.
pub async fn connect<T>(io: T, stream_window: u32) -> H2Connection
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (send, connection) = h2::client::Builder::new()
        .initial_window_size(stream_window)
        // Room on the connection for every stream's window, so one stalled stream cannot
        // hold up the others at the connection level.
        .initial_connection_window_size(16 << 20)
        .handshake::<_, Bytes>(io)
        .await
        .expect("HTTP/2 handshake");
    H2Connection {
        send,
        driver: tokio::spawn(connection),
    }
}

impl H2Connection {
    /// `GET path` on a new stream of this connection.
    pub async fn get(&mut self, path: &str) -> (StatusCode, RecvStream) {
        let request = Request::get(format!("http://127.0.0.1{path}"))
            .body(())
            .unwrap();
        let mut send = self.send.clone().ready().await.expect("a stream is free");
        let (response, _) = send.send_request(request, true).expect("request sent");
        let response = response.await.expect("response head");
        let status = response.status();
        (status, response.into_body())
    }
}

/// A stream's body as SSE events, its window released as the events are read (as a browser
/// does); ends with the stream.
pub fn events(body: RecvStream) -> BoxStream<'static, Event> {
    futures::stream::unfold(body, |mut body| async move {
        let chunk = body.data().await?.expect("the stream is not reset");
        body.flow_control()
            .release_capacity(chunk.len())
            .expect("capacity released");
        Some((Ok::<_, std::convert::Infallible>(chunk), body))
    })
    .eventsource()
    .map(|event| event.expect("a well-formed event stream"))
    .boxed()
}
