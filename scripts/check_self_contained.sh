#!/usr/bin/env bash
# Fails when a tracked file refers to a document or path outside the
# repository: the founding design notes that lived next to the repository,
# a sibling "shared" folder, or an absolute path of a developer machine.
# The repository must stand alone; its design is docs/ARCHITECTURE.md.
# usage: scripts/check_self_contained.sh [SOURCE_ROOT (default: this repo)]
set -euo pipefail
root=$(cd "${1:-$(dirname "$0")/..}" && pwd)
cd "$root"
# Tracked files when ROOT is the top of a git checkout; else every file
# (a scratch copy, even one inside a build folder of a checkout).
is_checkout=0
[ "$(git rev-parse --show-toplevel 2>/dev/null)" = "$root" ] && is_checkout=1

# Spelled in pieces so that this file does not match itself.
design_notes="DESIGN"'\.md'
sibling_shared='\.\.'"/shared"
machine_path='(^|[[:space:]"'"'"'=(:])/work'"/"
pattern="$design_notes|$sibling_shared|$machine_path"

if [ "$is_checkout" = 1 ]; then
  hits=$(git grep -n -I -E "$pattern" -- . || true)
else
  hits=$(grep -r -n -I -E "$pattern" . || true)
fi
if [ -n "$hits" ]; then
  echo "$hits"
  echo "self-contained: the lines above refer to files outside the repository;" \
    "point them to docs/ARCHITECTURE.md (or move what they need into the repository)"
  exit 1
fi
echo "self-contained: ok"
