#!/usr/bin/env bash
# Host-scale measurement with the real processes: a release `canopy up` (SQLite), a zone with
# one Simulator cluster, then `canopy agent --simulate N` (a separate process: N TLS
# connections, N identities). Prints: time until all N hosts are Up, the server's RSS with N
# hosts connected, and listHosts latency (pagesize 500) over 50 calls.
# Usage: scripts/bench-hosts.sh [N ...]   (default: 1000 10000)
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${CANOPY_CACHE:-$HOME/.cache/canopy}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CACHE/target}
scripts/install-deps.sh >/dev/null
cargo build -q --release -p canopy
BIN="$CARGO_TARGET_DIR/release/canopy"
ulimit -n "$(ulimit -Hn)"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

for N in "${@:-1000 10000}"; do
  DATA=$(mktemp -d /tmp/canopy-bench-hosts.XXXXXX)
  PORT=$(free_port); APORT=$(free_port)
  CANOPY_LOG=warn "$BIN" up --host simulator --data-dir "$DATA" --listen "127.0.0.1:$PORT" --agent-listen "127.0.0.1:$APORT" >"$DATA/server.log" 2>&1 &
  SPID=$!
  APID=""
  cleanup() {
    if [ -n "$APID" ]; then kill "$APID" 2>/dev/null || true; fi
    kill "$SPID" 2>/dev/null || true
    sleep 0.5
    kill -9 "$SPID" ${APID:+"$APID"} 2>/dev/null || true
    rm -rf "$DATA"
  }
  trap cleanup EXIT
  for _ in $(seq 1 100); do [ -f "$DATA/admin.json" ] && [ -f "$DATA/server.addr" ] && break; sleep 0.1; done
  TOKEN=$("$CACHE/venv/bin/python" - "$PORT" "$DATA/admin.json" "$N" <<'PY'
import json, sys
from cs import CloudStack
port, creds, n = sys.argv[1], json.load(open(sys.argv[2])), int(sys.argv[3])
c = CloudStack(endpoint="http://127.0.0.1:%s/client/api" % port, key=creds["apikey"], secret=creds["secretkey"])
z = c.createZone(name="bench", networktype="Advanced", dns1="8.8.8.8", internaldns1="10.0.0.1")["zone"]["id"]
p = c.createPod(name="p", zoneid=z, gateway="172.16.0.1", netmask="255.255.0.0", startip="172.16.0.2")["pod"]["id"]
cl = c.addCluster(clustername="sims", clustertype="CloudManaged", hypervisor="Simulator", podid=p, zoneid=z)["cluster"][0]["id"]
print(c.createHostJoinToken(clusterid=cl, uses=n, validityminutes=60)["jointoken"]["token"])
PY
)
  START=$(date +%s.%N)
  CANOPY_LOG=error "$BIN" agent --token "$TOKEN" --simulate "$N" --state-dir "$DATA/agent" >"$DATA/agent.log" 2>&1 &
  APID=$!
  "$CACHE/venv/bin/python" - "$PORT" "$DATA/admin.json" "$N" "$START" "$SPID" <<'PY'
import json, sys, time
from cs import CloudStack
port, creds, n, start, spid = sys.argv[1], json.load(open(sys.argv[2])), int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
c = CloudStack(endpoint="http://127.0.0.1:%s/client/api" % port, key=creds["apikey"], secret=creds["secretkey"])
def rss():
    for l in open("/proc/%s/status" % spid):
        if l.startswith("VmRSS"):
            return int(l.split()[1]) // 1024
deadline = time.time() + 600
up = 0
while time.time() < deadline:
    up = c.listHosts(state="Up", page=1, pagesize=1).get("count", 0)
    if up >= n:
        break
    time.sleep(0.2)
joined = time.time() - start
print("hosts=%d: all Up after %.1f s (%d Up)" % (n, joined, up))
time.sleep(3)
print("hosts=%d: server RSS with %d hosts connected: %d MiB" % (n, up, rss()))
lat = []
for i in range(50):
    t = time.time()
    c.listHosts(page=1 + i % max(1, n // 500), pagesize=500)
    lat.append((time.time() - t) * 1000)
lat.sort()
print("hosts=%d: listHosts pagesize=500 p50 %.1f ms, p99 %.1f ms (client-side, 50 calls)" % (n, lat[25], lat[49]))
PY
  cleanup
  trap - EXIT
done
