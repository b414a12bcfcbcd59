#!/usr/bin/env bash
# Load: N (default 50) concurrent clients against one pruned and two workers,
# loopback only. Each client uploads the tiny model under its own name,
# creates a job and watches it to its end (tests/reliability/load_client.cc).
# Passes when no RPC failed, every job SUCCEEDED exactly once at attempt 1
# and nothing is missing in the database. Prints the client's JSON summary
# (p50/p99 CreateJob latency, upload throughput); with RESULTS=FILE also
# writes it there (docs/BENCHMARKS.md quotes such a run).
#
# usage: load_test.sh BUILD_DIR SOURCE_DIR [N]
build=$1
src=$2
n=${3:-50}
source "$src/tests/reliability/lib.sh"
start_server
/usr/bin/python3 "$src/tests/tools/make_tiny_inputs.py" "$tmp/inputs" >/dev/null
# The API under concurrent clients is the subject, not the job sandbox (its
# ~2 s process start per job would dominate): workers run jobs in-process.
flags=(--heartbeat 1 --lease-ttl 10 --reap-interval 1 --poll 0.3 --sandbox off)
start_worker wa "${flags[@]}"
start_worker wb "${flags[@]}"
"$build/tests/reliability/load_client" "$PRUNE_SERVER" "$tmp/inputs/model.pt" "$n" \
  >"$tmp/summary.json" 2>"$tmp/load_client.log" || fail "load client: $(tail -5 "$tmp/load_client.log")"
cat "$tmp/summary.json"
[ -n "${RESULTS:-}" ] && cp "$tmp/summary.json" "$RESULTS"
[ "$(psql_q "SELECT count(*) FROM models")" = "$n" ] || fail "not $n models stored"
summary=$(psql_q "SELECT state, attempt, count(*) FROM jobs GROUP BY 1, 2")
[ "$summary" = "succeeded|1|$n" ] || fail "jobs by state and attempt: $summary"
bad=$(psql_q "SELECT count(*) FROM (SELECT j.id FROM jobs j LEFT JOIN job_events e
  ON e.job_id = j.id AND e.state = 'succeeded' GROUP BY j.id HAVING count(e.job_id) <> 1) x")
[ "$bad" = 0 ] || fail "$bad jobs without exactly one succeeded event"
[ "$(psql_q "SELECT count(*) FROM job_artifacts WHERE kind='pruned_model'")" = "$n" ] ||
  fail "not $n pruned models stored"
kill -0 "$server_pid" || fail "server died"
echo "ok: $n clients, every job succeeded exactly once"
