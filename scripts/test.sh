#!/usr/bin/env bash
# The whole test suite, on a fresh machine or a warm one: installs what the tests need when it is
# missing, then runs every test (unit, loopback HTTP, browser, Redis, TLS and HTTP/2,
# compile-fail UI, doc tests) with every cargo feature on; then the same suite with no feature
# at all (no metrics, no TLS, no Redis: what `default-features = false` gives a user), which must
# pass too; and checks that the default build (metrics, TLS) compiles, benchmarks included.
# `.ci/run` calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-test-deps.sh

# Incremental caches were 4 of the 9 GB a clean run wrote, and a clean clone never reuses them.
# Set CARGO_INCREMENTAL=1 to keep them on a machine that runs the suite again and again.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
echo "free disk for target/: $(df -h --output=avail . | tail -1 | tr -d ' ')"

cargo test --locked --all-features
cargo test --locked --no-default-features
cargo check --locked --all-targets
cargo check --locked --all-features --benches
