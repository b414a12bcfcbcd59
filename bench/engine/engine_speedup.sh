#!/usr/bin/env bash
# CPU latency speedup of torchvision ResNet-18 / MobileNetV2 (1000 classes,
# 224x224) pruned to 50% MACs by prune-engine, at batch 32 and batch 1.
# Efficiency = speedup / (original MACs / pruned MACs), for both models as
# saved (TorchScript modules) and as deployed
# (torch.jit.optimize_for_inference(torch.jit.freeze(m)), "optimized").
#
# usage: bench/engine/engine_speedup.sh [BUILD_DIR (default build-engine)] [STRATEGY (uniform)]
#        [more prune-engine flags, e.g. --round-to 8]
# environment: PRUNE_BENCH_DEVICE (cpu; or cuda), PRUNE_BENCH_BATCHES ("32 1"),
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
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
"$PY" - "$WORK" <<'PY'
import sys, warnings, torch, torchvision
warnings.simplefilter("ignore")
for name in ("resnet18", "mobilenet_v2"):
    m = getattr(torchvision.models, name)(num_classes=1000).eval()
    torch.jit.script(m).save(f"{sys.argv[1]}/{name}.pt")
PY
printf "| model | strategy | device | batch | MACs ratio | latency before (ms) | latency after (ms) | speedup | speedup / MACs reduction | optimized before (ms) | optimized after (ms) | optimized speedup / MACs reduction |\n"
printf "|---|---|---|---|---|---|---|---|---|---|---|---|\n"
for model in resnet18 mobilenet_v2; do
  for batch in $BATCHES; do
    runs=$([ "$batch" = 1 ] && echo 50 || echo 10)
    LD_PRELOAD=$PRELOAD "$BUILD/prune-engine" prune --model "$WORK/$model.pt" \
      --input-shape 1,3,224,224 --strategy "$STRATEGY" --target flops=0.5 \
      --latency-batch-size "$batch" --latency-runs "$runs" --device "$DEVICE" \
      "${EXTRA[@]}" -o "$WORK/$model.pruned.pt" --report "$WORK/$model.$batch.json" 2>/dev/null
    "$PY" - "$WORK/$model.$batch.json" "$model" "$batch" "$LABEL" "$DEVICE" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
red = r["before"]["macs"] / r["after"]["macs"]
s = r["latency_speedup"]
ms = lambda v: "-" if v is None else f"{v:.1f}"
o = r.get("optimized_latency_speedup")
print(f"| {sys.argv[2]} | {sys.argv[4]} | {sys.argv[5]} | {sys.argv[3]} | {r['macs_ratio']:.3f} | "
      f"{r['before']['latency_ms']:.1f} | {r['after']['latency_ms']:.1f} | {s:.2f}x | {s / red:.2f} | "
      f"{ms(r['before'].get('optimized_latency_ms'))} | {ms(r['after'].get('optimized_latency_ms'))} | "
      f"{'-' if o is None else f'{o / red:.2f}'} |")
if r.get("optimized_latency_error"):
    print(f"<!-- {sys.argv[2]}: optimized latency not measured: {r['optimized_latency_error']} -->")
PY
  done
done
