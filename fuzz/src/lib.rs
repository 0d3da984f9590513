//! What the fuzz targets share: the checks (also replayed by `tests/faults/fuzz_regressions.rs`)
//! and one runtime per thread whose clock is paused, so a stream's ticks cost no waiting.

use std::future::Future;

#[path = "../../tests/checks/mod.rs"]
mod checks;

pub use checks::*;

thread_local! {
    static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a current-thread runtime");
}

/// Runs `future` to completion on this thread's runtime.
pub fn block_on<F: Future>(future: F) -> F::Output {
    RUNTIME.with(|runtime| runtime.block_on(future))
}
