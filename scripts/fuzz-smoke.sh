#!/usr/bin/env bash
# Fuzzing smoke run (issue 14): builds every cargo-fuzz target in fuzz/ once and
# runs each for a few seconds over a copy of its seed corpus (fuzz/seeds/<target>)
# plus its saved regressions (fuzz/regressions/<target>). Fails on any crash,
# leak or timeout. Needs the nightly toolchain (without it, replays the seeds and
# regressions on stable: fuzz/tests/seeds.rs); installs cargo-fuzz if absent.
#   FUZZ_SECONDS=10 (per target)   FUZZ_TARGETS="dag_pb car" (default: all)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT/fuzz"
SECONDS_EACH=${FUZZ_SECONDS:-10}

if ! cargo +nightly --version >/dev/null 2>&1; then
    # libFuzzer needs nightly; without it, at least replay what the runs keep
    echo "fuzz-smoke: no nightly toolchain: replaying seeds and regressions on stable only"
    CARGO_TARGET_DIR="$ROOT/target" exec cargo test --release --locked --manifest-path Cargo.toml
fi
if ! cargo +nightly fuzz --help >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

start=$(date +%s)
cargo +nightly fuzz build -O
built=$(date +%s)
echo "fuzz-smoke: build took $((built - start)) s"

targets=${FUZZ_TARGETS:-$(cargo +nightly fuzz list)}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=()
for t in $targets; do
    corpus="$work/$t"
    mkdir -p "$corpus"
    cp -r seeds/"$t"/. "$corpus"/
    if [ -d regressions/"$t" ]; then
        cp -r regressions/"$t"/. "$corpus"/
    fi
    log="$work/$t.log"
    if cargo +nightly fuzz run -O "$t" "$corpus" -- \
        -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 >"$log" 2>&1; then
        echo "fuzz-smoke: $t ok: $(grep -E '^(#[0-9]+|Done)' "$log" | tail -1)"
    else
        echo "fuzz-smoke: $t FAILED"
        tail -40 "$log"
        failed+=("$t")
    fi
done
echo "fuzz-smoke: $(($(date +%s) - start)) s in all"
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz-smoke: crashes in: ${failed[*]} (inputs under fuzz/artifacts/)"
    exit 1
fi
