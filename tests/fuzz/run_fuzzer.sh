#!/usr/bin/env bash
# Runs one libFuzzer harness over its checked-in corpus for a bounded time
# (the ctest `fuzz` tests). New interesting inputs go to a scratch directory
# that is thrown away, so the repository's corpus is only read; a crash, leak
# or timeout fails the test and leaves its input under ARTIFACT_DIR.
#
# usage: run_fuzzer.sh FUZZER CORPUS_DIR ARTIFACT_DIR [libFuzzer flags...]
set -euo pipefail
fuzzer=$1 corpus=$2 artifacts=$3
shift 3
name=$(basename "$fuzzer")
mkdir -p "$artifacts"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
# ASan does not mix with a preloaded allocator (scripts/test.sh preloads jemalloc).
unset LD_PRELOAD
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$(dirname "$0")/lsan.supp:print_suppressions=0}
"$fuzzer" -artifact_prefix="$artifacts/$name-" -timeout=25 -rss_limit_mb=4096 \
  -print_final_stats=1 "$@" "$scratch" "$corpus"
