#!/usr/bin/env bash
# End-to-end: starts the README's run command (`canopy up`) on a fresh data directory and a
# free loopback port, drives it with the real `cs` client, and stops it by PID.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${CANOPY_CACHE:-$HOME/.cache/canopy}
PY="$CACHE/venv/bin/python"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CACHE/target}

. scripts/lib/up-simulated.sh
up_simulated
grep -E "zone:|template:" "$LOG" || true

echo "== e2e: cs client against canopy up on 127.0.0.1:$PORT"
status=0
"$PY" tests/e2e/identity_cs.py --url "http://127.0.0.1:$PORT/client/api" --admin-json "$DATA/admin.json" \
  --cs-bin "$CACHE/venv/bin/cs" || status=$?
"$PY" tests/e2e/marvin_zone_cs.py --url "http://127.0.0.1:$PORT/client/api" --admin-json "$DATA/admin.json" || status=$?
"$PY" tests/e2e/network_cs.py --url "http://127.0.0.1:$PORT/client/api" --admin-json "$DATA/admin.json" \
  --cs-bin "$CACHE/venv/bin/cs" || status=$?
"$PY" tests/e2e/vpc_cs.py --url "http://127.0.0.1:$PORT/client/api" --admin-json "$DATA/admin.json" || status=$?
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
