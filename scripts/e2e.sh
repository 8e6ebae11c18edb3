#!/usr/bin/env bash
# End-to-end: starts the README's run command (`canopy up`) on a fresh data directory and a
# free loopback port, drives it with the real `cs` client, and stops it by PID.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${CANOPY_CACHE:-$HOME/.cache/canopy}
PY="$CACHE/venv/bin/python"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CACHE/target}

cargo build -q -p canopy
BIN="$CARGO_TARGET_DIR/debug/canopy"
DATA=$(mktemp -d /tmp/canopy-e2e.XXXXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
LOG="$DATA/canopy.log"

"$BIN" up --host simulator --data-dir "$DATA" --listen "127.0.0.1:$PORT" --agent-listen 127.0.0.1:0 >"$LOG" 2>&1 &
PID=$!
cleanup() {
  kill "$PID" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$PID" 2>/dev/null || true
  rm -rf "$DATA"
}
trap cleanup EXIT

# The banner comes once the zone is built (first start).
for _ in $(seq 1 600); do
  grep -q "admin secretkey:" "$LOG" && break
  kill -0 "$PID" 2>/dev/null || { echo "canopy up exited:"; cat "$LOG"; exit 1; }
  sleep 0.1
done
grep -q "/client/api" "$LOG" || { echo "canopy up did not print the endpoint"; cat "$LOG"; exit 1; }
grep -E "zone:|template:" "$LOG" || true

echo "== e2e: cs client against canopy up on 127.0.0.1:$PORT"
status=0
"$PY" tests/e2e/identity_cs.py --url "http://127.0.0.1:$PORT/client/api" --admin-json "$DATA/admin.json" \
  --cs-bin "$CACHE/venv/bin/cs" || status=$?
"$PY" tests/e2e/marvin_zone_cs.py --url "http://127.0.0.1:$PORT/client/api" --admin-json "$DATA/admin.json" || status=$?
"$PY" tests/e2e/network_cs.py --url "http://127.0.0.1:$PORT/client/api" --admin-json "$DATA/admin.json" \
  --cs-bin "$CACHE/venv/bin/cs" || status=$?
# The shared acceptance flow (the real `cs` client: discovery, deploy, job polling, list,
# CLI, stop, destroy, error envelopes), with the admin's keys.
ACCEPT=${CANOPY_ACCEPTANCE:-../shared/acceptance}
if [ -f "$ACCEPT/run.py" ]; then
  KEY=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["apikey"])' "$DATA/admin.json")
  SECRET=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["secretkey"])' "$DATA/admin.json")
  echo "== acceptance: $ACCEPT/run.py"
  "$PY" "$ACCEPT/run.py" --url "http://127.0.0.1:$PORT/client/api" --key="$KEY" --secret="$SECRET" \
    --no-bootstrap --cs-bin "$CACHE/venv/bin/cs" --poll 0.5 --job-timeout 120 || status=$?
else
  echo "!! the shared acceptance flow is not at $ACCEPT (set CANOPY_ACCEPTANCE); not run"
fi
if [ $status -ne 0 ]; then
  echo "---- canopy log ----"; tail -50 "$LOG"
fi
exit $status
