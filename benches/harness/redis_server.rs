//! A `redis-server` for one Redis-backed run: a free loopback port, nothing kept on disk, ready
//! once it says so, killed when dropped.

use std::io;
use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub struct RedisServer {
    _process: Child,
    pub url: String,
}

impl RedisServer {
    pub async fn start() -> io::Result<RedisServer> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let mut process = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--logfile", ""])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()?;
        let mut lines = BufReader::new(process.stdout.take().expect("piped")).lines();
        while let Some(line) = lines.next_line().await? {
            if line.contains("Ready to accept connections") {
                tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
                return Ok(RedisServer {
                    _process: process,
                    url: format!("redis://127.0.0.1:{port}"),
                });
            }
        }
        Err(io::Error::other("redis-server exited before it was ready"))
    }
}
