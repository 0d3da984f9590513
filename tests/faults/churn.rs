//! 5,000 clients connect, receive a few events and vanish (FIN, RST, or the socket dropped with
//! data unread), in waves: hooks balance, nothing stays behind.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use warp_eventstream::{event_stream, json, Clients};

use crate::server::serve;
use crate::support::{alive_tasks, rss_bytes, serial, until, Counter};

const WAVES: usize = 10;
const PER_WAVE: usize = 500;

#[derive(Clone, Copy, Debug)]
enum Leave {
    /// Half-close, then close: the server reads end-of-file.
    Fin,
    /// Linger zero: the kernel resets the connection.
    Rst,
    /// Dropped with events unread in its buffer (the kernel resets it too, without a shutdown).
    Drop,
}

/// Connects, reads until three events arrived, then leaves as told.
async fn visit(addr: SocketAddr, leave: Leave) {
    let mut socket = TcpStream::connect(addr).await.expect("server accepts");
    socket
        .write_all(b"GET /churn HTTP/1.1\r\nhost: x\r\naccept: text/event-stream\r\n\r\n")
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    while seen.windows(2).filter(|w| w == b"\n\n").count() < 3 {
        let n = socket.read(&mut buf).await.expect("stream open");
        assert!(n > 0, "the stream ended early");
        seen.extend_from_slice(&buf[..n]);
    }
    match leave {
        Leave::Fin => {
            socket.shutdown().await.unwrap();
            drop(socket);
        }
        Leave::Rst => {
            // Deprecated because a non-zero linger blocks on drop; a zero linger resets at once.
            #[allow(deprecated)]
            socket.set_linger(Some(Duration::ZERO)).unwrap();
            drop(socket);
        }
        Leave::Drop => drop(socket),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnect_churn_leaves_nothing_behind() {
    let _alone = serial().await;
    let (opened, closed, clients) = (Counter::new(), Counter::new(), Clients::new());
    let churn = {
        let (opened, closed) = (opened.clone(), closed.clone());
        event_stream! {
            route "/churn"
            every 2ms
            clients clients.clone()
            on_open { opened.bump() }
            on_close |_n| { closed.bump() }
            => |i| json!({ "tick": i, "pad": "a line of padding so that a few events fill a read" })
        }
    };
    let addr = serve(churn).await;
    let tasks_before = alive_tasks();

    let mut baseline = None;
    for wave in 0..WAVES {
        let visits: Vec<_> = (0..PER_WAVE)
            .map(|i| {
                let leave = [Leave::Fin, Leave::Rst, Leave::Drop][i % 3];
                tokio::spawn(visit(addr, leave))
            })
            .collect();
        for visit in visits {
            visit.await.expect("client");
        }
        let total = ((wave + 1) * PER_WAVE) as u64;
        closed.reaches(total, Duration::from_secs(30)).await;
        assert_eq!(opened.get(), total, "on_open once per connection");
        assert_eq!(closed.get(), total, "on_close once per connection");
        eprintln!(
            "wave {wave}: RSS {} KiB, tasks {}",
            rss_bytes() / 1024,
            alive_tasks()
        );
        if wave == 0 {
            // After one warm-up wave: allocator pools and runtime structures are sized.
            baseline = Some(rss_bytes());
        }
    }

    assert_eq!(clients.count(), 0, "no connection still counted");
    // hyper's connection tasks end right after the stream (and its on_close) is dropped.
    until("connection tasks gone", Duration::from_secs(10), || {
        alive_tasks() <= tasks_before
    })
    .await;
    let (baseline, now) = (baseline.unwrap(), rss_bytes());
    assert!(
        now <= baseline + baseline / 10,
        "RSS grew from {baseline} to {now} bytes over {} connections",
        WAVES * PER_WAVE
    );
}
