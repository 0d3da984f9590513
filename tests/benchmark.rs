//! The benchmark harness in quick mode: every scenario against every server, with small
//! numbers, so the harness (and the peers it compares against) never rots. It fails when any
//! client misses an event or sees one out of order; its timings are printed, never asserted.

#[path = "../benches/harness/mod.rs"]
mod harness;

fn main() -> std::process::ExitCode {
    harness::main(harness::Mode::Quick)
}
