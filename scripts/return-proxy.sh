#!/usr/bin/env bash
# A cluster behind a return proxy, for real, in network namespaces this script creates:
#
#   cnpX-m     two management servers on one PostgreSQL (APIs on its loopback :8080/:8081,
#              agent endpoints 192.168.251.1:9443/:9444) and the test itself. Its nftables let
#              nothing out but loopback and SSH to the proxy (192.168.251.11:22), and nothing in
#              that it did not start: the hosts cannot reach it.
#   cnpX-h1    host 1 and the return proxy (192.168.251.11): a real sshd (Debian's
#              openssh-server) that the servers' tunnels log in to, the proxy ports 37140/37141
#   cnpX-h2    host 2 (192.168.251.12): its nftables let it reach only the proxy host
#   cnpX-pub   the public network's bridge (the routers' uplinks)
#
# The underlay (192.168.251.0/24) is one bridge; only the nftables above keep the parts apart,
# as a site's firewalls would. tests/e2e/return_proxy_hosts.py then designates the proxy,
# joins both hosts through it, runs QEMU VMs, a console and a live migration, kills the
# tunnels and the proxy, and prints the measured times. Every process started is stopped by
# PID; the namespaces are deleted at the end.
#   scripts/return-proxy.sh            # the test
#   KEEP=1 scripts/return-proxy.sh     # leave everything up for inspection
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${CANOPY_CACHE:-$HOME/.cache/canopy}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CACHE/target}
TEMPLATE=${CANOPY_TEMPLATE_DIR:-$CACHE/template}
PY="$CACHE/venv/bin/python"

missing=()
for t in qemu-system-x86_64 qemu-img nft dnsmasq ip bridge ssh ssh-keygen ssh-keyscan /usr/sbin/sshd; do
  command -v "$t" >/dev/null 2>&1 || missing+=("$t")
done
PGBIN=$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -1)")
[ -x "$PGBIN/initdb" ] || missing+=("PostgreSQL server")
[ -f "$TEMPLATE/template.json" ] || missing+=("template ($TEMPLATE)")
if [ ${#missing[@]} -gt 0 ]; then
  if [ "${CANOPY_REQUIRE_TOOLS:-}" = 1 ]; then
    echo "return-proxy: missing ${missing[*]}" >&2; exit 1
  fi
  echo "return-proxy: SKIPPED (missing ${missing[*]}; scripts/install-deps.sh installs them)"
  [ -n "${CANOPY_SKIP_LOG:-}" ] && echo "return-proxy: missing ${missing[*]}" >>"$CANOPY_SKIP_LOG"
  exit 0
fi

cargo build -q -p canopy
BIN="$CARGO_TARGET_DIR/debug/canopy"
X=cnp$(printf '%04x' $((RANDOM % 65536)))
M=$X-m; H1=$X-h1; H2=$X-h2; PUB=$X-pub
WORK=$(mktemp -d /tmp/canopy-rproxy.XXXXXX)
chmod 755 "$WORK"
PIDS=()

cleanup() {
  set +e
  if [ -n "${KEEP:-}" ]; then
    echo "KEEP: left running (pids ${PIDS[*]}; namespaces $X-*; files $WORK)"; return
  fi
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for f in "$WORK"/h*/run/vms/*/qemu.pid "$WORK"/h*/run/net/routers/*/*.pid "$WORK"/proxy/sshd.pid; do
    [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null
  done
  sleep 0.5
  for d in "$WORK"/h*/run/net/routers/r-*; do
    [ -d "$d" ] && ip netns del "$(basename "$d")" 2>/dev/null
  done
  [ -f "$WORK/pg/data/postmaster.pid" ] && runuser -u postgres -- "$PGBIN/pg_ctl" -D "$WORK/pg/data" \
    -m immediate stop >/dev/null 2>&1
  for n in $M $H1 $H2 $PUB; do ip netns del "$n" 2>/dev/null; done
  rm -rf "$WORK"
}
trap cleanup EXIT

for n in $M $H1 $H2 $PUB; do ip netns add "$n"; ip -n "$n" link set lo up; done
ip -n $M link add ul type bridge && ip -n $M link set ul up
ip -n $M addr add 192.168.251.1/24 dev ul
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

# The management side reaches only the proxy's SSH; nothing the hosts start gets in.
ip netns exec $M nft -f - <<'NFT'
table inet canopy_lockdown {
  chain output {
    type filter hook output priority 0; policy drop;
    oif "lo" accept
    ct state established,related accept
    ip daddr 192.168.251.11 tcp dport 22 accept
  }
  chain input {
    type filter hook input priority 0; policy drop;
    iif "lo" accept
    ct state established,related accept
  }
}
NFT
# Host 2 reaches only the proxy host; the proxy host reaches host 2 (VXLAN, migration) but
# not the management side.
ip netns exec $H2 nft -f - <<'NFT'
table inet canopy_cluster {
  chain output {
    type filter hook output priority 0; policy drop;
    oif "lo" accept
    ct state established,related accept
    ip daddr 192.168.251.11 accept
  }
}
NFT
ip netns exec $H1 nft -f - <<'NFT'
table inet canopy_cluster {
  chain output {
    type filter hook output priority 0; policy drop;
    oif "lo" accept
    ct state established,related accept
    ip daddr 192.168.251.12 accept
  }
}
NFT

mkdir -p "$WORK/server" "$WORK/server2" "$WORK/primary" "$WORK/secondary" "$WORK/h1" "$WORK/h2" "$WORK/proxy"
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
  echo "return-proxy: the server did not come up ($1)" >&2; return 1
}
ip netns exec $M "$BIN" server --data-dir "$WORK/server" --database "$DB" --listen 127.0.0.1:8080 \
  --agent-listen 192.168.251.1:9443 --advertise 192.168.251.1 >"$WORK/server.log" 2>&1 &
PID_A=$!; PIDS+=($PID_A)
wait_api "$WORK/server.log"
cp "$WORK/server/server.key" "$WORK/server/admin.json" "$WORK/server2/"
ip netns exec $M "$BIN" server --data-dir "$WORK/server2" --database "$DB" --listen 127.0.0.1:8081 \
  --agent-listen 192.168.251.1:9444 --advertise 192.168.251.1 >"$WORK/server2.log" 2>&1 &
PID_B=$!; PIDS+=($PID_B)
wait_api "$WORK/server2.log"

status=0
ip netns exec $M "$PY" tests/e2e/return_proxy_hosts.py --urls http://127.0.0.1:8080/client/api,http://127.0.0.1:8081/client/api \
  --admin-json "$WORK/server/admin.json" --work "$WORK" --bin "$BIN" --template "$TEMPLATE" \
  --hosts "$H1,$H2" --servers "$PID_A,$PID_B" || status=$?
if [ $status -ne 0 ]; then
  echo "---- server log (tail) ----"; tail -40 "$WORK/server.log"
  echo "---- second server log (tail) ----"; tail -40 "$WORK/server2.log"
  for h in h1 h2; do echo "---- agent $h log (tail) ----"; tail -20 "$WORK/$h/agent.log" 2>/dev/null; done
  echo "---- sshd log (tail) ----"; tail -20 "$WORK/proxy/sshd.log" 2>/dev/null
fi
exit $status
