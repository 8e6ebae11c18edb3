#!/usr/bin/env bash
# Runs the README's "Using it" walkthrough as written, in order, against `canopy up` (simulated
# host) on a fresh data directory and a free loopback port. Every `    $ ` line of that section
# runs in one bash session (set -e: the first failing command fails the test), from a scratch
# directory where `canopy-data` is a link to the server's data directory. Two lines are not
# run: `scripts/up.sh` (this script starts the server), and the `pip install cs` line (the
# tests' venv, with the same cs 5.2.0, is on PATH instead — no download per run). The README's
# port 8080 is replaced by the test server's port.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${CANOPY_CACHE:-$HOME/.cache/canopy}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CACHE/target}

. scripts/lib/up-simulated.sh
up_simulated

WORK=$(mktemp -d /tmp/canopy-readme.XXXXXX)
ln -s "$DATA" "$WORK/canopy-data"
SCRIPT="$WORK/walkthrough.sh"
{
  echo 'set -euo pipefail'
  echo "export PATH=\"$CACHE/venv/bin:\$PATH\""
  echo 'export CLOUDSTACK_TIMEOUT=60'
  # The section "Using it", up to the next heading.
  awk '/^## Using it/{on=1; next} /^## /{on=0} on' README.md \
    | grep -E '^    \$ ' | sed -E 's/^    \$ //' \
    | grep -v -E '^scripts/up\.sh$' \
    | grep -v -E 'pip install cs' \
    | sed -e "s#127\.0\.0\.1:8080#127.0.0.1:$PORT#g" \
    | while IFS= read -r line; do
        printf 'echo %q\n%s\n' "\$ $line" "$line"
      done
} > "$SCRIPT"
n=$(grep -c '^echo ' "$SCRIPT")
echo "== README walkthrough: $n commands against canopy up on 127.0.0.1:$PORT"
status=0
(cd "$WORK" && bash "$SCRIPT") || status=$?
if [ $status -ne 0 ]; then
  echo "!! the README walkthrough failed (exit $status)"
  echo "---- canopy log ----"; tail -40 "$LOG"
else
  echo "== README walkthrough: all $n commands ran"
fi
rm -rf "$WORK"
exit $status
