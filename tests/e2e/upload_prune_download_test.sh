#!/usr/bin/env bash
# End to end through the real stack: a private PostgreSQL, the real `pruned`
# and `prune-worker` binaries, `prunectl` over loopback gRPC. Uploads a tiny
# residual CNN, prunes it to half the MACs, downloads the result and loads it
# with stock Python torch.jit.load. Also checks that bad input gets a clear
# error while the server keeps serving.
#
# usage: upload_prune_download_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
src=$2
tmp=$(mktemp -d "$build/e2e.XXXXXX")
chmod 755 "$tmp"  # the postgres user must reach the cluster folder
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  "$src/scripts/pg.sh" stop "$tmp/pg" || true
  if [ "${keep:-0}" != 1 ]; then rm -rf "$tmp"; fi
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  keep=1
  echo "--- pruned.log"; tail -n 30 "$tmp/pruned.log" >&2 || true
  echo "--- worker.log"; tail -n 30 "$tmp/worker.log" >&2 || true
  exit 1
}

db_url=$("$src/scripts/pg.sh" start "$tmp/pg")
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export PRUNE_SERVER=127.0.0.1:$port
"$build/server/pruned" serve --database-url "$db_url" --listen "$PRUNE_SERVER" >"$tmp/pruned.log" 2>&1 &
pids+=($!)
"$build/workers/runner/prune-worker" --database-url "$db_url" --work-dir "$tmp/work" \
  --heartbeat 1 --lease-ttl 10 --poll 0.5 >"$tmp/worker.log" 2>&1 &
pids+=($!)
prunectl() { "$build/client/prunectl" "$@"; }
for _ in $(seq 1 150); do
  prunectl model list >/dev/null 2>&1 && break
  sleep 0.2
done
prunectl model list >/dev/null || fail "server did not come up"

/usr/bin/python3 "$src/tests/tools/make_tiny_inputs.py" "$tmp/inputs"

# Bad input first: each must fail with its reason, and the server must live on.
head -c 4096 /dev/urandom >"$tmp/random.bin"
if prunectl model upload "$tmp/random.bin" --name junk --input-shape 1,1,28,28 2>"$tmp/err"; then
  fail "random bytes were accepted as a model"
fi
grep -q MODEL_NOT_TORCHSCRIPT "$tmp/err" || fail "no MODEL_NOT_TORCHSCRIPT reason: $(cat "$tmp/err")"
if prunectl job create --model no-such-model --target flops=0.5 2>"$tmp/err"; then
  fail "job for a missing model was accepted"
fi
grep -q NOT_FOUND "$tmp/err" || fail "missing model: $(cat "$tmp/err")"

prunectl model upload "$tmp/inputs/model.pt" --name tiny --input-shape 1,1,28,28 >/dev/null
prunectl dataset upload "$tmp/inputs/dataset.pt" --name tiny-data >/dev/null
if prunectl job create --model tiny --target flops=1.5 2>"$tmp/err"; then
  fail "target 1.5 was accepted"
fi
grep -qE "INVALID_ARGUMENT|must be in \(0, 1\)" "$tmp/err" || fail "target 1.5: $(cat "$tmp/err")"

job=$(prunectl job create --model tiny --dataset tiny-data --strategy uniform --target flops=0.5 \
  --finetune-epochs 1 --seed 3 --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["name"])')
timeout 300 "$build/client/prunectl" job watch "$job" >"$tmp/watch.log" || fail "watch: $(tail -n 5 "$tmp/watch.log")"
prunectl job get "$job" --json >"$tmp/job.json"
grep -q SUCCEEDED "$tmp/job.json" || fail "job did not succeed: $(cat "$tmp/job.json")"
prunectl job download "$job" --model-out "$tmp/pruned.pt" --report-out "$tmp/report.json"

/usr/bin/python3 - "$tmp/pruned.pt" "$tmp/report.json" "$tmp/inputs/model.pt" <<'PY' || fail "pruned archive check"
import json, sys
import torch
pruned = torch.jit.load(sys.argv[1])
report = json.load(open(sys.argv[2]))
original = torch.jit.load(sys.argv[3])
x = torch.randn(4, 1, 28, 28)
out = pruned(x)
assert out.shape == original(x).shape == (4, 10), out.shape
pruned.train()
pruned(x).sum().backward()
assert all(p.grad is not None for p in pruned.parameters())
n_pruned = sum(p.numel() for p in pruned.parameters())
n_orig = sum(p.numel() for p in original.parameters())
assert n_pruned < n_orig, (n_pruned, n_orig)
ratio = report["after"]["macs"] / report["before"]["macs"]
assert ratio <= 0.52, ratio
assert abs(ratio - report["macs_ratio"]) < 1e-6
assert pruned.block.conv1.weight.shape[0] < 16  # hierarchy and names kept
print(f"pruned archive ok: MACs ratio {ratio:.3f}, params {n_orig} -> {n_pruned}")
PY

# A searching strategy through the service: AutoSlim with a small budget.
search_job=$(prunectl job create --model tiny --dataset tiny-data --strategy autoslim \
  --target flops=0.5 --max-evaluations 8 --importance l2 --seed 3 --json |
  /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["name"])')
timeout 300 "$build/client/prunectl" job watch "$search_job" >"$tmp/watch-search.log" ||
  fail "search watch: $(tail -n 5 "$tmp/watch-search.log")"
prunectl job download "$search_job" --report-out "$tmp/search-report.json"
/usr/bin/python3 - "$tmp/search-report.json" <<'PY' || fail "search report check"
import json, sys
report = json.load(open(sys.argv[1]))
assert report["strategy"] == "autoslim", report["strategy"]
assert report["importance"]["criterion"] == "l2", report["importance"]
search = report["search"]
assert 0 < search["evaluations"] <= 9, search["evaluations"]  # budget (+1 fallback)
assert report["macs_ratio"] <= 0.5 + 1e-9, report["macs_ratio"]
assert report["candidates"], "no candidates"
print(f"autoslim ok: {search['evaluations']} evaluations, MACs ratio {report['macs_ratio']:.3f}")
PY
# The same candidates through ListCandidates.
prunectl job candidates "$search_job" --json >"$tmp/candidates.json" ||
  fail "job candidates: $(cat "$tmp/candidates.json")"
/usr/bin/python3 - "$tmp/candidates.json" "$tmp/search-report.json" <<'PY' || fail "candidates check"
import json, sys
listed = json.load(open(sys.argv[1]))["candidates"]
report = json.load(open(sys.argv[2]))["candidates"]
assert len(listed) >= 1, listed
assert any(c["pareto"] for c in listed), listed
assert sorted(int(c["index"]) for c in listed) == sorted(c["index"] for c in report)
print(f"candidates ok: {len(listed)} listed, {sum(c['pareto'] for c in listed)} on the Pareto front")
PY
prunectl job candidates "$search_job" --pareto-only >"$tmp/pareto.txt" ||
  fail "job candidates --pareto-only: $(cat "$tmp/pareto.txt")"
grep -q "^INDEX" "$tmp/pareto.txt" || fail "candidates table: $(cat "$tmp/pareto.txt")"

# A LATENCY target through the service: the worker builds the model's latency
# table once (cached under --work-dir/latency-tables), the next job reuses it,
# and each report gives the predicted and the measured latency ratio. Round 3
# asks for batch-1 latency: another table, measured at that batch.
for round in 1 2 3; do
  batch_args=()
  [ "$round" = 3 ] && batch_args=(--latency-batch-size 1)
  latency_job=$(prunectl job create --model tiny --dataset tiny-data --strategy uniform \
    --target latency=0.7 --seed 3 "${batch_args[@]}" --json |
    /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["name"])')
  timeout 300 "$build/client/prunectl" job watch "$latency_job" >"$tmp/watch-latency.log" ||
    fail "latency watch: $(tail -n 5 "$tmp/watch-latency.log")"
  prunectl job get "$latency_job" >"$tmp/latency-job.txt"
  grep -q "latency=0.7" "$tmp/latency-job.txt" || fail "latency target not shown: $(cat "$tmp/latency-job.txt")"
  prunectl job download "$latency_job" --report-out "$tmp/latency-report.json"
  /usr/bin/python3 - "$tmp/latency-report.json" "$round" <<'PY' || fail "latency report check"
import json, sys
report = json.load(open(sys.argv[1]))
assert report["target"] == {"kind": "latency", "ratio": 0.7}, report["target"]
p = report["latency_prediction"]
assert p["predicted_ratio"] <= 0.7 + 1e-9, p
assert p["measured_ratio"] is not None and p["measured_ratio"] > 0, p
assert p["table"]["from_cache"] == (sys.argv[2] == "2"), p["table"]
assert p["table"]["batch_size"] == (1 if sys.argv[2] == "3" else 32), p["table"]
print(f"latency ok: predicted {p['predicted_ratio']:.3f}, measured {p['measured_ratio']:.3f}, "
      f"table from cache: {p['table']['from_cache']}")
PY
done
ls "$tmp/work/latency-tables"/latency-*.table >/dev/null || fail "no cached latency table"

# Finished jobs cannot be cancelled; the server still answers.
if prunectl job cancel "$job" 2>"$tmp/err"; then fail "cancelling a finished job succeeded"; fi
grep -q FAILED_PRECONDITION "$tmp/err" || fail "cancel finished: $(cat "$tmp/err")"
prunectl model list >/dev/null || fail "server stopped serving"
