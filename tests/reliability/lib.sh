# Shared set-up for the reliability tests: a private PostgreSQL, the real
# `pruned` server, helpers to start `prune-worker`s and to query the database.
# Source it with build=BUILD_DIR src=SOURCE_DIR set; it sets tmp, db_url,
# PRUNE_SERVER and a cleanup trap.
set -euo pipefail
build=$(cd "$build" && pwd)
src=$(cd "$src" && pwd)
tmp=$(mktemp -d "$build/reliability.XXXXXX")
chmod 755 "$tmp"  # the postgres user must reach the cluster folder
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  "$src/scripts/pg.sh" stop "$tmp/pg" || true
  if [ "${keep:-0}" != 1 ]; then rm -rf "$tmp"; else echo "kept $tmp" >&2; fi
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  keep=1
  for f in "$tmp"/*.log; do echo "--- $f" >&2; tail -n 25 "$f" >&2 || true; done
  exit 1
}
now() { date +%s.%N; }
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
psql_q() {  # psql_q SQL: unaligned tuples only
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$pgbin/psql" "$db_url" -qtAX -v ON_ERROR_STOP=1 -c "$1"
  else
    "$pgbin/psql" "$db_url" -qtAX -v ON_ERROR_STOP=1 -c "$1"
  fi
}
prunectl() { "$build/client/prunectl" "$@"; }
json_field() {  # json_field FIELD < json
  /usr/bin/python3 -c 'import json,sys; v=json.load(sys.stdin).get(sys.argv[1], ""); print(v)' "$1"
}
job_field() { prunectl job get "$1" --json | json_field "$2"; }
start_server() {
  "$build/server/pruned" serve --database-url "$db_url" --listen "$PRUNE_SERVER" "$@" \
    >>"$tmp/pruned.log" 2>&1 &
  server_pid=$!
  pids+=($server_pid)
  for _ in $(seq 1 150); do
    prunectl model list >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  fail "server did not come up"
}
upload_tiny_inputs() {  # upload_tiny_inputs [make_tiny_inputs flags]: model "tiny", dataset "tiny-data"
  /usr/bin/python3 "$src/tests/tools/make_tiny_inputs.py" "$tmp/inputs" "$@" >/dev/null
  prunectl model upload "$tmp/inputs/model.pt" --name tiny --input-shape 1,1,28,28 >/dev/null
  prunectl dataset upload "$tmp/inputs/dataset.pt" --name tiny-data >/dev/null
}
start_worker() {  # start_worker NAME [flags...]; sets worker_pid
  local name=$1; shift
  "$build/workers/runner/prune-worker" --database-url "$db_url" --work-dir "$tmp/work-$name" \
    --worker-id "$name" --metrics-listen off "$@" >"$tmp/worker-$name.log" 2>&1 &
  worker_pid=$!
  pids+=($worker_pid)
}
wait_state() {  # wait_state JOB STATE SECONDS
  local deadline=$(( $(date +%s) + $3 )) s
  while [ "$(date +%s)" -lt "$deadline" ]; do
    s=$(job_field "$1" state 2>/dev/null || true)
    [ "$s" = "$2" ] && return 0
    sleep 0.3
  done
  fail "job $1 not $2 after $3 s (state $s)"
}
wait_log() {  # wait_log FILE PATTERN SECONDS
  local deadline=$(( $(date +%s) + $3 ))
  while [ "$(date +%s)" -lt "$deadline" ]; do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.2
  done
  fail "no '$2' in $1 after $3 s"
}
check_error_text() {  # check_error_text WHAT TEXT: short, no stack frames, addresses or paths
  local what=$1 text=$2
  [ "${#text}" -le 1100 ] || fail "$what: error text of ${#text} characters"
  if grep -qE 'frame #|Exception raised from|0x[0-9a-f]{6,}|/tmp/|/usr/|/build/|/work/|\.so\b' <<<"$text"; then
    fail "$what: error text leaks frames, addresses or paths: $text"
  fi
}
job_id() {  # uuid of a job resource name (jobs/UUID)
  echo "${1##*/}"
}

db_url=$("$src/scripts/pg.sh" start "$tmp/pg")
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export PRUNE_SERVER=127.0.0.1:$port
