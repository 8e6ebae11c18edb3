#!/usr/bin/env bash
# The networking benchmarks: netplan's compiler alone (1,000 VMs x 50 rules), then the
# end-to-end one (see crates/server/examples/net_bench.rs) on both databases: a release
# `canopy up` and `canopy agent --simulate`, security-group and port-forwarding changes timed
# from the API to the generation acknowledged by the agents.
# Usage: scripts/bench-net.sh [--hosts N] [--vms N] [--groups N] [--rules N] [--changes N]
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${CANOPY_CACHE:-$HOME/.cache/canopy}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CACHE/target}
scripts/install-deps.sh >/dev/null
cargo build -q --release -p canopy
cargo build -q --release -p server --example net_bench
cargo run -q --release -p netplan --example compile_bench
ulimit -n "$(ulimit -Hn)"
status=0
"$CARGO_TARGET_DIR/release/examples/net_bench" "$@" || status=$?
"$CARGO_TARGET_DIR/release/examples/net_bench" --pg "$@" || status=$?
exit $status
