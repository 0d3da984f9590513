#!/usr/bin/env bash
# Fuzzes every parser of outside input for a bounded time:
# `scripts/fuzz.sh [seconds per target] [target ...]` (default 60 s, every target). Targets
# (fuzz/fuzz_targets): `last_event_id` (any Last-Event-ID against a tick stream), `framing` (any
# computed name, id and payload, through a handler and a hub) and `route` (any request path
# against a typed route).
#
# Each target starts from its seeds (fuzz/seeds/<target>) and what it found before (the
# untracked fuzz/corpus/<target>). A crash is moved to fuzz/regressions/<target>/, where the
# test suite replays it over loopback (tests/faults/fuzz_regressions.rs): commit it with the fix.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
targets=("${@:2}")
((${#targets[@]})) || targets=(last_event_id framing route)

command -v cargo-fuzz >/dev/null 2>&1 || cargo install --locked cargo-fuzz

# libFuzzer's instrumentation needs nightly flags: the nightly toolchain where there is one,
# else the stable compiler told to accept them.
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    fuzz=(cargo +nightly fuzz)
else
    export RUSTC_BOOTSTRAP=1
    fuzz=(cargo fuzz)
fi

status=0
for target in "${targets[@]}"; do
    mkdir -p "fuzz/corpus/$target" "fuzz/artifacts/$target"
    echo "fuzzing $target for ${seconds}s" >&2
    if ! (cd fuzz && "${fuzz[@]}" run "$target" "corpus/$target" "seeds/$target" -- \
        -max_total_time="$seconds" -max_len=4096 -timeout=10 -print_final_stats=1); then
        status=1
    fi
    for crash in fuzz/artifacts/"$target"/*; do
        [ -e "$crash" ] || continue
        mv "$crash" "fuzz/regressions/$target/"
        echo "kept $(basename "$crash") in fuzz/regressions/$target/: fix it, then commit it" >&2
        status=1
    done
done
exit "$status"
