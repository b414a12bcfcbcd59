#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test with ctest. Tests that
# need PostgreSQL start private clusters themselves (scripts/pg.sh), so
# nothing else has to be running. Extra arguments go to ctest (e.g. -L unit).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${PRUNE_BUILD_DIR:-$root/build}

"$root/scripts/install-deps.sh"
"$root/scripts/build.sh"

# libFuzzer harnesses (clang + ASan, own build dir, a few minutes); skip with
# PRUNE_SKIP_FUZZ=1. Runs before jemalloc is preloaded: ASan brings its own
# allocator.
if [ "${PRUNE_SKIP_FUZZ:-0}" != 1 ]; then
  "$root/scripts/fuzz.sh"
fi

# The CPU set-up of docs/ARCHITECTURE.md also makes the engine tests faster.
export LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2${LD_PRELOAD:+:$LD_PRELOAD}
cd "$build"
ctest --output-on-failure --timeout 900 -j 2 "$@"
