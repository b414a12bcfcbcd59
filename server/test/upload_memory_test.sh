#!/bin/sh
# Memory bound of uploads (label slow): streams a generated upload of SIZE_MIB
# (default 1024) into a real pruned backed by a private PostgreSQL, cancelling
# it halfway and resuming, while sampling pruned's VmRSS. Fails when the peak
# grows more than LIMIT_MIB (default 64) above the RSS after startup, or when
# the upload fails. Prints the peak and the throughput.
#   upload_memory_test.sh PRUNED LOAD_CLIENT PG_SH [SIZE_MIB] [LIMIT_MIB]
set -eu
pruned=$1
client=$2
pg=$3
size_mib=${4:-1024}
limit_mib=${5:-64}

work=$(mktemp -d /tmp/prune-upload-memory.XXXXXX)
chmod 755 "$work"  # pg.sh runs the cluster as `postgres`
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  "$pg" stop "$work/pg" >/dev/null 2>&1 || true
  rm -rf "$work"  # the cluster and its 1 GiB of chunks
}
trap cleanup EXIT INT TERM

url=$("$pg" start "$work/pg")
"$pruned" serve --auth none --listen 127.0.0.1:0 --metrics-listen off --database-url "$url" \
  --max-upload-bytes $((4 * 1024 * 1024 * 1024)) >"$work/pruned.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  grep 'serving prune.v1.PruneService on port' "$work/pruned.log" >/dev/null 2>&1 && break
  sleep 0.1
done
port=$(sed -n 's/.*serving prune.v1.PruneService on port \([0-9]*\).*/\1/p' "$work/pruned.log")
[ -n "$port" ] || { cat "$work/pruned.log"; echo "FAIL: pruned did not start"; exit 1; }

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$pid/status"; }
sleep 1
base=$(rss_kib)
# Sampler: the highest VmRSS seen, every 50 ms, until the stop file appears.
(
  peak=$base
  while [ ! -e "$work/stop" ]; do
    now=$(rss_kib 2>/dev/null || echo 0)
    [ "${now:-0}" -gt "$peak" ] && peak=$now
    echo "$peak" >"$work/peak"
    sleep 0.05
  done
) &
sampler=$!

status=0
"$client" "127.0.0.1:$port" "$size_mib" $((size_mib / 2)) || status=$?
touch "$work/stop"
wait "$sampler"
peak=$(cat "$work/peak")
growth_mib=$(( (peak - base) / 1024 ))
echo "pruned VmRSS: $((base / 1024)) MiB after startup, peak $((peak / 1024)) MiB," \
  "growth $growth_mib MiB (limit $limit_mib MiB) for a $size_mib MiB upload"
if [ "$status" -ne 0 ]; then
  tail -n 20 "$work/pruned.log"
  echo "FAIL: the upload failed ($status)"
  exit 1
fi
if [ "$growth_mib" -ge "$limit_mib" ]; then
  echo "FAIL: RSS grew by $growth_mib MiB"
  exit 1
fi
echo "PASS"
