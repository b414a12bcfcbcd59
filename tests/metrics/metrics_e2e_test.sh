#!/usr/bin/env bash
# Prometheus metrics of the real binaries. A private PostgreSQL, the real
# `pruned serve` and `prune-worker` with --metrics-listen 127.0.0.1:0 (ports
# read back from their "metrics listening on HOST:PORT" log lines) and one
# small job through prunectl.
#
# Phase 1: scrape both /metrics; `promtool check metrics` must print nothing;
#   the server counted CreateJob/OK, the uploads and the job, and reports
#   prune_jobs{state="succeeded"} 1 (every state present); the worker observed
#   one succeeded attempt, three evaluations and the final accuracy.
# Phase 2: a real Prometheus (scrape_interval 1s) scrapes both; with the
#   worker stopped, a new job must show up as prune_jobs{state="queued"} 1
#   through Prometheus' /api/v1/query.
#
# usage: metrics_e2e_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
src=$2
here=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3
promtool=${PROMTOOL:-$(command -v promtool || true)}
prometheus=${PROMETHEUS:-$(command -v prometheus || true)}
tmp=$(mktemp -d "$build/metrics-e2e.XXXXXX")
chmod 755 "$tmp"  # as root, pg.sh runs the cluster as user postgres
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  "$src/scripts/pg.sh" stop "$tmp/pg" >/dev/null 2>&1 || true
  if [ "${keep:-0}" != 1 ]; then rm -rf "$tmp"; else echo "kept $tmp" >&2; fi
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  keep=1
  for log in pruned worker prometheus; do
    [ -f "$tmp/$log.log" ] && { echo "--- $log.log" >&2; tail -n 30 "$tmp/$log.log" >&2; }
  done
  exit 1
}
step() { echo "[$(date +%T)] $*"; }
[ -n "$promtool" ] || fail "promtool not found (apt-get install prometheus)"
[ -n "$prometheus" ] || fail "prometheus not found (apt-get install prometheus)"

free_port() { $py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# Port of the "metrics listening on HOST:PORT" line of a log, waiting for it.
metrics_port() {
  local log=$1 port=""
  for _ in $(seq 1 150); do
    port=$(sed -n 's/.*metrics listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$log" | head -n 1)
    [ -n "$port" ] && { echo "$port"; return 0; }
    sleep 0.2
  done
  return 1
}
scrape() { $py "$here/prom_query.py" fetch "http://127.0.0.1:$1/metrics" >"$2"; }
value() { $py "$here/prom_query.py" value "$@"; }
# expect FILE NAME SELECTOR EXPECTED: the sample must equal EXPECTED (numerically).
expect() {
  local got
  got=$(value "$1" "$2" "$3") || fail "$2{$3} missing in $(basename "$1")"
  $py -c 'import sys; sys.exit(float(sys.argv[1]) != float(sys.argv[2]))' "$got" "$4" ||
    fail "$2{$3} = $got, want $4"
}
promtool_clean() {
  local out
  out=$("$promtool" check metrics <"$1" 2>&1) || fail "promtool check metrics $(basename "$1"): $out"
  [ -z "$out" ] || fail "promtool check metrics $(basename "$1") printed: $out"
}

step "starting PostgreSQL"
db_url=$("$src/scripts/pg.sh" start "$tmp/pg")
grpc_port=$(free_port)
export PRUNE_SERVER=127.0.0.1:$grpc_port
"$build/server/pruned" serve --database-url "$db_url" --listen "$PRUNE_SERVER" \
  --metrics-listen 127.0.0.1:0 >"$tmp/pruned.log" 2>&1 &
pids+=($!)
"$build/workers/runner/prune-worker" --database-url "$db_url" --work-dir "$tmp/work" \
  --heartbeat 1 --lease-ttl 10 --poll 0.5 --metrics-listen 127.0.0.1:0 >"$tmp/worker.log" 2>&1 &
worker_pid=$!
pids+=("$worker_pid")
server_metrics=$(metrics_port "$tmp/pruned.log") || fail "pruned logged no metrics port"
worker_metrics=$(metrics_port "$tmp/worker.log") || fail "prune-worker logged no metrics port"
step "pruned metrics on :$server_metrics, worker metrics on :$worker_metrics"

prunectl() { "$build/client/prunectl" "$@"; }
for _ in $(seq 1 150); do
  prunectl model list >/dev/null 2>&1 && break
  sleep 0.2
done
prunectl model list >/dev/null || fail "server did not come up"

$py "$src/tests/tools/make_tiny_inputs.py" "$tmp/inputs" >/dev/null
prunectl model upload "$tmp/inputs/model.pt" --name tiny --input-shape 1,1,28,28 >/dev/null
prunectl dataset upload "$tmp/inputs/dataset.pt" --name tiny-data >/dev/null
step "running one job"
job=$(prunectl job create --model tiny --dataset tiny-data --target flops=0.5 --finetune-epochs 1 \
  --seed 3 --json | $py -c 'import json,sys; print(json.load(sys.stdin)["name"])')
timeout 120 "$build/client/prunectl" job watch "$job" >"$tmp/watch.log" ||
  fail "watch: $(tail -n 5 "$tmp/watch.log")"
prunectl job get "$job" --json | grep SUCCEEDED >/dev/null || fail "job did not succeed"

step "phase 1: scraping /metrics"
# The worker records the attempt right after its final write, and prune_jobs
# is cached for up to 2 s: poll briefly.
for _ in $(seq 1 50); do
  scrape "$server_metrics" "$tmp/server.prom"
  scrape "$worker_metrics" "$tmp/worker.prom"
  if [ "$(value "$tmp/server.prom" prune_jobs state=succeeded || true)" = 1 ] &&
    [ "$(value "$tmp/worker.prom" prune_job_duration_seconds_count outcome=succeeded || true)" = 1 ]; then
    break
  fi
  sleep 0.2
done
promtool_clean "$tmp/server.prom"
promtool_clean "$tmp/worker.prom"

expect "$tmp/server.prom" prune_rpc_requests_total method=CreateJob,code=OK 1
expect "$tmp/server.prom" prune_rpc_requests_total method=UploadModel,code=OK 1
expect "$tmp/server.prom" prune_rpc_duration_seconds_count method=CreateJob 1
expect "$tmp/server.prom" prune_upload_bytes_total kind=model "$(stat -c %s "$tmp/inputs/model.pt")"
expect "$tmp/server.prom" prune_upload_bytes_total kind=dataset "$(stat -c %s "$tmp/inputs/dataset.pt")"
expect "$tmp/server.prom" prune_jobs_created_total strategy=uniform 1
expect "$tmp/server.prom" prune_jobs state=succeeded 1
for state in queued running failed cancelled; do
  expect "$tmp/server.prom" prune_jobs "state=$state" 0
done

expect "$tmp/worker.prom" prune_job_duration_seconds_count outcome=succeeded 1
expect "$tmp/worker.prom" prune_job_attempts_total "" 1
expect "$tmp/worker.prom" prune_job_queue_wait_seconds_count "" 1
expect "$tmp/worker.prom" prune_worker_busy "" 0
# measure_before, evaluate and (with fine-tuning) measure_after.
expect "$tmp/worker.prom" prune_evaluations_total "" 3
expect "$tmp/worker.prom" prune_evaluation_duration_seconds_count "" 3
accuracy=$(value "$tmp/worker.prom" prune_best_accuracy) || fail "no prune_best_accuracy"
prunectl job download "$job" --report-out "$tmp/report.json" >/dev/null || fail "download report"
top1=$($py -c 'import json,sys; print(json.load(open(sys.argv[1]))["after"]["top1"])' "$tmp/report.json")
$py -c 'import sys; sys.exit(abs(float(sys.argv[1]) - float(sys.argv[2])) > 1e-6)' "$accuracy" "$top1" ||
  fail "prune_best_accuracy = $accuracy, report after.top1 = $top1"
step "phase 1 ok (best accuracy $accuracy)"

step "phase 2: Prometheus"
prom_port=$(free_port)
cat >"$tmp/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: pruned
    static_configs:
      - targets: ['127.0.0.1:$server_metrics']
  - job_name: prune-worker
    static_configs:
      - targets: ['127.0.0.1:$worker_metrics']
YAML
"$promtool" check config "$tmp/prometheus.yml" >/dev/null || fail "promtool check config"
"$prometheus" --config.file "$tmp/prometheus.yml" --storage.tsdb.path "$tmp/tsdb" \
  --web.listen-address "127.0.0.1:$prom_port" --log.level warn >"$tmp/prometheus.log" 2>&1 &
pids+=($!)
prom="http://127.0.0.1:$prom_port"
query() { $py "$here/prom_query.py" query "$prom" "$1"; }
# wait_for PROMQL EXPECTED SECONDS
wait_for() {
  local deadline=$((SECONDS + $3)) got=""
  while [ $SECONDS -lt $deadline ]; do
    got=$(query "$1" || true)
    if [ -n "$got" ] && $py -c 'import sys; sys.exit(float(sys.argv[1]) != float(sys.argv[2]))' "$got" "$2"; then
      return 0
    fi
    sleep 0.5
  done
  fail "Prometheus: $1 = '${got}', want $2 within $3 s"
}
wait_for 'sum(up{job=~"pruned|prune-worker"})' 2 30
wait_for 'prune_rpc_requests_total{method="CreateJob",code="OK"}' 1 10
wait_for 'prune_job_duration_seconds_count{outcome="succeeded"}' 1 10

# No worker: a new job stays queued and Prometheus sees the queue depth.
kill -TERM "$worker_pid"
wait "$worker_pid" 2>/dev/null || true
prunectl job create --model tiny --target flops=0.5 >/dev/null
wait_for 'prune_jobs{state="queued"}' 1 30
step "phase 2 ok: Prometheus reads prune_jobs{state=\"queued\"} 1"
echo "PASS"
