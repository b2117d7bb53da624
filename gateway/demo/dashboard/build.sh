#!/usr/bin/env bash
# Builds the demo dashboard bundle, idempotently: npm ci from package-lock.json (esbuild's
# binary comes as its platform package, so no install script runs), then build.mjs into dist/.
# Nothing is redone when the lockfile, the sources and the bundle are unchanged.
set -euo pipefail
cd "$(dirname "$0")"

die() { echo "gateway/demo/dashboard/build.sh: $*" >&2; exit 1; }
command -v node >/dev/null || die "node not found (Node 20+ required)"
command -v npm >/dev/null || die "npm not found"

lock_sum=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f node_modules/.install-stamp ] || [ "$(cat node_modules/.install-stamp)" != "$lock_sum" ]; then
  echo "dashboard: npm ci"
  npm ci --no-audit --no-fund --ignore-scripts || die "npm ci failed"
  echo "$lock_sum" > node_modules/.install-stamp
fi

want=$(cat package-lock.json build.mjs $(find src -type f | sort) | sha256sum | cut -d' ' -f1)
if [ -f dist/.build-stamp ] && [ "$(cat dist/.build-stamp)" = "$want" ] && [ -f dist/dashboard.js ]; then
  echo "dashboard: up to date"
  exit 0
fi
echo "dashboard: bundling with esbuild $(node -p "require('./node_modules/esbuild/package.json').version")"
rm -rf dist
node build.mjs || die "esbuild failed"
echo "$want" > dist/.build-stamp
echo "dashboard: built dist/ ($(du -sh dist | cut -f1))"
