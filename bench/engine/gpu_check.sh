#!/usr/bin/env bash
# Builds the engine (engine-only, no gRPC / libpq) against the libtorch of the
# Python torch on this machine -- on a GPU machine a current PyTorch 2.x --
# runs the engine test suite, and, where CUDA is available, measures on the GPU:
#   - latency speedup of ResNet-18 / MobileNetV2 pruned to 50% MACs
#     (bench/engine/engine_speedup.sh with PRUNE_BENCH_DEVICE=cuda),
#   - the search benchmark on the Fashion-MNIST reference model, when its files
#     are given (bench/search/run_search_bench.py --device cuda).
# Everything it prints also lands in $OUT (default: a temp dir).
#
# usage: bench/engine/gpu_check.sh
# environment:
#   PRUNE_PYTHON      python with torch + torchvision (default: python3)
#   GTEST_SRC         googletest source tree to build when the machine has no
#                     GTest (e.g. a copy of Debian's /usr/src/googletest)
#   BUILD             build dir (default /tmp/prune-engine-build)
#   REF_DIR           dir with the reference model.pt (train_reference.py)
#   SEARCH_DATASET    the search benchmark's dataset file (resnet_4000_1000.pt)
#   SKIP_TESTS=1      build and benchmark only
#   SKIP_SPEEDUP=1    skip the latency-speedup benchmarks
#   EVAL_BENCH_PAIRS  "model.pt:dataset.pt ...": candidate-evaluation throughput
#                     (prune-search-eval-bench) of each pair on the GPU
set -uo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${OUT:-$(mktemp -d)}
PY=${PRUNE_PYTHON:-python3}
BUILD=${BUILD:-/tmp/prune-engine-build}
JOBS=$(nproc)
log() { echo "== $(date +%T) $*" | tee -a "$OUT/summary.txt"; }

log "machine: $(uname -m), $JOBS cores"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total \
  --format=csv,noheader | tee -a "$OUT/summary.txt"
"$PY" -c 'import torch, torchvision; print("torch", torch.__version__, "torchvision",
  torchvision.__version__, "cuda", torch.cuda.is_available())' | tee -a "$OUT/summary.txt"
TORCH_PREFIX=$("$PY" -c 'import torch; print(torch.utils.cmake_prefix_path)')
ABI=$("$PY" -c 'import torch; print(int(torch._C._GLIBCXX_USE_CXX11_ABI))')

PREFIX="$TORCH_PREFIX"
if [ -n "${GTEST_SRC:-}" ]; then
  # GTest must use LibTorch's C++ ABI, or the test binaries do not link.
  log "building googletest from $GTEST_SRC (CXX11 ABI $ABI)"
  cmake -S "$GTEST_SRC" -B "$BUILD/gtest-build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_CXX_FLAGS="-D_GLIBCXX_USE_CXX11_ABI=$ABI" -DCMAKE_INSTALL_PREFIX="$BUILD/gtest" \
    -DBUILD_GMOCK=OFF >"$OUT/gtest.log" 2>&1 &&
    cmake --build "$BUILD/gtest-build" -j"$JOBS" --target install >>"$OUT/gtest.log" 2>&1 ||
    { log "googletest build FAILED"; tail -20 "$OUT/gtest.log"; exit 1; }
  PREFIX="$TORCH_PREFIX;$BUILD/gtest"
fi

log "configure + build (engine only)"
start=$(date +%s)
if ! { cmake -S "$SRC" -B "$BUILD/engine" -G Ninja -DPRUNE_ENGINE_ONLY=ON \
         -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_PREFIX_PATH="$PREFIX" \
         -DPRUNE_PYTHON="$(command -v "$PY")" &&
       cmake --build "$BUILD/engine" -j"$JOBS" &&
       cmake --build "$BUILD/engine" -j"$JOBS" --target prune-search-eval-bench prune-speedup-bench; } \
     >"$OUT/build.log" 2>&1; then
  log "build FAILED"
  grep -E "error|Error" "$OUT/build.log" | head -40
  exit 1
fi
log "build ok in $(($(date +%s) - start)) s"
ENGINE_BUILD="$BUILD/engine/workers/engine"

if [ "${SKIP_TESTS:-0}" != 1 ]; then
  log "engine tests"
  start=$(date +%s)
  # Two threads per test: every test process running JOBS OpenMP threads
  # at once oversubscribes the cores so badly (spinning OpenMP workers) that
  # second-long tests time out (seen with -j16 on 16 cores).
  OMP_NUM_THREADS=2 ctest --test-dir "$BUILD/engine" -j$(((JOBS + 1) / 2)) --output-on-failure \
    --timeout 400 >"$OUT/ctest.log" 2>&1
  log "ctest exit $? in $(($(date +%s) - start)) s"
  grep -E "tests passed|tests failed|Failed|\*\*\*" "$OUT/ctest.log" | tee -a "$OUT/summary.txt"
fi

if [ "${SKIP_SPEEDUP:-0}" != 1 ]; then
  # CPU speedup with this machine's torch (pip builds use MKL / oneDNN, where
  # Debian's uses OpenBLAS): tells the BLAS's share in the speedup efficiency.
  log "CPU latency speedup at 50% MACs (batch 32, $JOBS cores)"
  PRUNE_PYTHON="$PY" PRUNE_BENCH_BATCHES=32 "$SRC/bench/engine/engine_speedup.sh" "$ENGINE_BUILD" \
    uniform 2>&1 | tee -a "$OUT/summary.txt"
  PRUNE_PYTHON="$PY" PRUNE_BENCH_BATCHES=32 "$SRC/bench/engine/engine_speedup.sh" "$ENGINE_BUILD" \
    uniform --round-to 8 2>&1 | tail -n +3 | tee -a "$OUT/summary.txt"
fi

if "$PY" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'; then
  for pair in ${EVAL_BENCH_PAIRS:-}; do
    log "candidate-evaluation throughput on the GPU: ${pair%%:*}"
    "$ENGINE_BUILD/prune-search-eval-bench" "${pair%%:*}" "${pair#*:}" 64 5 500 cuda 2>&1 |
      tee -a "$OUT/summary.txt"
  done
fi

if [ "${SKIP_SPEEDUP:-0}" != 1 ] &&
  "$PY" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'; then
  log "GPU latency speedup at 50% MACs"
  PRUNE_PYTHON="$PY" PRUNE_BENCH_DEVICE=cuda PRUNE_BENCH_BATCHES="32 256" \
    "$SRC/bench/engine/engine_speedup.sh" "$ENGINE_BUILD" uniform 2>&1 | tee -a "$OUT/summary.txt"
  PRUNE_PYTHON="$PY" PRUNE_BENCH_DEVICE=cuda PRUNE_BENCH_BATCHES="32 256" \
    "$SRC/bench/engine/engine_speedup.sh" "$ENGINE_BUILD" uniform --round-to 8 2>&1 |
    tail -n +3 | tee -a "$OUT/summary.txt"
  if [ -n "${REF_DIR:-}" ] && [ -n "${SEARCH_DATASET:-}" ]; then
    log "search benchmark on the GPU"
    mkdir -p /tmp/search-bench && cp "$SEARCH_DATASET" /tmp/search-bench/
    "$PY" "$SRC/bench/search/run_search_bench.py" --engine "$ENGINE_BUILD/prune-engine" \
      --eval-bench "$ENGINE_BUILD/prune-search-eval-bench" --device cuda --ref-dir "$REF_DIR" \
      --out-dir /tmp/search-bench --markdown "$OUT/search_bench_cuda.md" 2>&1 |
      tee -a "$OUT/search.log" | tail -n 30
  fi
else
  log "no CUDA: GPU measurements skipped"
fi
log "done"
