#!/usr/bin/env bash
# Latency target (--target latency=0.5) on CPU: torchvision ResNet-18 and
# MobileNetV2 (1000 classes, 224x224, scripted by Python torchvision), at
# batch 32 and batch 1. For each: the latency ratio the engine's per-layer
# latency table predicted for the chosen widths, the ratio measured on the
# pruned model (median of timed forward passes, as in every report), the MACs
# ratio, and how long building the table took. A second run of each job
# reads the table from the cache (--latency-table-cache) and its build time
# is reported too. OpenBLAS + jemalloc as docs/ARCHITECTURE.md
# ("CPU set-up of the worker") says.
#
# usage: bench/engine/latency_target.sh [BUILD_DIR (default build-engine)] [STRATEGY (uniform)]
#        [more prune-engine flags, e.g. --latency-table-grid 4]
#        (MODELS="mobilenet_v2" limits the models)
set -euo pipefail
BUILD=${1:-build-engine}
STRATEGY=${2:-uniform}
EXTRA=("${@:3}")
LABEL="$STRATEGY${EXTRA[*]:+ ${EXTRA[*]}}"
PY=${PRUNE_PYTHON:-/usr/bin/python3}
JEMALLOC=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
ENGINE=$BUILD/prune-engine
[ -x "$ENGINE" ] || ENGINE=$BUILD/workers/engine/prune-engine
MODELS=${MODELS:-resnet18 mobilenet_v2}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
"$PY" - "$WORK" "$MODELS" <<'PY'
import sys, warnings, torch, torchvision
warnings.simplefilter("ignore")
for name in sys.argv[2].split():
    m = getattr(torchvision.models, name)(num_classes=1000).eval()
    torch.jit.script(m).save(f"{sys.argv[1]}/{name}.pt")
PY
printf "| model | strategy | batch | target | predicted latency ratio | measured latency ratio | MACs ratio | latency before / after (ms) | table build (s) | layer timings | cached rerun: build (s), measured ratio |\n"
printf "|---|---|---|---|---|---|---|---|---|---|---|\n"
for model in $MODELS; do
  for batch in 32 1; do
    runs=$([ "$batch" = 1 ] && echo 50 || echo 10)
    for round in first cached; do
      LD_PRELOAD=$JEMALLOC "$ENGINE" prune --model "$WORK/$model.pt" \
        --input-shape 1,3,224,224 --strategy "$STRATEGY" --target latency=0.5 \
        --latency-batch-size "$batch" --latency-runs "$runs" --device cpu \
        --latency-table-cache "$WORK/tables" "${EXTRA[@]}" \
        -o "$WORK/$model.pruned.pt" --report "$WORK/$model.$batch.$round.json" 2>/dev/null
    done
    "$PY" - "$WORK/$model.$batch.first.json" "$WORK/$model.$batch.cached.json" "$model" "$batch" \
      "$LABEL" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
c = json.load(open(sys.argv[2]))
p, t = r["latency_prediction"], r["latency_prediction"]["table"]
cp = c["latency_prediction"]
assert cp["table"]["from_cache"], "second run did not reuse the cached table"
print(f"| {sys.argv[3]} | {sys.argv[5]} | {sys.argv[4]} | latency=0.5 | {p['predicted_ratio']:.3f} | "
      f"{p['measured_ratio']:.3f} | {r['macs_ratio']:.3f} | "
      f"{r['before']['latency_ms']:.1f} / {r['after']['latency_ms']:.1f} | "
      f"{t['build_seconds']:.1f} | {t['measurements']} | "
      f"{cp['table']['build_seconds']:.1f}, {cp['measured_ratio']:.3f} |")
PY
  done
done
