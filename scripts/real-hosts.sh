#!/usr/bin/env bash
# Real hosts on one machine: two management servers on one PostgreSQL behind haproxy, two host
# agents running real QEMU VMs and the Linux data plane, and a public network — each in
# network namespaces this script creates (nothing is configured in the machine's own
# namespace):
#
#   cnpX-m     the management servers (APIs on its loopback :8080 and :8081, haproxy in front
#              of both on :8090 — the address the test and the browser use —, agent endpoints
#              on the underlay bridge 192.168.251.1:9443 and :9444), their PostgreSQL
#              (loopback :5432) and the test itself; nftables there lets nothing out but to
#              loopback and the hosts' underlay (no outbound access)
#   cnpX-h1/h2 the hosts (underlay 192.168.251.11/.12; their VXLAN tunnels run over it);
#              each has an uplink `pubup` to the public bridge
#   cnpX-pub   the public network's bridge (the outside world)
#   cnpX-inet  a client on the public network (203.0.113.1, the public range's gateway)
#
# Then tests/e2e/real_hosts.py drives the cloud through the API (see its docstring). Every
# process started is stopped by PID; the namespaces are deleted at the end.
#   scripts/real-hosts.sh            # the end-to-end test
#   KEEP=1 scripts/real-hosts.sh     # leave everything up for inspection (prints how to clean)
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${CANOPY_CACHE:-$HOME/.cache/canopy}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CACHE/target}
TEMPLATE=${CANOPY_TEMPLATE_DIR:-$CACHE/template}
PY="$CACHE/venv/bin/python"

missing=()
for t in qemu-system-x86_64 qemu-img nft dnsmasq haproxy ip bridge swanctl; do
  command -v "$t" >/dev/null 2>&1 || missing+=("$t")
done
PGBIN=$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -1)")
[ -x "$PGBIN/initdb" ] || missing+=("PostgreSQL server")
[ -f "$TEMPLATE/template.json" ] || missing+=("template ($TEMPLATE)")
if [ ${#missing[@]} -gt 0 ]; then
  if [ "${CANOPY_REQUIRE_TOOLS:-}" = 1 ]; then
    echo "real-hosts: missing ${missing[*]}" >&2; exit 1
  fi
  echo "real-hosts: SKIPPED (missing ${missing[*]}; scripts/install-deps.sh installs them)"
  [ -n "${CANOPY_SKIP_LOG:-}" ] && echo "real-hosts: missing ${missing[*]}" >>"$CANOPY_SKIP_LOG"
  exit 0
fi

cargo build -q -p canopy
# The Debian cloud image (built from Debian's packages once, then cached).
DEBIAN=$(scripts/build-debian-image.sh)
BIN="$CARGO_TARGET_DIR/debug/canopy"
X=cnp$(printf '%04x' $((RANDOM % 65536)))
M=$X-m; H1=$X-h1; H2=$X-h2; PUB=$X-pub; INET=$X-inet
WORK=$(mktemp -d /tmp/canopy-real.XXXXXX)
# QEMU drops to canopy-qemu after opening its first files; disks it opens later (hot-plug,
# migration) must be reachable by that user, so the work directory is not 0700.
chmod 755 "$WORK"
PIDS=()

cleanup() {
  set +e
  if [ -n "${KEEP:-}" ]; then
    echo "KEEP: left running (pids ${PIDS[*]}; namespaces $X-*; files $WORK)"; return
  fi
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  # The test stops its VMs and agents; QEMU processes of a failed run are stopped by pid.
  for f in "$WORK"/h*/run/vms/*/qemu.pid; do
    [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null
  done
  for f in "$WORK"/h*/run/net/routers/*/*.pid; do
    [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null
  done
  sleep 0.5
  for d in "$WORK"/h*/run/net/routers/r-*; do
    [ -d "$d" ] && ip netns del "$(basename "$d")" 2>/dev/null
  done
  [ -f "$WORK/pg/data/postmaster.pid" ] && runuser -u postgres -- "$PGBIN/pg_ctl" -D "$WORK/pg/data" \
    -m immediate stop >/dev/null 2>&1
  for n in $M $H1 $H2 $PUB $INET; do ip netns del "$n" 2>/dev/null; done
  rm -rf "$WORK"
}
trap cleanup EXIT

for n in $M $H1 $H2 $PUB $INET; do ip netns add "$n"; ip -n "$n" link set lo up; done
# Underlay: a bridge in the management namespace, one veth per host.
ip -n $M link add ul type bridge && ip -n $M link set ul up
ip -n $M addr add 192.168.251.1/24 dev ul
# Public: a bridge in the public namespace, one uplink per host, and the client.
ip -n $PUB link add pub type bridge && ip -n $PUB link set pub up
i=0
for h in $H1 $H2; do
  i=$((i+1))
  ip link add "${X}u$i" type veth peer name ul0 netns "$h"
  ip link set "${X}u$i" netns $M
  ip -n $M link set "${X}u$i" master ul up
  ip -n "$h" addr add 192.168.251.1$i/24 dev ul0
  ip -n "$h" link set ul0 up
  ip link add "${X}p$i" type veth peer name pubup netns "$h"
  ip link set "${X}p$i" netns $PUB
  ip -n $PUB link set "${X}p$i" master pub up
  ip -n "$h" link set pubup up
done
ip link add "${X}i" type veth peer name eth0 netns $INET
ip link set "${X}i" netns $PUB
ip -n $PUB link set "${X}i" master pub up
ip -n $INET addr add 203.0.113.1/24 dev eth0
ip -n $INET link set eth0 up

# The management namespace has no outbound access (a locked-down site): it may reach its own
# loopback and the hosts' underlay, nothing else; what hosts and clients send it is answered.
ip netns exec $M nft -f - <<'NFT'
table inet canopy_lockdown {
  chain output {
    type filter hook output priority 0; policy drop;
    oif "lo" accept
    ct state established,related accept
    ip daddr 192.168.251.0/24 accept
  }
}
NFT

mkdir -p "$WORK/server" "$WORK/primary" "$WORK/secondary" "$WORK/h1" "$WORK/h2"
# The web console, when built and a browser is here: its noVNC page is checked on a real VM.
UI_ARGS=(); SERVER_UI=()
if [ -f ui/dist/index.html ] && [ -x "${CANOPY_CHROMIUM:-/usr/bin/chromium}" ] && [ -d ui/node_modules/playwright-core ]; then
  SHOTS=${CANOPY_SHOTS:-$CACHE/ui-shots}; mkdir -p "$SHOTS"
  UI_ARGS=(--ui "$PWD/ui" --shots "$SHOTS"); SERVER_UI=(--ui-dir "$PWD/ui/dist")
elif [ "${CANOPY_REQUIRE_TOOLS:-}" = 1 ]; then
  echo "real-hosts: the web console is not built (scripts/build-ui.sh) or Chromium is missing" >&2; exit 1
fi
# A throwaway PostgreSQL in the management namespace (initdb refuses root: as postgres).
mkdir -p "$WORK/pg" && chown postgres:postgres "$WORK/pg"
runuser -u postgres -- "$PGBIN/initdb" -D "$WORK/pg/data" -A trust -U postgres --no-sync -E UTF8 >/dev/null
ip netns exec $M runuser -u postgres -- "$PGBIN/pg_ctl" -D "$WORK/pg/data" -l "$WORK/pg/pg.log" -w -t 30 \
  -o "-c listen_addresses=127.0.0.1 -p 5432 -k $WORK/pg -c fsync=off -c synchronous_commit=off" start >/dev/null
DB=postgres://postgres@127.0.0.1:5432/postgres
wait_api() {
  for _ in $(seq 1 300); do
    grep -q "API:" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "real-hosts: the server did not come up ($1)" >&2; return 1
}
ip netns exec $M "$BIN" server --data-dir "$WORK/server" --database "$DB" --listen 127.0.0.1:8080 \
  --agent-listen 192.168.251.1:9443 --advertise 192.168.251.1 "${SERVER_UI[@]}" >"$WORK/server.log" 2>&1 &
PID_A=$!; PIDS+=($PID_A)
wait_api "$WORK/server.log"
# The second server shares the database and the server key.
mkdir -p "$WORK/server2" && cp "$WORK/server/server.key" "$WORK/server/admin.json" "$WORK/server2/"
ip netns exec $M "$BIN" server --data-dir "$WORK/server2" --database "$DB" --listen 127.0.0.1:8081 \
  --agent-listen 192.168.251.1:9444 --advertise 192.168.251.1 "${SERVER_UI[@]}" >"$WORK/server2.log" 2>&1 &
PID_B=$!; PIDS+=($PID_B)
wait_api "$WORK/server2.log"
# haproxy in front of both (the README's configuration).
cat >"$WORK/haproxy.cfg" <<CFG
global
  maxconn 256
defaults
  mode http
  timeout connect 2s
  timeout client 300s
  timeout server 300s
  timeout tunnel 300s
  retries 1
  option redispatch 1
  retry-on conn-failure empty-response 503
frontend api
  bind 127.0.0.1:8090
  default_backend canopy
backend canopy
  balance roundrobin
  option httpchk GET /client/api
  http-check expect rstatus ^[234]
  server a 127.0.0.1:8080 check inter 500 fall 2 rise 2
  server b 127.0.0.1:8081 check inter 500 fall 2 rise 2
CFG
ip netns exec $M haproxy -db -f "$WORK/haproxy.cfg" >"$WORK/haproxy.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do
  # Any HTTP answer (an unsigned call is refused) means haproxy is up.
  ip netns exec $M python3 -c "
import urllib.request,urllib.error,sys
try: urllib.request.urlopen('http://127.0.0.1:8090/client/api')
except urllib.error.HTTPError: sys.exit(0)
except Exception: sys.exit(1)" && break
  sleep 0.1
done

status=0
ip netns exec $M "$PY" tests/e2e/real_hosts.py --url http://127.0.0.1:8090/client/api \
  --admin-json "$WORK/server/admin.json" --work "$WORK" --bin "$BIN" --template "$TEMPLATE" \
  --hosts "$H1,$H2" --inet "$INET" --debian "$DEBIAN" \
  --servers "192.168.251.1:9443=$PID_A,192.168.251.1:9444=$PID_B" "${UI_ARGS[@]}" || status=$?
if [ $status -ne 0 ]; then
  echo "---- server log (tail) ----"; tail -40 "$WORK/server.log"
  echo "---- second server log (tail) ----"; tail -40 "$WORK/server2.log"
  for h in h1 h2; do echo "---- agent $h log (tail) ----"; tail -20 "$WORK/$h/agent.log" 2>/dev/null; done
fi
exit $status
