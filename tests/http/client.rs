//! A raw HTTP/1.1 client for the tests: exact bytes on the wire, and a socket the test controls.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use eventsource_stream::{Event, Eventsource};
use futures::{Stream, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

enum Read {
    Data(Bytes),
    End,
    Closed,
}

/// A response whose head has been read; its body is read chunk by chunk on demand.
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    socket: TcpStream,
    /// Bytes read from the socket but not yet decoded.
    raw: Vec<u8>,
    chunked: bool,
    ended: bool,
}

/// Sends `GET path` with extra headers and reads the response head.
pub async fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Response {
    request(addr, "GET", path, headers).await
}

/// Sends `method path` with extra headers and reads the response head.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Response {
    let socket = TcpStream::connect(addr).await.expect("server accepts");
    send_request(socket, method, path, headers).await
}

/// Sends `method path` with a body (its `content-length` added) and reads the response head.
#[allow(dead_code)] // used by tests/metrics.rs
pub async fn request_with_body(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    let length = body.len().to_string();
    let mut headers = headers.to_vec();
    headers.push(("content-length", &length));
    let socket = TcpStream::connect(addr).await.expect("server accepts");
    let mut socket = write_request(socket, method, path, &headers).await;
    socket.write_all(body).await.expect("body written");
    try_read_head(socket)
        .await
        .expect("connection closed before the response head")
}

/// `GET path` with one header whose value is sent as raw bytes (which need not be UTF-8).
#[allow(dead_code)] // used by tests/faults
pub async fn get_with_raw_header(
    addr: SocketAddr,
    path: &str,
    name: &str,
    value: &[u8],
) -> Response {
    let socket = TcpStream::connect(addr).await.expect("server accepts");
    let socket = write_request_bytes(socket, "GET", path, &[(name, value)]).await;
    try_read_head(socket)
        .await
        .expect("connection closed before the response head")
}

/// `GET path` from a socket whose receive buffer is about `recv_buffer` bytes, so a test that
/// stops reading stalls the server's writes soon.
pub async fn get_with_small_window(addr: SocketAddr, path: &str, recv_buffer: u32) -> Response {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(recv_buffer).unwrap();
    let socket = socket.connect(addr).await.expect("server accepts");
    send_request(socket, "GET", path, &[]).await
}

/// Like [`get`], but `None` when the server closes the connection before answering (as a
/// browser would see it: a failed attempt, to retry).
#[allow(dead_code)] // used by tests/faults
pub async fn try_get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Option<Response> {
    let socket = TcpStream::connect(addr).await.expect("server accepts");
    let socket = write_request(socket, "GET", path, headers).await;
    try_read_head(socket).await
}

async fn send_request(
    socket: TcpStream,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Response {
    let socket = write_request(socket, method, path, headers).await;
    try_read_head(socket)
        .await
        .expect("connection closed before the response head")
}

async fn write_request(
    socket: TcpStream,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> TcpStream {
    let headers: Vec<(&str, &[u8])> = headers
        .iter()
        .map(|(name, value)| (*name, value.as_bytes()))
        .collect();
    write_request_bytes(socket, method, path, &headers).await
}

/// Writes the request head; header values go out as given, byte for byte.
async fn write_request_bytes(
    mut socket: TcpStream,
    method: &str,
    path: &str,
    headers: &[(&str, &[u8])],
) -> TcpStream {
    let addr = socket.peer_addr().unwrap();
    let mut head =
        format!("{method} {path} HTTP/1.1\r\nhost: {addr}\r\naccept: text/event-stream\r\n")
            .into_bytes();
    for (name, value) in headers {
        head.extend_from_slice(name.as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value);
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"\r\n");
    socket.write_all(&head).await.expect("request written");
    socket
}

async fn try_read_head(mut socket: TcpStream) -> Option<Response> {
    let mut raw = Vec::new();
    let end = loop {
        if let Some(at) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        let mut buf = [0u8; 4096];
        match socket.read(&mut buf).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
        }
    };
    let head = String::from_utf8(raw[..end].to_vec()).expect("ASCII head");
    raw.drain(..end + 4);
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .map(|line| {
            let (name, value) = line.split_once(':').unwrap();
            (name.trim().to_ascii_lowercase(), value.trim().to_owned())
        })
        .collect();
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v == "chunked");
    Some(Response {
        status,
        headers,
        socket,
        raw,
        chunked,
        ended: false,
    })
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The next body chunk as the server framed it, or `None` once the body has ended.
    /// Panics if the server closes the connection mid-body; see [`Response::aborted`].
    pub async fn chunk(&mut self) -> Option<Bytes> {
        match self.read_chunk().await {
            Read::Data(data) => Some(data),
            Read::End => None,
            Read::Closed => {
                panic!("connection closed inside the body (the server aborted the stream)")
            }
        }
    }

    async fn read_chunk(&mut self) -> Read {
        if self.ended {
            return Read::End;
        }
        if !self.chunked {
            // Bodies with a length (errors, 204) are read whole.
            let len: usize = self
                .header("content-length")
                .map_or(0, |l| l.parse().unwrap());
            while self.raw.len() < len {
                if self.fill().await.is_none() {
                    return Read::Closed;
                }
            }
            self.ended = true;
            if len == 0 {
                return Read::End;
            }
            return Read::Data(self.raw.drain(..len).collect::<Vec<_>>().into());
        }
        loop {
            if let Some(at) = self.raw.windows(2).position(|w| w == b"\r\n") {
                let size = usize::from_str_radix(std::str::from_utf8(&self.raw[..at]).unwrap(), 16)
                    .unwrap();
                if self.raw.len() >= at + 2 + size + 2 {
                    let data: Bytes = self.raw[at + 2..at + 2 + size].to_vec().into();
                    self.raw.drain(..at + 2 + size + 2);
                    if size == 0 {
                        self.ended = true;
                        return Read::End;
                    }
                    return Read::Data(data);
                }
            }
            if self.fill().await.is_none() {
                return Read::Closed;
            }
        }
    }

    /// Reads the body to its end (the terminating chunk) and returns it.
    pub async fn body(&mut self) -> String {
        String::from_utf8(self.body_bytes().await).expect("UTF-8 body")
    }

    /// Reads the body to its end and returns its bytes as sent.
    pub async fn body_bytes(&mut self) -> Vec<u8> {
        let mut body = Vec::new();
        while let Some(chunk) = self.chunk().await {
            body.extend_from_slice(&chunk);
        }
        body
    }

    /// Reads body bytes until at least `len` have arrived; returns them as text.
    pub async fn body_prefix(&mut self, len: usize) -> String {
        let mut body = Vec::new();
        while body.len() < len {
            let chunk = self.chunk().await.expect("the stream goes on");
            body.extend_from_slice(&chunk);
        }
        String::from_utf8(body).expect("UTF-8 body")
    }

    /// The next body chunk, or `None` once the body has ended or the server dropped the
    /// connection (as a browser sees it: the stream is over either way).
    #[allow(dead_code)] // used by tests/faults
    pub async fn chunk_until_closed(&mut self) -> Option<Bytes> {
        match self.read_chunk().await {
            Read::Data(data) => Some(data),
            Read::End | Read::Closed => None,
        }
    }

    /// Reads what is left; true if the server closed the connection without ending the body.
    pub async fn aborted(&mut self) -> bool {
        loop {
            match self.read_chunk().await {
                Read::Data(_) => continue,
                Read::End => return false,
                Read::Closed => return true,
            }
        }
    }

    async fn fill(&mut self) -> Option<usize> {
        let mut buf = [0u8; 16 * 1024];
        match self.socket.read(&mut buf).await {
            Ok(0) | Err(_) => None,
            Ok(n) => {
                self.raw.extend_from_slice(&buf[..n]);
                Some(n)
            }
        }
    }

    /// The body as parsed by an independent SSE parser (the `eventsource-stream` crate).
    pub fn events(self) -> impl Stream<Item = Event> {
        futures::stream::unfold(self, |mut response| async move {
            response
                .chunk()
                .await
                .map(|chunk| (Ok::<_, std::convert::Infallible>(chunk), response))
        })
        .eventsource()
        .map(|event| event.expect("a well-formed event stream"))
    }

    /// Like [`Response::events`], but ends quietly when the server drops the connection.
    pub fn events_until_closed(self) -> impl Stream<Item = Event> {
        futures::stream::unfold(self, |mut response| async move {
            match response.read_chunk().await {
                Read::Data(chunk) => Some((Ok::<_, std::convert::Infallible>(chunk), response)),
                Read::End | Read::Closed => None,
            }
        })
        .eventsource()
        .map(|event| event.expect("a well-formed event stream"))
    }
}

/// Collects `n` events, failing the test if they take longer than `limit`.
pub async fn take_events(
    events: &mut (impl Stream<Item = Event> + Unpin),
    n: usize,
    limit: Duration,
) -> Vec<Event> {
    let mut taken = Vec::with_capacity(n);
    tokio::time::timeout(limit, async {
        while taken.len() < n {
            taken.push(events.next().await.expect("the stream goes on"));
        }
    })
    .await
    .expect("events arrive in time");
    taken
}
