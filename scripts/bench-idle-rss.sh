#!/usr/bin/env bash
# Measures the management server's resident memory: starts a release `canopy up` on a fresh
# data directory, reads RSS after start, drives N signed API calls through the `cs` client
# (default 500: creates/lists accounts, users, events), lets it idle, and reads RSS again.
# Prints the figures; stops the server by PID. Usage: scripts/bench-idle-rss.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${CANOPY_CACHE:-$HOME/.cache/canopy}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CACHE/target}
N=${1:-500}
scripts/install-deps.sh >/dev/null
cargo build -q --release -p canopy
BIN="$CARGO_TARGET_DIR/release/canopy"
DATA=$(mktemp -d /tmp/canopy-bench.XXXXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
CANOPY_LOG=warn "$BIN" up --host simulator --data-dir "$DATA" --listen "127.0.0.1:$PORT" --agent-listen 127.0.0.1:0 >"$DATA/log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true; sleep 0.3; kill -9 $PID 2>/dev/null || true; rm -rf "$DATA"' EXIT
for _ in $(seq 1 100); do [ -f "$DATA/admin.json" ] && [ -f "$DATA/server.addr" ] && break; sleep 0.1; done
rss() { awk -v k="$1" '$1==k":" {print $2}' /proc/$PID/status; }
sleep 2
echo "idle after start:        RSS $(rss VmRSS) kB"
"$CACHE/venv/bin/python" - "$PORT" "$DATA/admin.json" "$N" <<'PY'
import json, sys, time
from cs import CloudStack
port, creds, n = sys.argv[1], json.load(open(sys.argv[2])), int(sys.argv[3])
c = CloudStack(endpoint="http://127.0.0.1:%s/client/api" % port, key=creds["apikey"], secret=creds["secretkey"])
t = time.time()
lat = []
for i in range(n):
    s = time.time()
    if i % 5 == 0:
        c.createAccount(username="bench%d" % i, password="pw", email="b@x", firstname="B", lastname="N")
    elif i % 5 == 1:
        c.listAccounts(listall=True, page=1, pagesize=100)
    elif i % 5 == 2:
        c.listUsers(listall=True, page=1, pagesize=100)
    elif i % 5 == 3:
        c.listEvents(listall=True, page=1, pagesize=100)
    else:
        c.listDomains(listall=True)
    lat.append((time.time() - s) * 1000)
lat.sort()
print("%d API calls in %.1f s; latency p50 %.1f ms, p99 %.1f ms (client-side, includes Python)" % (n, time.time() - t, lat[len(lat)//2], lat[int(len(lat)*0.99)]))
PY
sleep 3
echo "idle after $N calls:    RSS $(rss VmRSS) kB (peak $(rss VmHWM) kB)"
