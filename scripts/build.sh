#!/usr/bin/env bash
# Configures and builds everything into build/ (or $PRUNE_BUILD_DIR).
# Extra arguments go to the CMake configure step.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${PRUNE_BUILD_DIR:-$root/build}
jobs=${PRUNE_BUILD_JOBS:-$(nproc)}

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
cmake --build "$build" -j "$jobs"
