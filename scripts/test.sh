#!/usr/bin/env bash
# The whole test suite, on a fresh machine or a warm one: installs what the tests need when it is
# missing, then runs every test (unit, loopback HTTP, browser, Redis, compile-fail UI, doc tests)
# with every cargo feature on, then the same suite as a default build (default features: the
# in-process hub and metrics, no Redis), and checks that the benchmarks compile and that a build with no
# features at all does too. `.ci/run` calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-test-deps.sh

cargo test --locked --all-features
cargo test --locked
cargo check --locked --benches
cargo check --locked --all-targets --no-default-features
