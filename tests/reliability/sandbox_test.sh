#!/usr/bin/env bash
# The job sandbox through the real stack: models that allocate without bound,
# crash LibTorch or spin each fail their own job with a clear, short reason,
# in seconds and on the first attempt; the same worker process (same pid, no
# restart) then runs the next job, and the engine process never used much
# more memory than its limit.
#
# usage: sandbox_test.sh BUILD_DIR SOURCE_DIR
build=$1
src=$2
source "$src/tests/reliability/lib.sh"
start_server --auth none
upload_tiny_inputs
in=$tmp/inputs
cat >"$tmp/gen.py" <<'PY'
import os, subprocess, sys
import torch
d = sys.argv[1]
class Hostile(torch.nn.Module):
    """mode 0: asks for 4 TiB at once; 1: allocates 64 MiB blocks without end;
    2: an operation that crashes LibTorch 1.13 (searchsorted with a sorter
    index out of range reads wild memory)."""
    def __init__(self, mode: int):
        super().__init__()
        self.mode = mode
        self.conv = torch.nn.Conv2d(1, 8, 3)
        self.fc = torch.nn.Linear(8, 10)
    def forward(self, x):
        y = self.conv(x)
        extra = torch.zeros(1)
        if self.mode == 0:
            extra = torch.zeros(1 << 40)[:1]
        if self.mode == 1:
            keep = [torch.zeros(1)]
            for i in range(100000):
                keep.append(torch.full([1 << 24], float(i)))  # not a constant: a new 64 MiB each time
            extra = keep[-1][:1]
        if self.mode == 2:
            index = torch.searchsorted(torch.ones(3), x.flatten()[:2],
                                       sorter=torch.tensor([1000000000, 0, 1]))
            extra = index[:1].float()
        return self.fc(y.mean((2, 3))) + extra.sum()
for mode, name in [(0, "huge"), (1, "grows"), (2, "crashes")]:
    torch.jit.script(Hostile(mode)).save(os.path.join(d, name + ".pt"))
# Does this LibTorch still crash on mode 2? (A fixed one raises instead.)
probe = subprocess.run([sys.executable, "-c",
    "import torch; torch.searchsorted(torch.ones(3), torch.ones(2), "
    "sorter=torch.tensor([1000000000, 0, 1]))"], capture_output=True)
print("crashes" if probe.returncode < 0 else "raises")
PY
crash_kind=$(/usr/bin/python3 "$tmp/gen.py" "$in") || fail "generating hostile models"

limit_gib=1
start_worker w1 --job-memory-limit "$limit_gib" --heartbeat 1 --lease-ttl 10 --reap-interval 1 \
  --poll 0.3 --stuck-grace 4
pid_before=$worker_pid
for name in huge grows crashes; do
  prunectl model upload "$in/$name.pt" --name "$name" --input-shape 1,1,28,28 >/dev/null ||
    fail "$name.pt refused at upload"
done

check_job_error_text() {  # the common checks, plus no library names and an error id
  local what=$1 text=$2
  check_error_text "$what" "$text"
  grep -qE '\.so' <<<"$text" && fail "$what: error text names a library: $text"
  grep -qE 'error id [0-9a-f]{12}' <<<"$text" || fail "$what: no error id in: $text"
}
expect_failed() {  # expect_failed WHAT REASON SECONDS create-args...; sets job_text
  local what=$1 reason=$2 seconds=$3; shift 3
  local job started
  started=$(date +%s)
  job=$(prunectl job create "$@" --json | json_field name) || fail "$what: create refused"
  wait_state "$job" FAILED "$seconds"
  prunectl job get "$job" --json >"$tmp/job.json"
  [ "$(json_field error_reason <"$tmp/job.json")" = "$reason" ] ||
    fail "$what: reason $(json_field error_reason <"$tmp/job.json"), want $reason: $(json_field error <"$tmp/job.json")"
  [ "$(json_field attempt <"$tmp/job.json")" = 1 ] ||
    fail "$what: failed after $(json_field attempt <"$tmp/job.json") attempts (want 1: not retried)"
  job_text=$(json_field error <"$tmp/job.json")
  check_job_error_text "$what" "$job_text"
  echo "ok: $what -> FAILED $reason in $(( $(date +%s) - started )) s: $job_text"
}

expect_failed "4 TiB allocation" JOB_MEMORY_LIMIT_EXCEEDED 60 --model huge --target flops=0.5
grep -q "limit of 1.0 GiB" <<<"$job_text" || fail "the memory error does not give the limit: $job_text"
expect_failed "allocation without bound" JOB_MEMORY_LIMIT_EXCEEDED 60 --model grows --target flops=0.5
# The engine process's peak resident memory: its limit counts private memory
# (RLIMIT_DATA); LibTorch's code pages come on top. 512 MiB of margin.
peak_mib=$(grep -o 'peak memory [0-9.]* [MG]iB' "$tmp/worker-w1.log" | awk '
  {v=$3; if ($4 == "GiB") v*=1024; if (v > m) m = v} END {printf "%d", m}')
echo "engine process peak memory: $peak_mib MiB (limit $((limit_gib * 1024)) MiB)"
[ "$peak_mib" -le $((limit_gib * 1024 + 512)) ] || fail "peak memory $peak_mib MiB over the limit + 512 MiB"
[ "$peak_mib" -ge 300 ] || fail "peak memory $peak_mib MiB: the growing model did not grow?"
if [ "$crash_kind" = crashes ]; then
  expect_failed "a model that crashes LibTorch" MODEL_CRASHED 60 --model crashes --target flops=0.5
  grep -q SIGSEGV <<<"$job_text" || fail "the crash does not name its signal: $job_text"
else
  echo "note: this LibTorch no longer crashes on the probe operation; crash case skipped"
fi
expect_failed "a search past its wall-clock time limit" JOB_TIME_LIMIT_EXCEEDED 60 --model tiny --target flops=0.5 \
  --time-limit 3 --strategy amc --dataset tiny-data --max-evaluations 100000

# The same worker process goes on: same pid, no restart, the next job runs.
kill -0 "$pid_before" || fail "the worker died"
grep -q "restarting the worker process" "$tmp/worker-w1.log" && fail "the worker restarted itself"
good=$(prunectl job create --model tiny --dataset tiny-data --target flops=0.5 --json | json_field name)
wait_state "$good" SUCCEEDED 120
prunectl job download "$good" --model-out "$tmp/pruned.pt" --report-out "$tmp/report.json" >/dev/null
/usr/bin/python3 - "$tmp/report.json" <<'PY' || fail "report resources"
import json, sys
r = json.load(open(sys.argv[1]))["resources"]
assert r["sandboxed"] is True, r
assert r["peak_memory_bytes"] > 10 * 2**20, r
assert r["cpu_seconds"] > 0, r
assert r["memory_limit_bytes"] == 2**30, r
assert r["network_isolation"] in ("network namespace and seccomp", "seccomp"), r
print("ok: report resources", r)
PY
[ "$(ps -o pid= -p "$pid_before" | tr -d ' ')" = "$pid_before" ] || fail "worker pid changed"
echo "ok: the same worker ran the next job"
