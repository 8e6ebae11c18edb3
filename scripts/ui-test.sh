#!/usr/bin/env bash
# The web console's browser tests: builds the UI, starts `canopy up --host simulator` on a fresh
# data directory and a free loopback port serving it, and runs ui/tests/run.mjs in Debian's
# chromium (playwright-core) as each role. Screenshots go to $CANOPY_SHOTS (default
# ~/.cache/canopy/ui-shots). The server is stopped by PID.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${CANOPY_CACHE:-$HOME/.cache/canopy}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CACHE/target}
SHOTS=${CANOPY_SHOTS:-$CACHE/ui-shots}

if [ ! -x "${CANOPY_CHROMIUM:-/usr/bin/chromium}" ]; then
  if [ "${CANOPY_REQUIRE_TOOLS:-}" = 1 ]; then echo "ui-test: chromium is missing" >&2; exit 1; fi
  echo "ui-test: SKIPPED (no chromium; scripts/install-deps.sh installs it)"
  [ -n "${CANOPY_SKIP_LOG:-}" ] && echo "ui-test: no chromium" >>"$CANOPY_SKIP_LOG"
  exit 0
fi
scripts/build-ui.sh
. scripts/lib/up-simulated.sh
up_simulated --ui-dir "$PWD/ui/dist"
grep -q "web console:     http" "$LOG" || { echo "canopy up does not serve the web console"; cat "$LOG"; exit 1; }
rm -rf "$SHOTS"; mkdir -p "$SHOTS"
# A file in a staging directory on the server, for "register a template from a local path".
mkdir -p "$DATA/staging" && qemu-img create -q -f qcow2 "$DATA/staging/staged.qcow2" 64M
# …and one of 16 MB on disk (metadata preallocated) that the test serves slowly over HTTP.
qemu-img create -q -f qcow2 -o preallocation=metadata "$DATA/staging/slow.qcow2" 16M
echo "== web console: browser tests against canopy up on 127.0.0.1:$PORT (screenshots: $SHOTS)"
status=0
(cd ui && timeout 900 node tests/run.mjs --base "http://127.0.0.1:$PORT" --admin-json "$DATA/admin.json" --shots "$SHOTS" \
  --staged "$DATA/staging/staged.qcow2" --slow-image "$DATA/staging/slow.qcow2") || status=$?
if [ $status -ne 0 ]; then
  cp "$LOG" "$SHOTS/canopy.log"
  echo "---- canopy log (tail; all of it in $SHOTS/canopy.log) ----"; tail -40 "$LOG"
fi
exit $status
