//! A server under test, in a child process of its own (this same binary with `--serve <kind>`),
//! so its memory and CPU time are its own. It is driven through its stdin: `publish <topic>
//! <count> <rate>` answers `published <nanoseconds>` when the last event is out; `heap` answers
//! `heap <live blocks>` (a server started with heap counting, `super::heap`).

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{ChildStdin, ChildStdout, Command};

use super::servers::Kind;

pub struct Child {
    process: tokio::process::Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
    pub addr: SocketAddr,
}

impl Child {
    /// A server with extra environment variables (a Redis-backed server's Redis URL, heap
    /// counting).
    pub async fn spawn_with(kind: Kind, env: &[(&str, &str)]) -> io::Result<Child> {
        let mut process = Command::new(std::env::current_exe()?)
            .args(["--serve", kind.name()])
            .envs(env.iter().copied())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let stdin = process.stdin.take().expect("piped");
        let mut stdout = BufReader::new(process.stdout.take().expect("piped")).lines();
        let line = stdout.next_line().await?.unwrap_or_default();
        let addr = line
            .strip_prefix("listening ")
            .and_then(|addr| addr.parse().ok())
            .ok_or_else(|| io::Error::other(format!("server said {line:?}")))?;
        Ok(Child {
            process,
            stdin,
            stdout,
            addr,
        })
    }

    /// Publishes `count` events on `topic`, `rate` per second (0: as fast as it can); returns how
    /// long publishing took, and the publisher's CPU time.
    pub async fn publish(&mut self, topic: &str, count: u64, rate: u64) -> io::Result<Published> {
        let command = format!("publish {topic} {count} {rate}\n");
        self.stdin.write_all(command.as_bytes()).await?;
        self.stdin.flush().await?;
        let line = self.stdout.next_line().await?.unwrap_or_default();
        let nanos = |word: Option<&str>| word?.parse().ok().map(Duration::from_nanos);
        line.strip_prefix("published ")
            .and_then(|times| {
                let mut words = times.split(' ');
                Some(Published {
                    took: nanos(words.next())?,
                    cpu: nanos(words.next())?,
                })
            })
            .ok_or_else(|| io::Error::other(format!("server said {line:?}")))
    }

    /// The server's live heap blocks now (`super::heap::snapshot`'s line); the server must have
    /// been spawned with `COUNT_HEAP` set.
    pub async fn heap(&mut self) -> io::Result<String> {
        self.stdin.write_all(b"heap\n").await?;
        self.stdin.flush().await?;
        let line = self.stdout.next_line().await?.unwrap_or_default();
        line.strip_prefix("heap ")
            .map(str::to_owned)
            .ok_or_else(|| io::Error::other(format!("server said {line:?}")))
    }

    fn pid(&self) -> u32 {
        self.process.id().expect("running")
    }

    /// Resident memory, from `/proc/<pid>/status`.
    pub fn rss_bytes(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("the server is running");
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|kib| kib.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .expect("VmRSS in /proc/<pid>/status")
            * 1024
    }

    /// User plus system CPU time so far, from `/proc/<pid>/stat`.
    pub fn cpu_seconds(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid()))
            .expect("the server is running");
        // Fields after the command name, which is in parentheses and may contain spaces.
        let after = &stat[stat.rfind(')').expect("(comm)") + 2..];
        let fields: Vec<&str> = after.split(' ').collect();
        // utime and stime are fields 14 and 15 of the whole line: 11 and 12 after `comm`.
        let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
        // SAFETY: sysconf has no preconditions.
        let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
        ticks as f64 / per_second
    }
}

/// What a `publish` command took.
#[derive(Debug, Clone, Copy)]
pub struct Published {
    /// From the command to the last event stored.
    pub took: Duration,
    /// The CPU time the publishing code used (the thread CPU clock around it): not the tasks
    /// it yields to every 256 events, not waiting for a broker, not time its thread was
    /// preempted by the other processes on the cores.
    pub cpu: Duration,
}
