#!/usr/bin/env bash
# Two workers; the one running a search job is SIGKILLed mid-job. The reaper in
# the survivor requeues the expired lease (backoff 2 s after attempt 1) and the
# survivor finishes the job: one SUCCEEDED, attempt 2, and no event written by
# the dead worker after it died.
#
# usage: sigkill_worker_test.sh BUILD_DIR SOURCE_DIR
build=$1
src=$2
source "$src/tests/reliability/lib.sh"
start_server
upload_tiny_inputs --samples 2000

flags=(--heartbeat 1 --lease-ttl 4 --reap-interval 1 --poll 0.3)
start_worker wa "${flags[@]}"; pid_a=$worker_pid
start_worker wb "${flags[@]}"; pid_b=$worker_pid
job=$(prunectl job create --model tiny --dataset tiny-data --strategy amc --target flops=0.5 \
  --search-seconds 20 --max-evaluations 100000 --seed 5 --json | json_field name)
id=$(job_id "$job")
wait_state "$job" RUNNING 20
# Mid-search, after a checkpoint (every 10 evaluations).
for _ in $(seq 1 100); do
  [ -n "$(psql_q "SELECT coalesce(checkpoint_sha256,'') FROM jobs WHERE id='$id'")" ] && break
  sleep 0.2
done
[ -n "$(psql_q "SELECT coalesce(checkpoint_sha256,'') FROM jobs WHERE id='$id'")" ] || fail "no checkpoint"
owner=$(psql_q "SELECT lease_owner FROM jobs WHERE id='$id'")
case "$owner" in
  wa) victim=$pid_a; survivor=wb ;;
  wb) victim=$pid_b; survivor=wa ;;
  *) fail "unexpected lease owner '$owner'" ;;
esac
[ "$(job_field "$job" state)" = RUNNING ] || fail "job finished before the kill; make it longer"
kill -9 "$victim"
wait "$victim" 2>/dev/null || true
killed_at=$(psql_q "SELECT now()")
echo "killed $owner at $killed_at; survivor $survivor"

wait_state "$job" SUCCEEDED 70
[ "$(job_field "$job" attempt)" = 2 ] || fail "attempt $(job_field "$job" attempt), want 2"
[ "$(psql_q "SELECT count(*) FROM job_events WHERE job_id='$id' AND state IN ('succeeded','failed','cancelled')")" = 1 ] ||
  fail "not exactly one terminal event: $(psql_q "SELECT sequence,state,message FROM job_events WHERE job_id='$id'")"
# Nothing from the dead worker after its death: every event after the kill
# belongs to the survivor's attempt 2 (which starts with 'started by survivor').
first_after=$(psql_q "SELECT message FROM job_events WHERE job_id='$id' AND time > '$killed_at'
  AND message LIKE 'attempt %' ORDER BY sequence LIMIT 1")
[ "$first_after" = "attempt 2 started by $survivor" ] || fail "first claim after the kill: '$first_after'"
stray=$(psql_q "SELECT count(*) FROM job_events e WHERE job_id='$id' AND time > '$killed_at' AND sequence <
  (SELECT sequence FROM job_events WHERE job_id='$id' AND message = 'attempt 2 started by $survivor')
  AND state <> 'queued'")
[ "$stray" = 0 ] || fail "$stray events between the kill and the survivor's claim"
# The lease is cleared on completion (CHECK: lease iff running), so the owner
# of the completing attempt is read from the events and the survivor's log.
last_claim=$(psql_q "SELECT message FROM job_events WHERE job_id='$id' AND message LIKE 'attempt % started by %'
  ORDER BY sequence DESC LIMIT 1")
[ "$last_claim" = "attempt 2 started by $survivor" ] || fail "completing attempt: '$last_claim'"
[ "$(psql_q "SELECT coalesce(lease_owner,'') FROM jobs WHERE id='$id'")" = "" ] || fail "lease kept after success"
grep -q "$id attempt 2: succeeded" "$tmp/worker-$survivor.log" || fail "survivor did not report success"
grep -q "resuming the search from checkpoint" "$tmp/worker-$survivor.log" || fail "survivor did not resume"
prunectl model list >/dev/null || fail "server stopped serving"
echo "ok: killed $owner, $survivor finished attempt 2"
