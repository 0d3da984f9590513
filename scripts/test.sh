#!/usr/bin/env bash
# The whole test suite, on a fresh machine or a warm one: installs what the tests need when it is
# missing, then runs every test (unit, loopback HTTP, browser, Redis, compile-fail UI, doc tests)
# with every cargo feature on, in one `cargo test` invocation, and checks that the default build
# (no features) still compiles, examples and tests included. `.ci/run` calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-test-deps.sh

cargo test --locked --all-features
cargo check --locked --all-targets
