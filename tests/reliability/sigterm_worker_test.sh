#!/usr/bin/env bash
# SIGTERM drains a worker: it releases its running job back to QUEUED without
# burning an attempt (attempt goes back to 0), exits, and a new worker resumes
# the search from the checkpoint in Postgres and finishes the job (attempt 1).
#
# usage: sigterm_worker_test.sh BUILD_DIR SOURCE_DIR
build=$1
src=$2
source "$src/tests/reliability/lib.sh"
start_server
upload_tiny_inputs --samples 2000

flags=(--heartbeat 1 --lease-ttl 4 --reap-interval 1 --poll 0.3)
start_worker w1 "${flags[@]}"; pid_1=$worker_pid
job=$(prunectl job create --model tiny --dataset tiny-data --strategy amc --target flops=0.5 \
  --search-seconds 20 --max-evaluations 100000 --seed 5 --json | json_field name)
id=$(job_id "$job")
wait_state "$job" RUNNING 20
[ "$(job_field "$job" attempt)" = 1 ] || fail "first claim: attempt $(job_field "$job" attempt)"
# Wait for a checkpoint (every 10 evaluations) before draining.
for _ in $(seq 1 100); do
  [ -n "$(psql_q "SELECT coalesce(checkpoint_sha256,'') FROM jobs WHERE id='$id'")" ] && break
  sleep 0.2
done
[ -n "$(psql_q "SELECT coalesce(checkpoint_sha256,'') FROM jobs WHERE id='$id'")" ] || fail "no checkpoint"
[ "$(job_field "$job" state)" = RUNNING ] || fail "job finished before SIGTERM; make it longer"
kill -TERM "$pid_1"
for _ in $(seq 1 100); do kill -0 "$pid_1" 2>/dev/null || break; sleep 0.2; done
kill -0 "$pid_1" 2>/dev/null && fail "worker did not exit within 20 s of SIGTERM"
wait "$pid_1" || fail "drained worker exited with status $?"
[ "$(job_field "$job" state)" = QUEUED ] || fail "after SIGTERM: state $(job_field "$job" state)"
[ "$(job_field "$job" attempt)" = 0 ] || fail "attempt burned: $(job_field "$job" attempt)"
[ "$(psql_q "SELECT coalesce(lease_owner,'') FROM jobs WHERE id='$id'")" = "" ] || fail "lease kept"
grep -q "$id attempt 1: released" "$tmp/worker-w1.log" || fail "w1 did not log the release"

start_worker w2 "${flags[@]}"
wait_state "$job" SUCCEEDED 60
[ "$(job_field "$job" attempt)" = 1 ] || fail "attempt $(job_field "$job" attempt), want 1"
grep -q "resuming the search from checkpoint" "$tmp/worker-w2.log" || fail "w2 did not resume"
[ "$(psql_q "SELECT count(*) FROM job_events WHERE job_id='$id' AND state='succeeded'")" = 1 ] ||
  fail "not exactly one succeeded event"
echo "ok: released without burning an attempt; w2 resumed and finished it"
