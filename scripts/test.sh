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
# A clean run writes about 2.5 GB under target/. A full disk shows up only as a failed link.
free_kib=$(df -k --output=avail . | tail -1 | tr -d ' ')
echo "free disk for target/: $((free_kib / 1024)) MiB (a clean run needs about 2.5 GB)"
if [ "$free_kib" -lt $((3 * 1024 * 1024)) ]; then
    echo "warning: less than 3 GB free; linking may fail for lack of disk" >&2
fi

cargo test --locked --all-features
cargo test --locked --no-default-features
cargo check --locked --all-targets
cargo check --locked --all-features --benches
