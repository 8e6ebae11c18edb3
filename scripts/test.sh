#!/usr/bin/env bash
# The one test command: installs what is missing, checks formatting and lints, runs every
# Rust test (the DataStore suite on SQLite and a throwaway PostgreSQL), then the end-to-end
# tests with the real `cs` client against `canopy up`, and the real-hosts test (servers, agents,
# QEMU VMs and the data plane in network namespaces), and the web console's browser tests
# (Chromium), and the return-proxy test (a cluster reached only through SSH to one host).
# Builds the built-in template and the web console first.
set -euo pipefail
cd "$(dirname "$0")/.."
export CANOPY_CACHE=${CANOPY_CACHE:-$HOME/.cache/canopy}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CANOPY_CACHE/target}
start=$(date +%s)
# Every skipped test appends a line here (testkit::skip, and the scripts' own checks); the
# list is printed at the end. Under this command the CANOPY_REQUIRE_* variables make a
# missing tool a failure instead, so the list should stay empty.
export CANOPY_SKIP_LOG=${CANOPY_SKIP_LOG:-$(mktemp /tmp/canopy-skips.XXXXXX)}
report_skips() {
  if [ -s "$CANOPY_SKIP_LOG" ]; then
    echo "== SKIPPED ($(wc -l <"$CANOPY_SKIP_LOG") tests or parts of tests did not run):"
    sed 's/^/   SKIPPED: /' "$CANOPY_SKIP_LOG"
  else
    echo "== skipped: none"
  fi
}
trap report_skips EXIT

echo "== dependencies"
scripts/install-deps.sh
scripts/build-test-template.sh
scripts/build-debian-image.sh >/dev/null
scripts/build-ui.sh

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== layering (the domain crate depends on neither api nor axum)"
if cargo tree --locked -p domain -e normal --prefix none | grep -E '^(api|axum) v'; then
  echo "domain depends on the CloudStack edge or HTTP (above)" >&2; exit 1
fi

echo "== cargo test"
CANOPY_REQUIRE_PG=1 CANOPY_REQUIRE_TEMPLATE=1 CANOPY_REQUIRE_TOOLS=1 cargo test --workspace --locked

echo "== fuzzing (every parser of outside input, ${FUZZ_SECONDS:-60} s per target)"
scripts/fuzz.sh

echo "== end-to-end"
scripts/e2e.sh

echo "== README walkthrough (the \"Using it\" commands as written, in order, against canopy up)"
scripts/readme-walkthrough.sh

echo "== crash audit (the real binary killed 10 times under a mixed workload)"
cargo build -q -p canopy
"$CANOPY_CACHE/venv/bin/python" tests/e2e/crash_cs.py --bin "$CARGO_TARGET_DIR/debug/canopy" --kills 10

echo "== several management servers (three on PostgreSQL behind haproxy: two SIGKILLs, a PostgreSQL restart and a maintenance under load)"
"$CANOPY_CACHE/venv/bin/python" tests/e2e/failover_cs.py --bin "$CARGO_TARGET_DIR/debug/canopy"

echo "== web console (Chromium, as each role)"
CANOPY_REQUIRE_TOOLS=1 scripts/ui-test.sh

echo "== real hosts (QEMU VMs, Linux data plane, two hosts and a public network in namespaces; two servers behind haproxy)"
CANOPY_REQUIRE_TOOLS=1 scripts/real-hosts.sh

echo "== return proxy (hosts that reach the servers only through one proxy host's sshd, in namespaces)"
CANOPY_REQUIRE_TOOLS=1 scripts/return-proxy.sh

echo "== all tests passed in $(( $(date +%s) - start ))s"
