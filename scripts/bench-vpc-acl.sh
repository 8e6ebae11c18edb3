#!/usr/bin/env bash
# A VPC with one network ACL list of RULES items on every tier (default: 2,000 items, 500 VMs,
# 5 tiers, 20 hosts): the router's compile time and ruleset size (netplan), then the ruleset
# applied with nft in a fresh network namespace — the first load, a change of one item as the
# whole ruleset (one transaction), and the same change as the delta the agent sends (only the
# changed chains). Nothing touches the machine's own rules.
#   scripts/bench-vpc-acl.sh [RULES VMS TIERS HOSTS]
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${CANOPY_CACHE:-$HOME/.cache/canopy}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CACHE/target}
D=$(mktemp -d /tmp/canopy-vpcbench.XXXXXX)
trap 'rm -rf "$D"' EXIT
cargo run -q --release -p netplan --example vpc_acl_bench -- "$D" "$@"
echo "== nftables in a fresh namespace"
unshare -n bash -c '
  now() { date +%s.%N; }
  ms() { echo "($2 - $1) * 1000" | bc -l; }
  s=$(now); nft -f "$1/full.nft"; e=$(now)
  printf "  %-40s %7.1f ms\n" "first load" "$(ms $s $e)"
  for i in 1 2 3; do
    s=$(now); nft -f "$1/changed.nft"; e=$(now)
    printf "  %-40s %7.1f ms\n" "one item changed (whole ruleset)" "$(ms $s $e)"
    nft -f "$1/full.nft"
  done
  for i in 1 2 3; do
    s=$(now); nft -f "$1/delta.nft"; e=$(now)
    printf "  %-40s %7.1f ms\n" "one item changed (delta)" "$(ms $s $e)"
    nft -f "$1/full.nft"
  done
  printf "  rules loaded: %s\n" "$(nft list ruleset | grep -c -E "accept|drop|return|jump")"
' _ "$D"
