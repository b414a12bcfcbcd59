#!/usr/bin/env bash
# Job throughput with and without the job sandbox (docs/BENCHMARKS.md, "Job
# sandbox cost"): one worker drains N tiny jobs (the tests' 28x28 residual
# CNN, uniform flops=0.5, no dataset) with --sandbox on, then off, then on,
# then off again, so that machine drift hits both modes alike. Prints jobs per
# minute per round and the seconds the child process adds to each job.
#
# usage: bench/sandbox/job_throughput.sh BUILD_DIR [N]   (N default 30)
build=$1
src=$(cd "$(dirname "$0")/../.." && pwd)
n=${2:-30}
source "$src/tests/reliability/lib.sh"
export LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2${LD_PRELOAD:+:$LD_PRELOAD}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
start_server
/usr/bin/python3 "$src/tests/tools/make_tiny_inputs.py" "$tmp/inputs" >/dev/null
prunectl model upload "$tmp/inputs/model.pt" --name tiny --input-shape 1,1,28,28 >/dev/null
declare -A total_s=([on]=0 [off]=0)
round=0
for mode in on off on off; do
  round=$((round + 1))
  for i in $(seq 1 "$n"); do
    prunectl job create --model tiny --strategy uniform --target flops=0.5 --seed "$i" >/dev/null ||
      fail "create job"
  done
  t0=$(now)
  start_worker "r$round" --sandbox "$mode" --poll 0.05 --heartbeat 1 --lease-ttl 10
  while [ "$(psql_q "SELECT count(*) FROM jobs WHERE state IN ('queued','running')")" != 0 ]; do
    sleep 0.1
  done
  t1=$(now)
  kill "$worker_pid"
  wait "$worker_pid" 2>/dev/null || true
  failed=$(psql_q "SELECT count(*) FROM jobs WHERE state <> 'succeeded'")
  [ "$failed" = 0 ] || fail "$failed jobs did not succeed"
  psql_q "DELETE FROM job_events; DELETE FROM job_candidates; DELETE FROM job_artifacts; DELETE FROM jobs" >/dev/null
  seconds=$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')
  total_s[$mode]=$(awk -v a="${total_s[$mode]}" -v b="$seconds" 'BEGIN {print a + b}')
  awk -v r="$round" -v m="$mode" -v n="$n" -v s="$seconds" \
    'BEGIN {printf "round %d sandbox %-3s: %d jobs in %6.1f s = %5.1f jobs/min\n", r, m, n, s, 60 * n / s}'
done
awk -v n="$n" -v on="${total_s[on]}" -v off="${total_s[off]}" 'BEGIN {
  printf "sandbox on : %5.1f jobs/min\nsandbox off: %5.1f jobs/min\n", 120 * n / on, 120 * n / off
  printf "added per job: %.2f s (throughput on/off %.2f)\n", (on - off) / (2 * n), off / on }'
