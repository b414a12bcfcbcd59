#!/usr/bin/env bash
# End-to-end demo on one machine: installs what is missing, builds, starts a
# private PostgreSQL, the server and one worker, trains (or reuses) the
# Fashion-MNIST reference model, and runs a real UNIFORM pruning job at half
# the FLOPs with a short fine-tune through prunectl. Writes demo-out/pruned.pt
# and demo-out/report.json and prints a before/after table. Stops everything it
# started, also on failure.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${PRUNE_BUILD_DIR:-$root/build}
out=$root/demo-out
run=$root/.run/demo
ref=$root/.cache/reference
finetune_epochs=${DEMO_FINETUNE_EPOCHS:-1}

step() { printf '\n== %s\n' "$*"; }

step "dependencies"
"$root/scripts/install-deps.sh"
step "build"
"$root/scripts/build.sh"

# The CPU set-up of docs/ARCHITECTURE.md: OpenBLAS (selected by install-deps via
# Debian alternatives) and jemalloc.
export LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2${LD_PRELOAD:+:$LD_PRELOAD}

step "reference model (trained once, then cached in .cache/reference)"
/usr/bin/python3 "$root/bench/train_reference.py" --out-dir "$ref"

rm -rf "$run" "$out"
mkdir -p "$run" "$out"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  "$root/scripts/pg.sh" stop "$run/pgdata" || true
}
trap cleanup EXIT

step "PostgreSQL (private cluster in $run/pgdata)"
db_url=$("$root/scripts/pg.sh" start "$run/pgdata")
echo "$db_url"

free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
port=$(free_port)
server_metrics=127.0.0.1:$(free_port)
worker_metrics=127.0.0.1:$(free_port)
export PRUNE_SERVER=127.0.0.1:$port
step "server pruned on $PRUNE_SERVER and one prune-worker (logs in $run)"
"$build/server/pruned" migrate --database-url "$db_url" >"$run/migrate.log" 2>&1
"$build/server/pruned" serve --database-url "$db_url" --listen "$PRUNE_SERVER" \
  --metrics-listen "$server_metrics" >"$run/pruned.log" 2>&1 &
pids+=($!)
"$build/workers/runner/prune-worker" --database-url "$db_url" --work-dir "$run/work" \
  --metrics-listen "$worker_metrics" >"$run/worker.log" 2>&1 &
pids+=($!)

prunectl() { "$build/client/prunectl" "$@"; }
for _ in $(seq 1 100); do
  prunectl model list >/dev/null 2>&1 && break
  sleep 0.2
done

step "upload the model and the Fashion-MNIST test split"
prunectl model upload "$ref/model.pt" --name fmnist-resnet --input-shape 1,1,28,28
prunectl dataset upload "$ref/test.pt" --name fmnist-test

step "UNIFORM pruning job: flops=0.5, $finetune_epochs fine-tune epoch(s)"
job=$(prunectl job create --model fmnist-resnet --dataset fmnist-test --strategy uniform \
  --target flops=0.5 --finetune-epochs "$finetune_epochs" --seed 1 --json | \
  /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["name"])')
echo "job: $job"
prunectl job watch "$job"

step "download"
prunectl job download "$job" --model-out "$out/pruned.pt" --report-out "$out/report.json"
/usr/bin/python3 "$root/bench/eval_model.py" "$out/pruned.pt" "$ref/test.pt" \
  >"$out/stock_python_check.json"

step "result"
/usr/bin/python3 "$root/scripts/print_report.py" "$out/report.json" "$out/stock_python_check.json"

step "Prometheus metrics after the job (server http://$server_metrics/metrics, worker http://$worker_metrics/metrics)"
/usr/bin/python3 - "$server_metrics" "$worker_metrics" <<'PY'
import sys, urllib.request
wanted = ("prune_jobs_created_total", "prune_jobs{", "prune_rpc_requests_total{method=\"CreateJob\"",
          "prune_job_duration_seconds_count", "prune_job_duration_seconds_sum",
          "prune_evaluations_total", "prune_best_accuracy")
for address in sys.argv[1:]:
    text = urllib.request.urlopen(f"http://{address}/metrics", timeout=5).read().decode()
    for line in text.splitlines():
        if line.startswith(wanted):
            print("  " + line)
PY
