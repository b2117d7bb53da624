#!/usr/bin/env bash
# Clean, idempotent install of the real Durably service used by the e2e tests.
#   tests/durably/install.sh          # npm ci (from package-lock.json) + native build
# npm here does not run install scripts, so better-sqlite3's native binding is
# built explicitly from source (the Node headers are installed). Re-running is
# cheap: nothing is reinstalled when node_modules matches the lockfile and the
# binding loads.
set -euo pipefail
cd "$(dirname "$0")"
exec 9>.install.lock && flock 9  # one install at a time (pytest-xdist workers each call this)

die() { echo "tests/durably/install.sh: $*" >&2; exit 1; }
command -v node >/dev/null || die "node not found (Node 20+ required)"
command -v npm >/dev/null || die "npm not found"
[ -f package-lock.json ] || die "package-lock.json missing"

binding_loads() {
  node --input-type=module -e "
    import Database from 'better-sqlite3'
    import { createDurablyHandler } from '@coji/durably'
    new Database(':memory:').prepare('select 1').get()
    if (typeof createDurablyHandler !== 'function') process.exit(3)
  " >/dev/null 2>&1
}

stamp=node_modules/.install-stamp
lock_sum=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$lock_sum" ] && binding_loads; then
  echo "durably harness: up to date"
  exit 0
fi

echo "durably harness: npm ci"
npm ci --no-audit --no-fund --ignore-scripts || die "npm ci failed"

echo "durably harness: building better-sqlite3 from source"
if ! npm rebuild better-sqlite3 --foreground-scripts --ignore-scripts=false; then
  echo "npm rebuild failed; trying node-gyp directly" >&2
  (cd node_modules/better-sqlite3 && npx --no-install node-gyp rebuild --release) \
    || die "could not build better-sqlite3 (are the Node headers and a C++ toolchain installed?)"
fi

binding_loads || die "better-sqlite3 / @coji/durably still do not load after the build"
echo "$lock_sum" > "$stamp"
echo "durably harness: ready ($(node -p "require('./node_modules/@coji/durably/package.json').version"))"
