#!/usr/bin/env bash
# Accuracy of the Fashion-MNIST reference model at 50% MACs for each channel
# importance criterion, UNIFORM widths, after BN recalibration and after the
# same 1-epoch fine-tune. Prints a Markdown table.
#
# usage: bench/engine/importance_criteria.sh [BUILD_DIR]   (reference model from
#        bench/train_reference.py in .cache/reference)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build}
ref=$root/.cache/reference
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
export LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2${LD_PRELOAD:+:$LD_PRELOAD}

echo "| criterion | MACs ratio | top-1 original | top-1 pruned (BN recal.) | top-1 after 1 epoch | drop (points) |"
echo "|---|---|---|---|---|---|"
for criterion in l1 l2 bn_scale taylor fpgm random; do
  "$build/workers/engine/prune-engine" prune --model "$ref/model.pt" --input-shape 1,1,28,28 \
    --dataset "$ref/test.pt" --strategy uniform --target flops=0.5 --importance "$criterion" \
    --finetune-epochs 1 --seed 1 --latency-batch-size 0 -o "$out/$criterion.pt" \
    --report "$out/$criterion.json" >"$out/$criterion.log" 2>&1 ||
    { cat "$out/$criterion.log" >&2; exit 1; }
  /usr/bin/python3 - "$criterion" "$out/$criterion.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[2]))
b, a = r["before"]["top1"], r["after"]["top1"]
p = r["after_pruning_before_finetune"]["top1"]
print(f"| {sys.argv[1]} | {r['macs_ratio']:.3f} | {b:.4f} | {p:.4f} | {a:.4f} | {100 * (b - a):.2f} |")
PY
done
