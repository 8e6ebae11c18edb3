#!/usr/bin/env bash
# Builds the web console (ui/ → ui/dist, served by the server at /client/): installs the npm
# packages pinned by ui/package-lock.json when they are missing or changed (`npm ci`), then
# type-checks and bundles with Vite. Needs Node.js and npm (scripts/install-deps.sh).
#   scripts/build-ui.sh            # build when the sources changed since the last build
#   FORCE=1 scripts/build-ui.sh    # always rebuild
set -euo pipefail
cd "$(dirname "$0")/../ui"
if ! command -v npm >/dev/null 2>&1; then
  echo "build-ui: npm is missing (scripts/install-deps.sh installs Node.js and npm)" >&2
  exit 1
fi
export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
# Packages: reinstalled when the lock file is newer than the installed tree.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "build-ui: npm ci"
  npm ci --no-progress 2>&1 | grep -v 'Unknown user config' || true
  [ -d node_modules/vite ] || { echo "build-ui: npm ci failed" >&2; exit 1; }
fi
# The bundle: rebuilt when a source is newer than it.
if [ -z "${FORCE:-}" ] && [ -f dist/index.html ] && \
   [ -z "$(find src index.html console.html vite.config.ts tsconfig.json package-lock.json -newer dist/index.html -print -quit)" ]; then
  echo "build-ui: ui/dist is up to date"
  exit 0
fi
echo "build-ui: tsc + vite build"
npx --no-install tsc --noEmit
npx --no-install vite build --logLevel warn
touch dist/index.html
echo "build-ui: built ui/dist ($(du -sh dist | cut -f1))"
