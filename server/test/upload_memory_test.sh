#!/bin/sh
# Memory bound of uploads (label slow): pruned's VmRSS must not grow with the
# size of an upload. Into a real pruned backed by a private PostgreSQL it
# streams a generated warm-up upload of SIZE_MIB/4, then one of SIZE_MIB
# (default 1024), each cancelled halfway and resumed, sampling VmRSS throughout.
# The first upload pays the fixed costs (gRPC transport buffers, libpq
# results, malloc arenas of the handler threads: 30-100 MiB, whatever the
# size, and noisy from run to run); the big one may add at most FLAT_MIB
# (default 96) to that peak, and the total growth above the RSS after startup
# must stay under LIMIT_MIB (default 192). Buffering even a fifth of the
# 1 GiB file would break both.
#   upload_memory_test.sh PRUNED LOAD_CLIENT PG_SH [SIZE_MIB] [LIMIT_MIB] [FLAT_MIB]
set -eu
pruned=$1
client=$2
pg=$3
size_mib=${4:-1024}
limit_mib=${5:-192}
flat_mib=${6:-96}

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
sample_peak() {
  peak=$base
  while [ ! -e "$work/stop" ]; do
    now=$(rss_kib 2>/dev/null || echo 0)
    [ "${now:-0}" -gt "$peak" ] && peak=$now
    echo "$peak" >"$work/peak"
    sleep 0.05
  done
}
# upload MIB [BREAK_AT_MIB]: one upload under the sampler; sets `peak`.
upload() {
  rm -f "$work/stop"
  sample_peak &
  sampler=$!
  status=0
  "$client" "127.0.0.1:$port" "$@" || status=$?
  touch "$work/stop"
  wait "$sampler"
  peak=$(cat "$work/peak")
  if [ "$status" -ne 0 ]; then
    tail -n 20 "$work/pruned.log"
    echo "FAIL: the upload of $1 MiB failed ($status)"
    exit 1
  fi
}

upload $((size_mib / 4)) $((size_mib / 8))
warm=$peak
upload "$size_mib" $((size_mib / 2))
growth_mib=$(( (peak - base) / 1024 ))
added_mib=$(( (peak - warm) / 1024 ))
echo "pruned VmRSS: $((base / 1024)) MiB after startup, peak $((warm / 1024)) MiB during the" \
  "$((size_mib / 4)) MiB upload, $((peak / 1024)) MiB during the $size_mib MiB one:" \
  "+$added_mib MiB (limit $flat_mib), growth $growth_mib MiB in all (limit $limit_mib)"
if [ "$added_mib" -ge "$flat_mib" ]; then
  echo "FAIL: RSS grew by $added_mib MiB more for a 4x larger upload"
  exit 1
fi
if [ "$growth_mib" -ge "$limit_mib" ]; then
  echo "FAIL: RSS grew by $growth_mib MiB"
  exit 1
fi
echo "PASS"
