#!/usr/bin/env bash
# Security-group change covering 1,000 VMs x 50 rules on one host, applied two ways in fresh
# network namespaces (nothing touches the machine's own rules):
#   nftables: the compiled ruleset as one `nft -f` transaction (what the Linux network driver
#             does), measured for the first load and for a change (the whole ruleset
#             replaced atomically);
#   iptables: the same policy as one `iptables` call per rule (a chain per VM), the way
#             per-rule tools program it; stopped after LIMIT seconds (default 900) and
#             extrapolated from its progress if unfinished.
# Installs iptables and ipset if missing (root). Usage: scripts/bench-sg-apply.sh [VMS RULES]
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${CANOPY_CACHE:-$HOME/.cache/canopy}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CACHE/target}
VMS=${1:-1000}; RULES=${2:-50}; LIMIT=${LIMIT:-900}
if ! command -v iptables >/dev/null || ! command -v ipset >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends iptables ipset >/dev/null
fi
D=$(mktemp -d /tmp/canopy-sgbench.XXXXXX)
trap 'rm -rf "$D"' EXIT
cargo run -q --release -p netplan --example sg_rules_dump -- "$D" "$VMS" "$RULES"

now() { date +%s.%N; }
echo "== nftables (one transaction)"
unshare -n bash -c '
  now() { date +%s.%N; }
  ms() { echo "($2 - $1) * 1000" | bc -l; }
  for i in 1 2 3 4; do
    s=$(now); nft -f "$1/sg.nft"; e=$(now)
    if [ $i = 1 ]; then what="first load"; else what="change (replace all)"; fi
    printf "  %-34s %7.1f ms\n" "$what" "$(ms $s $e)"
  done
  printf "  rules loaded: %s\n" "$(nft list ruleset | grep -c -E "accept|drop|jump")"
  # What the Linux driver sends: only the changed chain (one rule more in one group).
  for i in 1 2 3; do
    s=$(now); nft -f "$1/delta-forward.nft"; e=$(now)
    printf "  %-34s %7.1f ms\n" "change (delta: one group chain)" "$(ms $s $e)"
    nft -f "$1/delta-back.nft"
  done
  nft -f "$1/delta-forward.nft"
  nft list ruleset > "$1/by-delta"; nft -f "$1/sg-changed.nft"; nft list ruleset > "$1/by-full"
  cmp -s "$1/by-delta" "$1/by-full" && echo "  (the delta leaves exactly the ruleset of a full load)"
' _ "$D"

echo "== iptables (one call per rule; limit ${LIMIT}s)"
total=$(grep -c '^iptables' "$D/iptables.sh")
awk -v every=2000 '{print} /^iptables/ {n++; if (n % every == 0) print "echo PROGRESS " n " $(date +%s.%N)"}' \
  "$D/iptables.sh" > "$D/iptables-progress.sh"
start=$(now)
set +e
timeout "$LIMIT" unshare -n bash -c 'ipset create gin hash:ip && ipset create gout hash:ip && bash "$1"' _ \
  "$D/iptables-progress.sh" > "$D/progress.log" 2>"$D/iptables.err"
rc=$?
set -e
end=$(now)
last=$(grep PROGRESS "$D/progress.log" | tail -1 || true)
if [ $rc = 0 ]; then
  printf "  %d calls: %.1f s\n" "$total" "$(echo "$end - $start" | bc -l)"
else
  n=$(echo "$last" | awk '{print $2}'); t=$(echo "$last" | awk '{print $3}')
  if [ -z "$n" ]; then echo "  failed before 2000 calls (rc $rc): $(tail -2 "$D/iptables.err")"; exit 1; fi
  el=$(echo "$t - $start" | bc -l)
  printf "  stopped (rc %d) after %d of %d calls in %.1f s (%.1f ms per call on average)\n" "$rc" "$n" "$total" "$el" \
    "$(echo "$el * 1000 / $n" | bc -l)"
fi
grep PROGRESS "$D/progress.log" | awk -v s="$start" '{printf "    %6d calls at %7.1f s\n", $2, $3 - s}' | tail -8
