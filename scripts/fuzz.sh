#!/usr/bin/env bash
# Runs every coverage-guided fuzz target (fuzz/fuzz_targets: API parameters and binding,
# signatures, dates, domain paths, agent messages and join tokens) for FUZZ_SECONDS each
# (default 60). cargo-fuzz is installed into the cache on first use; RUSTC_BOOTSTRAP=1 lets
# the stable toolchain build with libFuzzer's instrumentation. The corpora are kept in the
# cache between runs, so every run starts where the last one stopped. A crash fails the run
# and leaves the input under fuzz/artifacts/.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${CANOPY_CACHE:-$HOME/.cache/canopy}
SECONDS_EACH=${FUZZ_SECONDS:-60}
TOOLS="$CACHE/tools"
if [ ! -x "$TOOLS/bin/cargo-fuzz" ]; then
  echo "fuzz: installing cargo-fuzz into $TOOLS"
  cargo install -q cargo-fuzz --locked --root "$TOOLS"
fi
export PATH="$TOOLS/bin:$PATH"
export RUSTC_BOOTSTRAP=1
TARGET_DIR="$CACHE/fuzz-target"
targets=$(cargo fuzz list)
cargo fuzz build --release --sanitizer none --target-dir "$TARGET_DIR" >/dev/null
for t in $targets; do
  corpus="$CACHE/fuzz-corpus/$t"
  mkdir -p "$corpus"
  out=$(cargo fuzz run --release --sanitizer none --target-dir "$TARGET_DIR" "$t" "$corpus" -- \
    -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 -print_final_stats=1 2>&1) || {
    echo "$out" | tail -40
    echo "!! fuzz target $t failed"
    exit 1
  }
  runs=$(echo "$out" | grep -oE 'stat::number_of_executed_units: *[0-9]+' | grep -oE '[0-9]+$' || echo "?")
  cov=$(echo "$out" | grep -oE 'cov: [0-9]+' | tail -1 | grep -oE '[0-9]+' || echo "?")
  echo "fuzz: $t — ${SECONDS_EACH}s, $runs inputs, coverage $cov, no crash"
done
