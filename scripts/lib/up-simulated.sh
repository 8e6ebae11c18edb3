# Sourced by the test scripts: starts `canopy up --host simulator` (debug build) on a fresh data
# directory and a free loopback port, waits for its banner, and stops it by PID on exit.
#   up_simulated [extra canopy up arguments…]
# Sets BIN, DATA, PORT, LOG and PID; installs an EXIT trap that stops the server and removes
# DATA. Needs CARGO_TARGET_DIR set and the working directory at the repository root.
up_simulated() {
  cargo build -q -p canopy
  BIN="$CARGO_TARGET_DIR/debug/canopy"
  DATA=$(mktemp -d /tmp/canopy-test.XXXXXX)
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  LOG="$DATA/canopy.log"
  "$BIN" up --host simulator --data-dir "$DATA" --listen "127.0.0.1:$PORT" --agent-listen 127.0.0.1:0 \
    "$@" >"$LOG" 2>&1 &
  PID=$!
  trap _up_simulated_stop EXIT
  # The banner comes once the zone is built (first start).
  for _ in $(seq 1 600); do
    grep -q "admin secretkey:" "$LOG" && break
    kill -0 "$PID" 2>/dev/null || { echo "canopy up exited:"; cat "$LOG"; exit 1; }
    sleep 0.1
  done
  grep -q "/client/api" "$LOG" || { echo "canopy up did not print the endpoint"; cat "$LOG"; exit 1; }
}

_up_simulated_stop() {
  kill "$PID" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$PID" 2>/dev/null || true
  rm -rf "$DATA"
}
