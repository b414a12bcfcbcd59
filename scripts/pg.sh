#!/usr/bin/env bash
# A private PostgreSQL 15 cluster for tests, the demo and single-machine use.
#
#   scripts/pg.sh start [DATA_DIR]   # initdb if needed, start on a free port,
#                                    # print the database URL on stdout
#   scripts/pg.sh stop  [DATA_DIR]
#   scripts/pg.sh url   [DATA_DIR]   # URL of a running cluster
#
# DATA_DIR defaults to .pgdata/ in the checkout (git-ignored). PostgreSQL
# refuses to run as root, so as root the cluster runs as the `postgres` user.
# It listens on 127.0.0.1 only, with trust authentication for local use.
set -euo pipefail

cmd=${1:-}
root=$(cd "$(dirname "$0")/.." && pwd)
data=${2:-$root/.pgdata}
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -n "$pgbin" ] || { echo "pg.sh: PostgreSQL server binaries not found (apt-get install postgresql)" >&2; exit 1; }

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  /usr/bin/python3 - <<'PY'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
PY
}

url_of() {
  local port
  port=$(sed -n 's/^port = \([0-9]*\).*/\1/p' "$data/postgresql.auto.conf" | tail -n 1)
  echo "postgresql://postgres@127.0.0.1:${port}/prune"
}

case "$cmd" in
  start)
    mkdir -p "$data"
    if [ "$(id -u)" -eq 0 ]; then
      chown postgres:postgres "$data"
      # The postgres user must be able to reach the folder.
      if ! runuser -u postgres -- test -w "$data"; then
        echo "pg.sh: user postgres cannot write $data (check parent folder permissions)" >&2
        exit 1
      fi
    fi
    if [ ! -f "$data/PG_VERSION" ]; then
      as_owner "$pgbin/initdb" -D "$data" -U postgres -A trust -E UTF8 --no-locale >"$data.initdb.log" 2>&1 ||
        { cat "$data.initdb.log" >&2; exit 1; }
    fi
    if as_owner "$pgbin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
      url_of
      exit 0
    fi
    # Restarting a cluster keeps its port, so running clients can reconnect.
    port=""
    if [ -f "$data/postgresql.auto.conf" ]; then
      port=$(sed -n 's/^port = \([0-9]*\).*/\1/p' "$data/postgresql.auto.conf" | tail -n 1)
    fi
    [ -n "$port" ] || port=$(free_port)
    cat >"$data/postgresql.auto.conf" <<CONF
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$data'
max_connections = 200
fsync = on
CONF
    [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$data/postgresql.auto.conf"
    as_owner "$pgbin/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 start >/dev/null ||
      { tail -n 20 "$data/server.log" >&2; exit 1; }
    as_owner "$pgbin/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -qtAc \
      "SELECT 1 FROM pg_database WHERE datname='prune'" | grep -q 1 ||
      as_owner "$pgbin/createdb" -h 127.0.0.1 -p "$port" -U postgres prune
    url_of
    ;;
  stop)
    if [ -f "$data/PG_VERSION" ]; then
      as_owner "$pgbin/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    ;;
  url)
    url_of
    ;;
  *)
    echo "usage: $0 start|stop|url [DATA_DIR]" >&2
    exit 2
    ;;
esac
