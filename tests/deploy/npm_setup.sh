#!/usr/bin/env bash
# Installs the pinned npm packages of tests/deploy (package-lock.json) into
# DEST/node_modules, outside the source tree. `npm ci` again only when the
# lock file changed. Offline-friendly: --prefer-offline uses the npm cache
# ($NPM_CONFIG_CACHE, default ~/.npm) and falls back to the registry; set
# PRUNE_NPM_OFFLINE=1 to forbid network access (fails if the cache is cold).
# Usage: npm_setup.sh SOURCE_DIR DEST
set -euo pipefail
src=$1
dest=$2
mkdir -p "$dest"
want=$(sha256sum "$src/package-lock.json" | cut -d' ' -f1)
if [ -d "$dest/node_modules" ] && [ "$(cat "$dest/.installed" 2>/dev/null)" = "$want" ]; then
  echo "npm_setup: $dest/node_modules is current"
  exit 0
fi
cp "$src/package.json" "$src/package-lock.json" "$dest/"
rm -f "$dest/.installed"
mode=--prefer-offline
[ "${PRUNE_NPM_OFFLINE:-0}" = 1 ] && mode=--offline
(cd "$dest" && npm ci "$mode" --no-audit --no-fund --ignore-scripts --loglevel=error)
echo "$want" > "$dest/.installed"
echo "npm_setup: installed into $dest/node_modules"
