#!/usr/bin/env bash
# CPU latency speedup of torchvision ResNet-18 / MobileNetV2 (1000 classes,
# 224x224) pruned to 50% MACs by prune-engine, at batch 32 and batch 1.
# Efficiency = speedup / (original MACs / pruned MACs); 1.0 means latency
# falls exactly with the MACs.
#
# prune-engine prunes; prune-speedup-bench (bench/engine/speedup_main.cc,
# build it with `cmake --build BUILD --target prune-speedup-bench`) then
# times the original and the pruned model pass by pass, alternating, both as
# saved ("module") and as deployed, torch.jit.optimize_for_inference(
# torch.jit.freeze(m)) ("optimized"), and reports the median of the
# per-round speedups.
#
# usage: bench/engine/engine_speedup.sh [BUILD_DIR (default build-engine)] [STRATEGY (uniform)]
#        [more prune-engine flags, e.g. --round-to 16]
# environment: PRUNE_BENCH_DEVICE (cpu; or cuda), PRUNE_BENCH_BATCHES ("32 1"),
#              PRUNE_BENCH_ROUNDS (timed rounds; 15 at batch >= 8, else 60),
#              PRUNE_PYTHON (/usr/bin/python3)
set -euo pipefail
BUILD=${1:-build-engine}
STRATEGY=${2:-uniform}
EXTRA=("${@:3}")
DEVICE=${PRUNE_BENCH_DEVICE:-cpu}
BATCHES=${PRUNE_BENCH_BATCHES:-32 1}
LABEL="$STRATEGY${EXTRA[*]:+ ${EXTRA[*]}}"
PY=${PRUNE_PYTHON:-/usr/bin/python3}
JEMALLOC=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
PRELOAD=$([ -f "$JEMALLOC" ] && echo "$JEMALLOC" || true)
if [ ! -x "$BUILD/prune-speedup-bench" ]; then
  echo "missing $BUILD/prune-speedup-bench: cmake --build <build> --target prune-speedup-bench" >&2
  exit 2
fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
"$PY" - "$WORK" <<'PY'
import sys, warnings, torch, torchvision
warnings.simplefilter("ignore")
for name in ("resnet18", "mobilenet_v2"):
    m = getattr(torchvision.models, name)(num_classes=1000).eval()
    torch.jit.script(m).save(f"{sys.argv[1]}/{name}.pt")
PY
printf "| model | widths | device | batch | MACs ratio | module before / after (ms) | module speedup | module efficiency | optimized before / after (ms) | optimized speedup | optimized efficiency |\n"
printf "|---|---|---|---|---|---|---|---|---|---|---|\n"
for model in resnet18 mobilenet_v2; do
  LD_PRELOAD=$PRELOAD "$BUILD/prune-engine" prune --model "$WORK/$model.pt" \
    --input-shape 1,3,224,224 --strategy "$STRATEGY" --target flops=0.5 \
    --latency-batch-size 0 --device "$DEVICE" "${EXTRA[@]}" -o "$WORK/$model.pruned.pt" \
    --report "$WORK/$model.json" 2>/dev/null
  for batch in $BATCHES; do
    rounds=${PRUNE_BENCH_ROUNDS:-$([ "$batch" -ge 8 ] && echo 15 || echo 60)}
    LD_PRELOAD=$PRELOAD "$BUILD/prune-speedup-bench" "$WORK/$model.pt" "$WORK/$model.pruned.pt" \
      1,3,224,224 "$batch" "$rounds" "$DEVICE" >"$WORK/$model.$batch.timing.json" 2>/dev/null
    "$PY" - "$WORK/$model.json" "$WORK/$model.$batch.timing.json" "$model" "$LABEL" "$DEVICE" <<'PY'
import json, sys
report, timing = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
reduction = report["before"]["macs"] / report["after"]["macs"]
def cells(t):
    if t is None:
        return ["-", "-", "-"]
    return [f"{t['original_ms']:.1f} / {t['pruned_ms']:.1f}", f"{t['speedup']:.2f}x",
            f"{t['speedup'] / reduction:.2f}"]
row = [sys.argv[3], sys.argv[4], sys.argv[5], str(timing["batch"]), f"{report['macs_ratio']:.3f}"]
row += cells(timing["module"]) + cells(timing["optimized"])
print("| " + " | ".join(row) + " |")
if timing.get("optimized_error"):
    print(f"<!-- {sys.argv[3]}, batch {timing['batch']}: {timing['optimized_error']} -->")
PY
  done
done
