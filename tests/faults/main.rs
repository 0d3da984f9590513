//! Fault tests: connections ending in every way, stalled readers, panics, shutdown under load,
//! resumes without loss. One binary apart from `tests/http`, because some tests read the
//! process's memory and task counts: those run one at a time (`support::serial`).

#[allow(dead_code)]
#[path = "../http/client.rs"]
mod client;
#[allow(dead_code)]
#[path = "../http/server.rs"]
mod server;

#[path = "../checks/mod.rs"]
mod checks;
mod support;

mod churn;
mod fuzz_regressions;
mod hostile;
mod oracle;
mod panics;
mod resume;
mod shutdown;
mod stalled;
