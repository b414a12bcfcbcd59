#!/usr/bin/env bash
# Bad input through the real stack: each case gets a clear status or a FAILED
# job with its reason, and the server keeps serving. Truncated uploads and
# sha256 mismatches need a raw gRPC client (no grpc_tools here): they are in
# server/test/grpc_roundtrip_test.cc.
#
# usage: bad_inputs_test.sh BUILD_DIR SOURCE_DIR
build=$1
src=$2
source "$src/tests/reliability/lib.sh"
start_server --auth none
in=$tmp/inputs
/usr/bin/python3 "$src/tests/tools/make_tiny_inputs.py" "$in" >/dev/null
# torch.jit.script reads the module's source, so the generator is a file.
cat >"$tmp/gen.py" <<'PY'
import os, sys, zipfile
import torch
d = sys.argv[1]
open(os.path.join(d, "empty.pt"), "wb").close()
with open(os.path.join(d, "random.pt"), "wb") as f:
    f.write(os.urandom(8192))
with zipfile.ZipFile(os.path.join(d, "notts.zip"), "w") as z:
    z.writestr("archive/data.pkl", b"not a pickle")
    z.writestr("hello.txt", "a zip, not TorchScript")
class Broken(torch.nn.Module):
    """A valid TorchScript model whose forward throws (mode 0) or spins for ever (mode 1)."""
    def __init__(self, mode: int):
        super().__init__()
        self.mode = mode
        self.conv = torch.nn.Conv2d(1, 8, 3)
        self.fc = torch.nn.Linear(8, 10)
    def forward(self, x):
        y = self.conv(x)
        if self.mode == 0 and bool(y.sum() > -1e30):
            raise RuntimeError("forward always throws")
        # Never false for finite inputs.
        while self.mode == 1 and bool(y.abs().sum() >= 0):
            y = y * 1.0
        return self.fc(y.mean((2, 3)))
torch.jit.script(Broken(0)).save(os.path.join(d, "throws.pt"))
torch.jit.script(Broken(1)).save(os.path.join(d, "hangs.pt"))
torch.save({"inputs": torch.randn(64, 3, 28, 28),
            "targets": torch.randint(0, 10, (64,))}, os.path.join(d, "wrong_shape.pt"))
torch.save({"inputs": torch.randn(64, 1, 28, 28),
            "targets": torch.randint(10, 20, (64,))}, os.path.join(d, "bad_labels.pt"))
PY
/usr/bin/python3 "$tmp/gen.py" "$in" || fail "generating bad inputs"
served() { prunectl model list >/dev/null || fail "server stopped serving after: $1"; }
expect_refused() {  # expect_refused WHAT PATTERN cmd...
  local what=$1 pattern=$2; shift 2
  if "$@" >"$tmp/out" 2>"$tmp/err"; then fail "$what was accepted: $(cat "$tmp/out")"; fi
  grep -qE "$pattern" "$tmp/err" || fail "$what: no /$pattern/ in: $(cat "$tmp/err")"
  check_error_text "$what" "$(cat "$tmp/err")"
  served "$what"
  echo "ok: $what -> $(head -c 160 "$tmp/err" | tr '\n' ' ')"
}
expect_failed_job() {  # expect_failed_job WHAT REASON_PATTERN create-args...
  local what=$1 pattern=$2; shift 2
  local job
  job=$(prunectl job create "$@" --json | json_field name) || fail "$what: create refused"
  wait_state "$job" FAILED 60
  prunectl job get "$job" --json >"$tmp/job.json"
  local reason
  reason=$(json_field error_reason <"$tmp/job.json")
  # A here-string, not a pipe: with pipefail, `grep -q` closing the pipe
  # early would fail the writer (SIGPIPE) on long error texts.
  grep -qE "$pattern" <<<"$reason $(json_field error <"$tmp/job.json")" ||
    fail "$what: reason '$reason' error '$(json_field error <"$tmp/job.json")'"
  check_error_text "$what" "$(json_field error <"$tmp/job.json")"
  [ "$(json_field attempt <"$tmp/job.json")" = 1 ] || echo "note: $what failed after $(json_field attempt <"$tmp/job.json") attempts"
  served "$what"
  echo "ok: $what -> FAILED $reason: $(json_field error <"$tmp/job.json" | cut -c1-120 | tr "\n" " ")"
}

# Uploads.
expect_refused "empty model" "MODEL|INVALID_ARGUMENT|empty" \
  prunectl model upload "$in/empty.pt" --name empty --input-shape 1,1,28,28
expect_refused "random bytes" MODEL_NOT_TORCHSCRIPT \
  prunectl model upload "$in/random.pt" --name junk --input-shape 1,1,28,28
expect_refused "zip that is not TorchScript" MODEL_NOT_TORCHSCRIPT \
  prunectl model upload "$in/notts.zip" --name notts --input-shape 1,1,28,28
expect_refused "empty dataset" "DATASET|INVALID_ARGUMENT|empty" \
  prunectl dataset upload "$in/empty.pt" --name empty-data

start_worker w1 --heartbeat 1 --lease-ttl 10 --reap-interval 1 --poll 0.3 --stuck-grace 2
prunectl model upload "$in/model.pt" --name tiny --input-shape 1,1,28,28 >/dev/null
prunectl dataset upload "$in/dataset.pt" --name tiny-data >/dev/null

# A model whose forward throws: accepted as TorchScript, the job fails.
if prunectl model upload "$in/throws.pt" --name throws --input-shape 1,1,28,28 2>"$tmp/err" >/dev/null; then
  expect_failed_job "forward throws" "MODEL|forward always throws" --model throws --target flops=0.5
else
  grep -qE "MODEL|forward always throws" "$tmp/err" || fail "throws: $(cat "$tmp/err")"
  echo "ok: forward throws -> refused at upload: $(head -c 160 "$tmp/err")"
fi
# A model whose forward never returns: the job's time limit fails it; the
# sandboxed engine process ignores SIGTERM (it is inside the model's loop)
# and is killed, and the same worker process takes the next job.
prunectl model upload "$in/hangs.pt" --name hangs --input-shape 1,1,28,28 >/dev/null ||
  fail "hangs.pt refused at upload"
expect_failed_job "forward never returns" JOB_TIME_LIMIT_EXCEEDED --model hangs --target flops=0.5 --time-limit 4
wait_log "$tmp/worker-w1.log" "ignored SIGTERM" 10
kill -0 "$worker_pid" || fail "worker gone after the stuck job"
grep -q "restarting the worker process" "$tmp/worker-w1.log" && fail "the worker restarted itself"
after=$(prunectl job create --model tiny --target flops=0.5 --json | json_field name)
wait_state "$after" SUCCEEDED 120
echo "ok: the same worker ran the next job"
# Datasets the model cannot use.
prunectl dataset upload "$in/wrong_shape.pt" --name wrong-shape >/dev/null ||
  fail "wrong-shape dataset refused at upload (expected a FAILED job)"
expect_failed_job "dataset of the wrong shape" DATASET_INVALID \
  --model tiny --dataset wrong-shape --target flops=0.5 --finetune-epochs 1
prunectl dataset upload "$in/bad_labels.pt" --name bad-labels >/dev/null
expect_failed_job "labels out of range" DATASET_INVALID \
  --model tiny --dataset bad-labels --target flops=0.5 --finetune-epochs 1

# Absurd targets.
expect_refused "target flops=0" "INVALID_ARGUMENT|must be in" prunectl job create --model tiny --target flops=0
expect_refused "target flops=1.5" "INVALID_ARGUMENT|must be in" prunectl job create --model tiny --target flops=1.5
expect_refused "target ratio NaN" "INVALID_ARGUMENT|must be|invalid|NaN|nan" prunectl job create --model tiny --target flops=nan
expect_refused "target ratio -0.5" "INVALID_ARGUMENT|must be in" prunectl job create --model tiny --target params=-0.5

# A declared size over the tenant's stored-bytes quota is refused before any byte.
"$build/server/pruned" admin tenant set-quota default --max-stored-bytes 1000 --database-url "$db_url" \
  >/dev/null 2>>"$tmp/admin.log" || fail "set-quota"
expect_refused "upload over the stored-bytes quota" "RESOURCE_EXHAUSTED|QUOTA_STORED_BYTES" \
  prunectl model upload "$in/model.pt" --name big --input-shape 1,1,28,28

# Tokens: a second server on the same database with --auth database.
admin() { "$build/server/pruned" admin "$@" --database-url "$db_url" 2>>"$tmp/admin.log"; }
admin tenant create alice >/dev/null
admin tenant create bob >/dev/null
tok_a=$(admin token issue --tenant alice --name ci)
tok_b=$(admin token issue --tenant bob --name ci)
tok_r=$(admin token issue --tenant bob --name doomed)
server_a=$PRUNE_SERVER
port2=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export PRUNE_SERVER=127.0.0.1:$port2
"$build/server/pruned" serve --database-url "$db_url" --listen "$PRUNE_SERVER" --auth database \
  --token-cache-seconds 0 >"$tmp/pruned-db-auth.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 150); do prunectl --token "$tok_a" model list >/dev/null 2>&1 && break; sleep 0.2; done
served() { prunectl --token "$tok_a" model list >/dev/null || fail "auth server stopped serving after: $1"; }
expect_refused "missing token" UNAUTHENTICATED prunectl model list
expect_refused "malformed token" UNAUTHENTICATED prunectl --token nonsense model list
expect_refused "unknown token" UNAUTHENTICATED prunectl --token "prn_$(printf '0%.0s' $(seq 1 64))" model list
prunectl --token "$tok_r" model list >/dev/null || fail "fresh token refused"
rid=$(admin token list --tenant bob | awk '$2 == "doomed" {print $1}')
[ -n "$rid" ] || fail "no id for the doomed token"
admin token revoke "$rid" >/dev/null
expect_refused "revoked token" UNAUTHENTICATED prunectl --token "$tok_r" model list
model_a=$(prunectl --token "$tok_a" model upload "$in/model.pt" --name tiny-a --input-shape 1,1,28,28 --json |
  json_field name)
expect_refused "another tenant's model" "NOT_FOUND|PERMISSION_DENIED" prunectl --token "$tok_b" model get "$model_a"
model_id=${model_a##*/}
expect_refused "another tenant's model id in a job" "NOT_FOUND|PERMISSION_DENIED" \
  prunectl --token "$tok_b" job create --model "$model_id" --target flops=0.5
prunectl --token "$tok_b" model list --json | grep tiny-a >/dev/null && fail "bob sees alice's model"
export PRUNE_SERVER=$server_a
prunectl model list >/dev/null || fail "first server stopped serving"
echo "ok: all bad inputs handled"
