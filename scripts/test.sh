#!/usr/bin/env bash
# The whole test suite, on a fresh machine or a warm one: installs what the tests need when it is
# missing, then runs every test (unit, loopback HTTP, browser, Redis, compile-fail UI, doc tests)
# with every cargo feature on, then the same suite as a default build (no features: the
# in-process hub only), and checks that the benchmarks compile. `.ci/run` calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-test-deps.sh

cargo test --locked --all-features
cargo test --locked
cargo check --locked --benches
