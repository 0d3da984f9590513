#!/usr/bin/env bash
# The whole test suite, on a fresh machine or a warm one: installs what the tests need when it is
# missing, then runs every test (unit, loopback HTTP, browser, compile-fail UI, doc tests) in one
# `cargo test` invocation. `.ci/run` calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-test-deps.sh

cargo test --locked
