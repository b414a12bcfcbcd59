#!/bin/sh
# The real pruned binary: version, migrate twice (idempotent), `pruned admin`
# (tenant, quota, token issue/list/revoke; with PRUNECTL a real call with the
# issued and the revoked token against `serve --auth database`), then serve on
# a free port and stop gracefully on SIGTERM.
#   pruned_cli_test.sh PRUNED URL_FILE [PRUNECTL]
set -eu
pruned=$1
url=$(cat "$2")
prunectl=${3:-}
log=$(mktemp)
dblog=$(mktemp)
trap 'rm -f "$log" "$dblog"' EXIT

"$pruned" version | grep '^pruned ' >/dev/null
"$pruned" migrate --database-url "$url"
"$pruned" migrate --database-url "$url"

# --- pruned admin (the cluster outlives test runs: a fresh tenant each time)
fail() { echo "FAIL: $*" >&2; exit 1; }
tenant="cli-$$-$(date +%s)"
"$pruned" admin tenant create "$tenant" --database-url "$url" | grep -x "$tenant" >/dev/null
if "$pruned" admin tenant create "$tenant" --database-url "$url" 2>/dev/null; then
  fail "a duplicate tenant was created"
fi
if "$pruned" admin tenant create "Bad Name" --database-url "$url" 2>/dev/null; then
  fail "an invalid tenant name was accepted"
fi
"$pruned" admin tenant set-quota "$tenant" --max-queued-jobs 5 --max-running-jobs 2 \
  --max-stored-bytes unlimited --database-url "$url" >"$dblog"
grep -q 'max_queued_jobs=5' "$dblog" && grep -q 'max_running_jobs=2' "$dblog" &&
  grep -q 'max_stored_bytes=unlimited' "$dblog" || { cat "$dblog"; fail "set-quota"; }
if "$pruned" admin tenant set-quota "$tenant" --max-queued-jobs -3 --database-url "$url" 2>/dev/null; then
  fail "a negative quota was accepted"
fi
PRUNE_DATABASE_URL="$url" "$pruned" admin tenant list | grep "^$tenant	" | grep 'max_queued_jobs=5' >/dev/null ||
  fail "tenant list (PRUNE_DATABASE_URL)"
token=$("$pruned" admin token issue --tenant "$tenant" --name ci --database-url "$url")
echo "$token" | grep -Eqx 'prn_[0-9a-f]{64}' || fail "issued token looks like '$token'"
if "$pruned" admin token issue --tenant no-such-tenant --name ci --database-url "$url" 2>/dev/null; then
  fail "a token was issued for a missing tenant"
fi
"$pruned" admin token list --tenant "$tenant" --database-url "$url" >"$dblog"
secret=${token#prn_}
if grep -q "$secret" "$dblog"; then fail "token list shows the secret"; fi
id=$(awk -F '\t' '$2 == "ci" { print $1 }' "$dblog")
[ -n "$id" ] || { cat "$dblog"; fail "the token is not listed"; }
awk -F '\t' '$2 == "ci" { exit $4 == "-" ? 0 : 1 }' "$dblog" || fail "a new token is listed as revoked"

if [ -n "$prunectl" ]; then
  PRUNE_TOKEN= "$pruned" serve --auth database --token-cache-seconds 0 --listen 127.0.0.1:0 \
    --metrics-listen off --database-url "$url" >"$log" 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do
    grep -q 'serving prune.v1.PruneService on port' "$log" && break
    kill -0 "$pid" 2>/dev/null || { cat "$log"; fail "pruned serve --auth database exited early"; }
    sleep 0.1
  done
  port=$(sed -n 's/.*serving prune.v1.PruneService on port \([0-9]*\).*/\1/p' "$log" | head -n 1)
  [ -n "$port" ] || { cat "$log"; fail "no port"; }
  PRUNE_TOKEN= "$prunectl" --server "127.0.0.1:$port" --token "$token" model list >/dev/null ||
    { cat "$log"; fail "a live token was refused"; }
  if PRUNE_TOKEN= "$prunectl" --server "127.0.0.1:$port" model list >/dev/null 2>&1; then
    fail "a call without a token was served"
  fi
  "$pruned" admin token revoke "$id" --database-url "$url" | grep "^$id	revoked " >/dev/null
  if PRUNE_TOKEN= "$prunectl" --server "127.0.0.1:$port" --token "$token" model list >/dev/null 2>&1; then
    fail "a revoked token was accepted"
  fi
  kill -TERM "$pid"
  wait "$pid" || { cat "$log"; fail "pruned serve --auth database did not stop cleanly"; }
  grep -q 'TOKEN_REVOKED' "$log" || { cat "$log"; fail "no TOKEN_REVOKED in the log"; }
else
  "$pruned" admin token revoke "$id" --database-url "$url" | grep "^$id	revoked " >/dev/null
fi
"$pruned" admin token list --tenant "$tenant" --database-url "$url" >"$dblog"
awk -F '\t' '$2 == "ci" { exit $4 != "-" ? 0 : 1 }' "$dblog" || { cat "$dblog"; fail "not revoked"; }
if "$pruned" admin token revoke 00000000-0000-0000-0000-000000000000 --database-url "$url" 2>/dev/null; then
  fail "revoking an unknown token succeeded"
fi

# Contradicting auth flags stop pruned before it serves.
if "$pruned" serve --auth none --token x --database-url "$url" --metrics-listen off >/dev/null 2>&1; then
  fail "--auth none --token x was accepted"
fi
if PRUNE_TOKEN= "$pruned" serve --auth static --database-url "$url" --metrics-listen off >/dev/null 2>&1; then
  fail "--auth static without a token was accepted"
fi

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
