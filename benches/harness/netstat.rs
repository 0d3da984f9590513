//! The kernel's own account of a run: how often TCP entered memory pressure
//! (`TCPMemoryPressures` in `/proc/net/netstat`). Under pressure the kernel shrinks every
//! socket's buffers and prunes their queues, and throughput drops several times over for
//! reasons that have nothing to do with the server under test; the harness says when it
//! happened, so that such a round is not read as the server's figure.

/// How many times TCP has entered memory pressure since boot; `None` where the kernel does not
/// say.
pub fn tcp_memory_pressures() -> Option<u64> {
    let netstat = std::fs::read_to_string("/proc/net/netstat").ok()?;
    let mut lines = netstat.lines().filter(|line| line.starts_with("TcpExt:"));
    let (names, values) = (lines.next()?, lines.next()?);
    let at = names
        .split_whitespace()
        .position(|name| name == "TCPMemoryPressures")?;
    values.split_whitespace().nth(at)?.parse().ok()
}
