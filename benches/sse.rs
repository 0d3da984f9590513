//! `cargo bench --bench sse`: the full benchmark (docs/benchmarks.md). `-- --quick` for a
//! seconds-long run, `-- --only fan-out`, `-- --rounds 3`.

mod harness;

fn main() -> std::process::ExitCode {
    harness::main(harness::Mode::Full)
}
