#!/usr/bin/env bash
# The run command: builds the built-in template if it is missing (needs the Debian package
# registry once) and the web console if it is missing or changed (npm), then runs `canopy up`
# (release build) serving it at /client/. Arguments go to `canopy up`.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/canopy/target}
scripts/build-test-template.sh || echo "up: the built-in template could not be built; the cloud starts without it" >&2
scripts/build-ui.sh || echo "up: the web console could not be built (npm); the API runs without it" >&2
cargo build -q --release -p canopy
[ -f ui/dist/index.html ] && export CANOPY_UI_DIR=${CANOPY_UI_DIR:-$PWD/ui/dist}
exec "$CARGO_TARGET_DIR/release/canopy" up "$@"
