//! What the fault tests share: one-at-a-time execution, memory and task readings, hook
//! counters the tests can await, and a log capture.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::sync::watch;

/// Held by tests that read process-wide figures (memory, tasks, logs), so they run alone.
pub async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    SERIAL.lock().await
}

/// This process's resident memory in bytes, after the allocator hands freed memory back to the
/// kernel (glibc keeps freed pages per thread arena otherwise, so RSS would show its high-water
/// mark rather than what is in use).
pub fn rss_bytes() -> u64 {
    // SAFETY: malloc_trim only releases free memory; it has no preconditions.
    unsafe { libc::malloc_trim(0) };
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|kib| kib.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap()
        * 1024
}

/// Tasks alive on the current runtime.
pub fn alive_tasks() -> usize {
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
}

/// A count that hooks bump and tests await.
#[derive(Clone)]
pub struct Counter(Arc<watch::Sender<u64>>);

impl Counter {
    pub fn new() -> Self {
        Counter(Arc::new(watch::channel(0).0))
    }

    pub fn bump(&self) {
        self.0.send_modify(|n| *n += 1);
    }

    pub fn get(&self) -> u64 {
        *self.0.borrow()
    }

    /// Waits until the count reaches `n`; fails the test after `limit`.
    pub async fn reaches(&self, n: u64, limit: Duration) {
        let mut seen = self.0.subscribe();
        let reached = tokio::time::timeout(limit, seen.wait_for(|count| *count >= n)).await;
        assert!(
            reached.is_ok(),
            "count stayed at {} of {n} for {limit:?}",
            self.get()
        );
    }
}

/// Waits until `check` holds, looking again whenever the runtime has run other tasks; fails
/// the test with `what` after `limit`. For figures that nothing notifies (task counts).
pub async fn until(what: &str, limit: Duration, mut check: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + limit;
    while !check() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Runs `future` with a deadline, failing the test with `what` if it passes.
pub async fn within<T>(what: &str, limit: Duration, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(limit, future)
        .await
        .unwrap_or_else(|_| panic!("{what}: not within {limit:?}"))
}

/// Error-level log messages, captured once for the whole binary.
pub fn error_logs() -> &'static Mutex<Vec<String>> {
    static LOGS: OnceLock<&'static Mutex<Vec<String>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs: &'static Mutex<Vec<String>> = Box::leak(Box::new(Mutex::new(Vec::new())));
        tracing::subscriber::set_global_default(Capture { logs }).expect("first subscriber");
        logs
    })
}

/// A `tracing` subscriber that keeps the message of every error event.
struct Capture {
    logs: &'static Mutex<Vec<String>>,
}

struct Message(String);

impl tracing::field::Visit for Message {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
}

impl tracing::Subscriber for Capture {
    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        *metadata.level() == tracing::Level::ERROR
    }

    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        static NEXT: AtomicUsize = AtomicUsize::new(1);
        tracing::span::Id::from_u64(NEXT.fetch_add(1, Ordering::Relaxed) as u64)
    }

    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}

    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}

    fn event(&self, event: &tracing::Event<'_>) {
        let mut message = Message(String::new());
        event.record(&mut message);
        self.logs.lock().unwrap().push(message.0);
    }

    fn enter(&self, _: &tracing::span::Id) {}

    fn exit(&self, _: &tracing::span::Id) {}
}
