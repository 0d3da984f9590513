//! A real `redis-server` for one test: its own loopback port and directory, started and stopped
//! by the test, killed when the test ends however it ends. Readiness is read from the server's
//! own log line, never guessed with a sleep.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const READY_WITHIN: Duration = Duration::from_secs(20);

pub struct RedisServer {
    child: Option<Child>,
    pub port: u16,
    dir: PathBuf,
    persistent: bool,
}

impl RedisServer {
    /// A server that keeps nothing on disk.
    pub async fn start() -> Self {
        RedisServer::start_with(false).await
    }

    /// A server that writes every acknowledged command to its append-only file before
    /// answering (`appendfsync always`), so a restart loses nothing it acknowledged.
    pub async fn start_persistent() -> Self {
        RedisServer::start_with(true).await
    }

    async fn start_with(persistent: bool) -> Self {
        static STARTED: AtomicUsize = AtomicUsize::new(0);
        let n = STARTED.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("warp-eventstream-redis-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a directory for redis");
        let mut server = RedisServer {
            child: None,
            port: 0,
            dir,
            persistent,
        };
        // A port found free can be taken before redis binds it: try another.
        for _ in 0..10 {
            server.port = free_port();
            if server.launch().await {
                return server;
            }
        }
        panic!("redis-server did not start (is it installed? scripts/install-test-deps.sh)");
    }

    /// A handle on a server another handle owns (for a task that needs its port), which stops
    /// nothing when dropped.
    pub fn attach(port: u16) -> Self {
        RedisServer {
            child: None,
            port,
            dir: PathBuf::new(),
            persistent: false,
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts redis-server on `self.port`; false if it could not bind it.
    async fn launch(&mut self) -> bool {
        let mut command = Command::new("redis-server");
        command
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--dir", self.dir.to_str().expect("a UTF-8 temp dir")])
            .args(["--save", "", "--daemonize", "no", "--logfile", ""])
            .args(["--protected-mode", "no"]);
        if self.persistent {
            command.args(["--appendonly", "yes", "--appendfsync", "always"]);
        } else {
            command.args(["--appendonly", "no"]);
        }
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("redis-server runs (scripts/install-test-deps.sh installs it)");
        let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
        let ready = tokio::time::timeout(READY_WITHIN, async {
            while let Ok(Some(line)) = lines.next_line().await {
                if line.contains("Ready to accept connections") {
                    return true;
                }
                if line.contains("Address already in use") || line.contains("Could not create") {
                    return false;
                }
            }
            false
        })
        .await
        .unwrap_or(false);
        if !ready {
            let _ = child.kill().await;
            return false;
        }
        // Keep reading its log so the pipe never fills and blocks the server.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        self.child = Some(child);
        true
    }

    /// Stops the server as an operator would (SIGTERM: it flushes its append-only file and
    /// exits), and waits until it has exited.
    pub async fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if let Some(pid) = child.id() {
            // SAFETY: `kill` with a pid this test spawned and has not reaped.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
        }
        let _ = tokio::time::timeout(READY_WITHIN, child.wait()).await;
        let _ = child.kill().await;
    }

    /// Starts it again on the same port, with whatever its directory holds.
    pub async fn restart(&mut self) {
        self.stop().await;
        for _ in 0..50 {
            if self.launch().await {
                return;
            }
            // The old socket can linger for a moment after the process exits.
            tokio::task::yield_now().await;
        }
        panic!("redis-server did not restart on port {}", self.port);
    }

    /// Starts it again on the same port with nothing: as if its data were lost.
    pub async fn restart_empty(&mut self) {
        self.stop().await;
        for entry in std::fs::read_dir(&self.dir).expect("redis dir").flatten() {
            let _ = std::fs::remove_dir_all(entry.path())
                .or_else(|_| std::fs::remove_file(entry.path()));
        }
        self.restart().await;
    }

    /// A command on a fresh connection of the test's own.
    pub async fn query<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> T {
        let client = redis::Client::open(self.url()).unwrap();
        let mut connection = client.get_multiplexed_async_connection().await.unwrap();
        cmd.query_async(&mut connection).await.unwrap()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.start_kill();
        }
        if !self.dir.as_os_str().is_empty() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port()
}
