//! The load generator's client: raw HTTP/1.1 over TCP with a chunked-body decoder, or HTTP/2
//! through the h2 crate; and an SSE line scanner that reads only what the scenarios check
//! (`seq` and `t` in the data, the close event).

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// One SSE connection whose response head has been read.
pub struct Conn {
    socket: TcpStream,
    /// Body bytes that arrived with the head.
    early: Vec<u8>,
    chunks: Dechunk,
    scan: Scan,
    /// From `connect` to the end of the response head.
    pub connect_time: Duration,
}

/// What one client saw.
#[derive(Debug, Default)]
pub struct Tally {
    pub events: u64,
    /// Every `seq` was the one after the previous (the first being 1).
    pub in_order: bool,
    pub closed: bool,
    /// Publish-to-receive latencies in microseconds, when asked for.
    pub latencies_us: Vec<u32>,
}

/// A client's receive buffer (`SO_RCVBUF`). Left to the kernel's autotuning (up to
/// `tcp_rmem`'s 32 MiB here), a thousand loopback sockets that a server fills faster than the
/// load generator reads hold gigabytes between them, and TCP enters memory pressure
/// (`super::netstat`): every socket's buffers shrink and the figures drop several times over.
/// 256 KiB is a few milliseconds of events per client at the fastest fan-out.
pub const RECV_BUFFER: u32 = 256 * 1024;

/// Connects from `source` (any `127.0.0.x`, so 10,000 clients do not run out of ports), sends
/// `GET path` and reads the response head, which must be `200`.
pub async fn open(addr: SocketAddr, source: Ipv4Addr, path: &str) -> io::Result<Conn> {
    open_with(addr, source, path, RECV_BUFFER).await
}

/// Like [`open`], from a socket whose receive buffer is about `recv_buffer` bytes: a client that
/// then never reads stalls the server's writes after a few events, as a frozen tab does.
pub async fn open_stalling(
    addr: SocketAddr,
    source: Ipv4Addr,
    path: &str,
    recv_buffer: u32,
) -> io::Result<Conn> {
    open_with(addr, source, path, recv_buffer).await
}

async fn open_with(
    addr: SocketAddr,
    source: Ipv4Addr,
    path: &str,
    recv_buffer: u32,
) -> io::Result<Conn> {
    let started = Instant::now();
    let socket = TcpSocket::new_v4()?;
    socket.set_recv_buffer_size(recv_buffer)?;
    socket.bind(SocketAddr::new(IpAddr::V4(source), 0))?;
    let mut socket = socket.connect(addr).await?;
    socket.set_nodelay(true)?;
    let request =
        format!("GET {path} HTTP/1.1\r\nhost: {addr}\r\naccept: text/event-stream\r\n\r\n");
    socket.write_all(request.as_bytes()).await?;

    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 4096];
    let end = loop {
        let n = socket.read(&mut buf).await?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "no response head",
            ));
        }
        head.extend_from_slice(&buf[..n]);
        if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
    };
    let text = String::from_utf8_lossy(&head[..end]).to_ascii_lowercase();
    if !text.starts_with("http/1.1 200") {
        let status = text.lines().next().unwrap_or_default().to_owned();
        return Err(io::Error::other(format!("response: {status}")));
    }
    if !text.contains("transfer-encoding: chunked") {
        return Err(io::Error::other("expected a chunked event stream"));
    }
    Ok(Conn {
        socket,
        early: head[end..].to_vec(),
        chunks: Dechunk::default(),
        scan: Scan::default(),
        connect_time: started.elapsed(),
    })
}

impl Conn {
    /// Reads events until `expect` of them arrived, the close event, or the end of the stream.
    pub async fn receive(mut self, expect: u64, latencies: bool) -> io::Result<Tally> {
        self.read_events(expect, latencies, 64 * 1024).await
    }

    /// Reads events until `expect` more arrived (or the stream ends), through a small buffer,
    /// and keeps the connection: for ten thousand clients at once.
    pub async fn receive_few(&mut self, expect: u64) -> io::Result<Tally> {
        self.read_events(expect, false, 4096).await
    }

    async fn read_events(
        &mut self,
        expect: u64,
        latencies: bool,
        buf_len: usize,
    ) -> io::Result<Tally> {
        let mut count = Count::new(expect, latencies);
        let mut buf = vec![0u8; buf_len];
        let mut pending = std::mem::take(&mut self.early);
        loop {
            let Conn { chunks, scan, .. } = self;
            chunks.feed(&pending, &mut |body| count.feed(scan, body));
            if count.done() || self.chunks.done {
                return Ok(count.tally);
            }
            let n = self.socket.read(&mut buf).await?;
            if n == 0 {
                return Ok(count.tally);
            }
            pending.clear();
            pending.extend_from_slice(&buf[..n]);
        }
    }
}

/// One HTTP/2 connection: its event streams, opened together, and the task that drives it.
pub struct H2Conn {
    pub streams: Vec<H2Stream>,
    _send: h2::client::SendRequest<bytes::Bytes>,
    driver: tokio::task::JoinHandle<()>,
}

impl Drop for H2Conn {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

/// One event stream of an HTTP/2 connection.
pub struct H2Stream {
    body: h2::RecvStream,
    scan: Scan,
}

/// Connects from `source` with HTTP/2 (prior knowledge) and opens `streams` streams of
/// `GET path`, each of whose responses must be `200`. Windows as large as a browser's.
pub async fn open_h2(
    addr: SocketAddr,
    source: Ipv4Addr,
    path: &str,
    streams: usize,
) -> io::Result<H2Conn> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(IpAddr::V4(source), 0))?;
    let socket = socket.connect(addr).await?;
    socket.set_nodelay(true)?;
    let (send, connection) = h2::client::Builder::new()
        .initial_window_size(6 << 20)
        .initial_connection_window_size(15 << 20)
        .handshake::<_, bytes::Bytes>(socket)
        .await
        .map_err(io::Error::other)?;
    let driver = tokio::spawn(async move {
        let _ = connection.await;
    });
    let mut opened = Vec::with_capacity(streams);
    for _ in 0..streams {
        let request = warp::http::Request::get(format!("http://{addr}{path}"))
            .body(())
            .expect("a valid request");
        let mut ready = send.clone().ready().await.map_err(io::Error::other)?;
        let (response, _) = ready
            .send_request(request, true)
            .map_err(io::Error::other)?;
        opened.push(response);
    }
    let mut conn = H2Conn {
        streams: Vec::with_capacity(streams),
        _send: send,
        driver,
    };
    for response in opened {
        let response = response.await.map_err(io::Error::other)?;
        if response.status() != warp::http::StatusCode::OK {
            return Err(io::Error::other(format!("response: {}", response.status())));
        }
        conn.streams.push(H2Stream {
            body: response.into_body(),
            scan: Scan::default(),
        });
    }
    Ok(conn)
}

impl H2Stream {
    /// Reads events until `expect` of them arrived, the close event, or the end of the stream;
    /// releases the window as it reads, as a browser does.
    pub async fn receive(mut self, expect: u64, latencies: bool) -> io::Result<Tally> {
        self.read_events(expect, latencies).await
    }

    /// Reads events until `expect` more arrived (or the stream ends), and keeps the stream.
    pub async fn receive_few(&mut self, expect: u64) -> io::Result<Tally> {
        self.read_events(expect, false).await
    }

    async fn read_events(&mut self, expect: u64, latencies: bool) -> io::Result<Tally> {
        let mut count = Count::new(expect, latencies);
        while !count.done() {
            let Some(chunk) = self.body.data().await else {
                break;
            };
            let chunk = chunk.map_err(io::Error::other)?;
            let _ = self.body.flow_control().release_capacity(chunk.len());
            count.feed(&mut self.scan, &chunk);
        }
        Ok(count.tally)
    }
}

/// A client's tally as events arrive.
struct Count {
    tally: Tally,
    expect: u64,
    next_seq: u64,
    latencies: bool,
}

impl Count {
    fn new(expect: u64, latencies: bool) -> Count {
        let mut tally = Tally {
            in_order: true,
            ..Tally::default()
        };
        if latencies {
            tally.latencies_us.reserve(expect as usize);
        }
        Count {
            tally,
            expect,
            next_seq: 1,
            latencies,
        }
    }

    fn done(&self) -> bool {
        self.tally.closed || self.tally.events >= self.expect
    }

    /// Counts the events in `body`, the next bytes of the stream.
    fn feed(&mut self, scan: &mut Scan, body: &[u8]) {
        let Count {
            tally,
            next_seq,
            latencies,
            ..
        } = self;
        scan.feed(body, &mut |seen: Seen| {
            if seen.close {
                tally.closed = true;
                return;
            }
            tally.events += 1;
            if let Some(seq) = seen.seq {
                tally.in_order &= seq == *next_seq;
                *next_seq = seq + 1;
            }
            if let (true, Some(t)) = (*latencies, seen.t) {
                let now = unix_nanos();
                tally
                    .latencies_us
                    .push((now.saturating_sub(t) / 1000).min(u32::MAX as u64) as u32);
            }
        });
    }
}

/// Nanoseconds since the Unix epoch: the clock the server's publisher stamps events with.
pub fn unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_nanos() as u64
}

/// Decodes `Transfer-Encoding: chunked` incrementally.
#[derive(Default)]
struct Dechunk {
    state: ChunkState,
    size: usize,
    done: bool,
}

#[derive(Default, Clone, Copy)]
enum ChunkState {
    #[default]
    Size,
    Extension,
    Data(usize),
    /// The CRLF after a chunk's data: how many bytes of it are left.
    Trailer(u8),
}

impl Dechunk {
    fn feed(&mut self, mut input: &[u8], out: &mut impl FnMut(&[u8])) {
        while !input.is_empty() && !self.done {
            match self.state {
                ChunkState::Size | ChunkState::Extension => {
                    let b = input[0];
                    input = &input[1..];
                    match (self.state, b) {
                        (_, b'\n') => {
                            self.state = ChunkState::Data(self.size);
                            self.done = self.size == 0;
                            self.size = 0;
                        }
                        (ChunkState::Size, b';') => self.state = ChunkState::Extension,
                        (ChunkState::Size, b) if b.is_ascii_hexdigit() => {
                            self.size = self.size * 16 + (b as char).to_digit(16).unwrap() as usize;
                        }
                        _ => {}
                    }
                }
                ChunkState::Data(left) => {
                    let take = left.min(input.len());
                    out(&input[..take]);
                    input = &input[take..];
                    self.state = if take == left {
                        ChunkState::Trailer(2)
                    } else {
                        ChunkState::Data(left - take)
                    };
                }
                ChunkState::Trailer(left) => {
                    input = &input[1..];
                    self.state = if left == 1 {
                        ChunkState::Size
                    } else {
                        ChunkState::Trailer(left - 1)
                    };
                }
            }
        }
    }
}

/// One dispatched event, as far as the scenarios care.
struct Seen {
    seq: Option<u64>,
    t: Option<u64>,
    close: bool,
}

/// Splits the body into lines and dispatches an event at each blank line after a `data` line.
#[derive(Default)]
struct Scan {
    partial: Vec<u8>,
    data: bool,
    seq: Option<u64>,
    t: Option<u64>,
    close: bool,
}

impl Scan {
    fn feed(&mut self, mut body: &[u8], on_event: &mut impl FnMut(Seen)) {
        while let Some(end) = body.iter().position(|&b| b == b'\n') {
            if self.partial.is_empty() {
                self.line(&body[..end], on_event);
            } else {
                let mut line = std::mem::take(&mut self.partial);
                line.extend_from_slice(&body[..end]);
                self.line(&line, on_event);
                line.clear();
                self.partial = line;
            }
            body = &body[end + 1..];
        }
        self.partial.extend_from_slice(body);
    }

    fn line(&mut self, line: &[u8], on_event: &mut impl FnMut(Seen)) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            if self.data {
                on_event(Seen {
                    seq: self.seq.take(),
                    t: self.t.take(),
                    close: std::mem::take(&mut self.close),
                });
            }
            self.data = false;
            self.close = false;
        } else if let Some(data) = line.strip_prefix(b"data:") {
            self.data = true;
            self.seq = number_after(data, b"\"seq\":");
            self.t = number_after(data, b"\"t\":");
        } else if let Some(name) = line.strip_prefix(b"event:") {
            self.close = name.trim_ascii() == b"close";
        }
    }
}

fn number_after(haystack: &[u8], key: &[u8]) -> Option<u64> {
    let at = haystack.windows(key.len()).position(|w| w == key)? + key.len();
    let digits = haystack[at..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    std::str::from_utf8(&haystack[at..at + digits])
        .ok()?
        .parse()
        .ok()
}
