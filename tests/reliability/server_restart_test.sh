#!/usr/bin/env bash
# WatchJob survives server restarts: `prunectl job watch` follows a running
# search job while pruned is stopped gracefully (SIGTERM ends the stream),
# restarted, then killed (SIGKILL breaks the connection) and restarted
# again on the same port. The watch reconnects from the last sequence number
# it printed and ends with the job: every event exactly once, in order.
#
# usage: server_restart_test.sh BUILD_DIR SOURCE_DIR
build=$1
src=$2
source "$src/tests/reliability/lib.sh"
start_server
upload_tiny_inputs --samples 2000
start_worker w1 --heartbeat 1 --lease-ttl 15 --reap-interval 1 --poll 0.3
# The job must outlast both restarts (about 8 s). AMC's default episodes can
# end its search sooner on a fast machine (7.7 s seen), so a long fine-tune
# follows the search.
job=$(prunectl job create --model tiny --dataset tiny-data --strategy amc --target flops=0.5 \
  --search-seconds 15 --max-evaluations 100000 --finetune-epochs 20 --seed 3 --json |
  json_field name)
wait_state "$job" RUNNING 20
"$build/client/prunectl" job watch "$job" --json >"$tmp/watch.out" 2>"$tmp/watch.err" &
watch_pid=$!
pids+=($watch_pid)
sleep 2
restart_server() {  # restart_server SIGNAL
  kill "-$1" "$server_pid"
  wait "$server_pid" 2>/dev/null || true
  [ "$(job_field "$job" state 2>/dev/null || echo down)" != SUCCEEDED ] || true
  kill -0 "$watch_pid" 2>/dev/null || fail "watch exited when the server got $1: $(cat "$tmp/watch.err")"
  sleep 1
  start_server
  echo "ok: server restarted after $1, watch still running"
}
restart_server TERM
sleep 2
restart_server KILL
[ "$(job_field "$job" state)" = RUNNING ] || fail "job no longer running after the restarts; make it longer"
wait "$watch_pid" || fail "watch exited $?: $(cat "$tmp/watch.err")"
/usr/bin/python3 - "$tmp/watch.out" <<'PY' || fail "watch output: $(tail -5 "$tmp/watch.out")"
import json, sys
events = [json.loads(l) for l in open(sys.argv[1]) if '"sequence"' in l]
seqs = [int(e["sequence"]) for e in events]
assert seqs == list(range(1, len(seqs) + 1)), f"sequences not 1..n once each: {seqs}"
assert events[-1]["state"] == "SUCCEEDED", events[-1]
print(f"ok: {len(seqs)} events, sequences 1..{len(seqs)} once each, last SUCCEEDED")
PY
total=$(psql_q "SELECT count(*) FROM job_events WHERE job_id = '$(job_id "$job")'")
seen=$(grep -c '"sequence"' "$tmp/watch.out")
[ "$total" = "$seen" ] || fail "database has $total events, the watch printed $seen"
grep -E "reconnect|UNAVAILABLE" "$tmp/watch.err" | head -3 || true
echo "ok: watch followed job $job across two server restarts"
