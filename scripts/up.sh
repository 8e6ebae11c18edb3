#!/usr/bin/env bash
# The run command: builds the built-in template if it is missing (needs the Debian package
# registry once), then runs `canopy up` (release build). Arguments go to `canopy up`.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/canopy/target}
scripts/build-test-template.sh || echo "up: the built-in template could not be built; the cloud starts without it" >&2
cargo build -q --release -p canopy
exec "$CARGO_TARGET_DIR/release/canopy" up "$@"
