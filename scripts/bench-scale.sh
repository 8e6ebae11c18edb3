#!/usr/bin/env bash
# The scale benchmark on both databases (see crates/server/examples/scale_bench.rs): hosts by
# agents and by the server, VMs through the API and straight into the database, accounts,
# domains and events, the lists at that size, memory and HA — beside CloudStack's figures.
# Usage: scripts/bench-scale.sh [--agent-hosts N] [--server-hosts N] [--vms N] [--deploys N]
#                               [--clients N] [--accounts N] [--events N] [--sqlite-only]
# Defaults: 10,000 agent hosts, no server-run hosts, 100,000 VMs (1,000 deployed by 256
# clients), 25,000 accounts, 100,000 events. The issue's largest: --server-hosts 90000 --vms 1000000.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${CANOPY_CACHE:-$HOME/.cache/canopy}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CACHE/target}
scripts/install-deps.sh >/dev/null
cargo build -q --release -p canopy
cargo build -q --release -p server --example scale_bench
ulimit -n "$(ulimit -Hn)"
args=()
sqlite_only=0
for a in "$@"; do
  if [ "$a" = --sqlite-only ]; then sqlite_only=1; else args+=("$a"); fi
done
status=0
"$CARGO_TARGET_DIR/release/examples/scale_bench" "${args[@]}" || status=$?
if [ $sqlite_only = 0 ]; then
  "$CARGO_TARGET_DIR/release/examples/scale_bench" --pg "${args[@]}" || status=$?
fi
exit $status
