//! The benchmark harness: the same workloads against this crate, hand-written `warp::sse` and
//! hand-written axum SSE, each server in a child process of its own, driven over loopback by a
//! raw HTTP/1.1 load generator in this process. `benches/sse.rs` runs it in full
//! (`cargo bench --bench sse`); `tests/benchmark.rs` runs it in quick mode in the test suite.
//!
//! Arguments: `--quick` or `--full` (the sizes), `--rounds N` (each scenario N times per server,
//! servers alternating, the table shows medians), `--only <scenario>` (idle, fan-out, latency,
//! stalled, counting; may repeat), `--server <name>` (warp-eventstream, warp::sse, axum; may
//! repeat: to compare two builds of one server without waiting for the others),
//! `--server-cpus <list>` and `--client-cpus <list>` (`0,1`, `2-15`: the servers and the load
//! generator pinned to separate cores with `sched_setaffinity`). Built with the
//! `redis` feature, a fourth server, `warp-eventstream+redis`, runs fan-out and latency with its
//! hub on Redis: two server processes sharing one `redis-server`, clients split between them.

mod affinity;
mod child;
mod client;
mod heap;
mod netstat;
#[cfg(feature = "redis")]
mod redis_server;
mod report;
mod scenarios;
mod servers;

use std::process::ExitCode;
use std::time::Instant;

use self::report::Table;
use self::scenarios::{Scenario, Sizes};
use self::servers::Kind;

/// Which sizes a binary runs when no `--quick`/`--full` is given.
pub enum Mode {
    Quick,
    Full,
}

pub fn main(default: Mode) -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [flag, kind, ..] = &args[..] {
        if flag == "--serve" {
            let kind = Kind::parse(kind).expect("a server kind");
            servers::serve(kind);
            return ExitCode::SUCCESS;
        }
    }

    let mut mode = default;
    let mut rounds = 1;
    let mut only = Vec::new();
    let mut servers = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => mode = Mode::Quick,
            "--full" => mode = Mode::Full,
            "--rounds" => {
                rounds = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .expect("--rounds N")
            }
            "--only" => {
                let name = args.next().expect("--only <scenario>");
                only.push(
                    Scenario::ALL
                        .into_iter()
                        .find(|s| s.name() == name)
                        .unwrap_or_else(|| panic!("no scenario {name:?}")),
                );
            }
            "--server" => {
                let name = args.next().expect("--server <name>");
                servers.push(Kind::parse(name).unwrap_or_else(|| panic!("no server {name:?}")));
            }
            "--server-cpus" => {
                let list = args.next().expect("--server-cpus <list>");
                affinity::parse(list).unwrap_or_else(|why| panic!("{why}"));
                // The children read it when they start.
                std::env::set_var(affinity::SERVER_CPUS, list);
            }
            "--client-cpus" => {
                let list = args.next().expect("--client-cpus <list>");
                let cpus = affinity::parse(list).unwrap_or_else(|why| panic!("{why}"));
                // Before the runtime starts: its threads inherit this mask.
                affinity::pin(&cpus).unwrap_or_else(|error| panic!("pinning to {list}: {error}"));
            }
            // cargo passes `--bench` to bench targets; the test runner may pass its own flags.
            _ => {}
        }
    }
    let sizes = match mode {
        Mode::Quick => Sizes::quick(),
        Mode::Full => Sizes::full(),
    };
    let scenarios = if only.is_empty() {
        Scenario::ALL.to_vec()
    } else {
        only
    };

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    eprintln!(
        "load generator on CPUs {:?}; servers on {}",
        affinity::current(),
        std::env::var(affinity::SERVER_CPUS).unwrap_or_else(|_| "any CPU".to_owned())
    );
    if servers.is_empty() {
        servers = Kind::ALL.to_vec();
    }
    let (table, failures) = runtime.block_on(run(&scenarios, &servers, &sizes, rounds));

    println!("\n{}", table.markdown());
    if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        for failure in &failures {
            eprintln!("FAILED {failure}");
        }
        ExitCode::FAILURE
    }
}

/// Every scenario against every server, `rounds` times, the servers' order rotating each round.
async fn run(
    scenarios: &[Scenario],
    servers: &[Kind],
    sizes: &Sizes,
    rounds: usize,
) -> (Table, Vec<String>) {
    let mut table = Table::default();
    let mut failures = Vec::new();
    for &scenario in scenarios {
        for round in 0..rounds {
            for k in 0..servers.len() {
                let kind = servers[(k + round) % servers.len()];
                let started = Instant::now();
                let pressures = netstat::tcp_memory_pressures();
                match scenario.run(kind, sizes).await {
                    Ok(figures) => {
                        let pressured = match (pressures, netstat::tcp_memory_pressures()) {
                            (Some(before), Some(after)) if after > before => {
                                " (the kernel's TCP memory came under pressure: not this server's figure)"
                            }
                            _ => "",
                        };
                        eprintln!(
                            "{:>9} {:>16}: {:.1}s {}{pressured}",
                            scenario.name(),
                            kind.name(),
                            started.elapsed().as_secs_f64(),
                            figures
                                .iter()
                                .map(|f| format!("{:.2}", f.value))
                                .collect::<Vec<_>>()
                                .join(" ")
                        );
                        table.add(kind, figures);
                    }
                    Err(why) => {
                        failures.push(format!("{} on {}: {why}", scenario.name(), kind.name()))
                    }
                }
            }
        }
    }
    (table, failures)
}
