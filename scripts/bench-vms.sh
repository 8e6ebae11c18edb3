#!/usr/bin/env bash
# The VM benchmark on both databases (see crates/server/examples/vm_bench.rs): a release
# `canopy up` and `canopy agent --simulate`, 25,000 hosts and 100,000 VMs by default.
# Usage: scripts/bench-vms.sh [--hosts N] [--vms N] [--deploys N] [--ui]
#   --ui: also time the web console in Chromium at that size (ui/tests/bench.mjs; builds the UI)
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${CANOPY_CACHE:-$HOME/.cache/canopy}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CACHE/target}
scripts/install-deps.sh >/dev/null
case " $* " in *" --ui "*) scripts/build-ui.sh >/dev/null ;; esac
cargo build -q --release -p canopy
cargo build -q --release -p server --example vm_bench
ulimit -n "$(ulimit -Hn)"
status=0
"$CARGO_TARGET_DIR/release/examples/vm_bench" "$@" || status=$?
"$CARGO_TARGET_DIR/release/examples/vm_bench" --pg "$@" || status=$?
exit $status
