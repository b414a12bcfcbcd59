#!/bin/sh
# The real pruned binary: version, migrate twice (idempotent), then serve on a
# free port and stop gracefully on SIGTERM.
#   pruned_cli_test.sh PRUNED URL_FILE
set -eu
pruned=$1
url=$(cat "$2")
log=$(mktemp)
trap 'rm -f "$log"' EXIT

"$pruned" version | grep -q '^pruned '
"$pruned" migrate --database-url "$url"
"$pruned" migrate --database-url "$url"

PRUNE_TOKEN=t0ken "$pruned" serve --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 --database-url "$url" --log-json >"$log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  grep -q 'serving prune.v1.PruneService on port' "$log" && break
  kill -0 "$pid" 2>/dev/null || { cat "$log"; echo "pruned serve exited early" >&2; exit 1; }
  sleep 0.1
done
grep -q 'serving prune.v1.PruneService on port' "$log" || { cat "$log"; exit 1; }
# --log-json: every line of ours is a JSON object (libpq NOTICEs are not ours).
if grep -v -e '^{.*}$' -e '^NOTICE: ' "$log"; then echo "non-JSON log line" >&2; exit 1; fi
kill -TERM "$pid"
status=0
wait "$pid" || status=$?
cat "$log"
[ "$status" -eq 0 ] || { echo "pruned serve exited with $status" >&2; exit 1; }
grep -q 'server stopped' "$log"
