#!/usr/bin/env bash
# Renders every overlay with `kubectl kustomize` (no cluster needed) into
# OUT_DIR/<overlay>.yaml. Fails if an overlay does not render or renders
# nothing. Usage: render.sh KUSTOMIZE_DIR OUT_DIR
set -euo pipefail
kustomize_dir=$1
out=$2
kubectl=${KUBECTL:-kubectl}
mkdir -p "$out"
overlays=("$kustomize_dir"/overlays/*/)
[ -d "${overlays[0]}" ] || { echo "render: no overlays under $kustomize_dir/overlays" >&2; exit 1; }
for dir in "${overlays[@]}"; do
  name=$(basename "$dir")
  # Current kubectl warns about `bases`/`patchesStrategicMerge` (kept for
  # Debian's kubectl 1.20); the warnings are not errors.
  if ! "$kubectl" kustomize "$dir" > "$out/$name.yaml" 2> "$out/$name.err"; then
    cat "$out/$name.err" >&2
    echo "render: overlay $name does not render" >&2
    exit 1
  fi
  count=$(grep -c '^kind:' "$out/$name.yaml" || true)
  [ "$count" -gt 0 ] || { echo "render: overlay $name rendered no objects" >&2; exit 1; }
  echo "render: $name: $count objects"
done
