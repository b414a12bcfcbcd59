#!/usr/bin/env bash
# Builds the libFuzzer harnesses of tests/fuzz with clang (-DPRUNE_FUZZ=ON)
# into build-fuzz/ (or $PRUNE_FUZZ_BUILD_DIR) and runs each for a bounded
# number of iterations over its checked-in corpus (ctest label `fuzz`). A
# crash, leak, timeout or broken property fails; the failing input is left in
# build-fuzz/tests/fuzz/artifacts/. Extra arguments go to ctest.
# Longer runs and adding reproducers: tests/fuzz/README.md.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${PRUNE_FUZZ_BUILD_DIR:-$root/build-fuzz}
jobs=${PRUNE_BUILD_JOBS:-$(nproc)}

cmake -S "$root" -B "$build" -DPRUNE_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ >/dev/null
cmake --build "$build" -j "$jobs"
cd "$build"
ctest --output-on-failure -L fuzz -j 2 "$@"
