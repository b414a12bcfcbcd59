#!/usr/bin/env bash
# PostgreSQL is restarted (on the same port) while a search job runs. The job
# still completes, and neither the server nor the worker needs a restart.
#
# usage: postgres_restart_test.sh BUILD_DIR SOURCE_DIR
build=$1
src=$2
source "$src/tests/reliability/lib.sh"
start_server
upload_tiny_inputs --samples 2000
# A lease longer than the outage, so the job is not rescued while PG is down.
start_worker w1 --heartbeat 1 --lease-ttl 15 --reap-interval 1 --poll 0.3
job=$(prunectl job create --model tiny --dataset tiny-data --strategy amc --target flops=0.5 \
  --search-seconds 20 --max-evaluations 100000 --seed 5 --json | json_field name)
wait_state "$job" RUNNING 20
sleep 2
[ "$(job_field "$job" state)" = RUNNING ] || fail "job finished before the restart; make it longer"
health() { prunectl health "$@" 2>/dev/null || true; }
[ "$(health)" = SERVING ] || fail "readiness not SERVING before the outage: $(health)"
"$src/scripts/pg.sh" stop "$tmp/pg"
# Callers get UNAVAILABLE at once, not a hang.
t0=$(date +%s%N)
prunectl model list >/dev/null 2>"$tmp/outage.err" && fail "server answered with PostgreSQL down"
grep UNAVAILABLE "$tmp/outage.err" >/dev/null || fail "no UNAVAILABLE during the outage: $(cat "$tmp/outage.err")"
echo "ok: UNAVAILABLE after $(( ($(date +%s%N) - t0) / 1000000 )) ms during the outage"
# Readiness follows the database (checked every 2 s); liveness does not.
for _ in $(seq 1 40); do [ "$(health)" = NOT_SERVING ] && break; sleep 0.25; done
[ "$(health)" = NOT_SERVING ] || fail "readiness still $(health) with PostgreSQL down"
[ "$(health --service '')" = SERVING ] || fail "liveness not SERVING during the outage"
echo "ok: readiness NOT_SERVING, liveness SERVING during the outage"
sleep 1
url2=$("$src/scripts/pg.sh" start "$tmp/pg")
[ "$url2" = "$db_url" ] || fail "PostgreSQL came back at $url2, was $db_url"
for _ in $(seq 1 40); do [ "$(health)" = SERVING ] && break; sleep 0.25; done
[ "$(health)" = SERVING ] || fail "readiness still $(health) after PostgreSQL came back"
echo "ok: readiness SERVING again"
wait_state "$job" SUCCEEDED 70
prunectl model list >/dev/null || fail "server does not serve after the restart"
kill -0 "$server_pid" || fail "server died"
kill -0 "$worker_pid" || fail "worker died"
# The worker still takes new jobs.
job2=$(prunectl job create --model tiny --strategy uniform --target flops=0.5 --json | json_field name)
wait_state "$job2" SUCCEEDED 30
echo "ok: job $(job_field "$job" state) at attempt $(job_field "$job" attempt) across a PostgreSQL restart"
