//! Checks shared by the fuzz targets (`fuzz/`) and the regression test that replays their
//! inputs over loopback (`tests/faults/fuzz_regressions.rs`): each says what the server must
//! answer for one input, independently of how the crate computes it.

pub mod event_source;
pub mod framing;
pub mod last_event_id;
pub mod route;
