#!/bin/sh
# TLS and mutual TLS between the real pruned and prunectl, with a throwaway
# CA, server certificate (SAN 127.0.0.1, localhost) and client certificate
# made by openssl in a temporary folder.
#   tls_test.sh PRUNED PRUNECTL PG_URL_FILE
set -eu
pruned=$1
prunectl=$2
url=$(cat "$3")

work=$(mktemp -d /tmp/prune-tls-test.XXXXXX)
pid=
stop_server() {
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    pid=
  fi
}
trap 'stop_server; rm -rf "$work"' EXIT INT TERM
fail() { echo "FAIL: $*"; [ -f "$work/pruned.log" ] && tail -n 20 "$work/pruned.log"; exit 1; }

# name, subject, extensions, signing CA (empty: self-signed CA)
make_cert() {
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$work/$1.key" -out "$work/$1.csr" -subj "/CN=$2" 2>/dev/null
  printf '%s\n' "$3" >"$work/$1.ext"
  if [ -z "$4" ]; then
    openssl x509 -req -in "$work/$1.csr" -signkey "$work/$1.key" -out "$work/$1.pem" -days 1 \
      -extfile "$work/$1.ext" 2>/dev/null
  else
    openssl x509 -req -in "$work/$1.csr" -CA "$work/$4.pem" -CAkey "$work/$4.key" \
      -CAcreateserial -out "$work/$1.pem" -days 1 -extfile "$work/$1.ext" 2>/dev/null
  fi
}
make_cert ca prune-test-ca "basicConstraints=critical,CA:TRUE
keyUsage=critical,keyCertSign,cRLSign" ""
make_cert other-ca other-ca "basicConstraints=critical,CA:TRUE
keyUsage=critical,keyCertSign,cRLSign" ""
make_cert server localhost "subjectAltName=IP:127.0.0.1,DNS:localhost
extendedKeyUsage=serverAuth" ca
make_cert client prune-test-client "extendedKeyUsage=clientAuth" ca
make_cert stranger stranger "extendedKeyUsage=clientAuth" other-ca

start_server() {
  "$pruned" serve --auth none --listen 127.0.0.1:0 --metrics-listen off --database-url "$url" \
    --tls-cert "$work/server.pem" --tls-key "$work/server.key" "$@" >"$work/pruned.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do
    grep 'serving prune.v1.PruneService on port' "$work/pruned.log" >/dev/null 2>&1 && break
    sleep 0.1
  done
  port=$(sed -n 's/.*serving prune.v1.PruneService on port \([0-9]*\).*/\1/p' "$work/pruned.log")
  [ -n "$port" ] || fail "pruned did not start"
}

# expect_fail REASON_PATTERN prunectl-args...: fails, and stderr matches.
expect_fail() {
  pattern=$1
  shift
  if "$prunectl" --server "127.0.0.1:$port" --timeout 5 "$@" model list >"$work/out" 2>&1; then
    fail "prunectl $* should have failed"
  fi
  grep -E "$pattern" "$work/out" >/dev/null || { cat "$work/out"; fail "prunectl $*: expected $pattern"; }
}

# 1. TLS: the right CA works, plaintext and a wrong CA do not.
start_server
grep 'TLS' "$work/pruned.log" >/dev/null || fail "no TLS in the startup log"
"$prunectl" --server "127.0.0.1:$port" --tls-ca "$work/ca.pem" model list >/dev/null ||
  fail "TLS with the right CA"
"$prunectl" --server "localhost:$port" --tls-ca "$work/ca.pem" model list >/dev/null ||
  fail "TLS by host name"
"$prunectl" --server "127.0.0.1:$port" --tls-ca "$work/ca.pem" --tls-server-name localhost \
  model list >/dev/null || fail "TLS with --tls-server-name"
expect_fail UNAVAILABLE
expect_fail UNAVAILABLE --insecure
expect_fail UNAVAILABLE --tls-ca "$work/other-ca.pem"
expect_fail UNAVAILABLE --tls-ca "$work/ca.pem" --tls-server-name not-the-server
expect_fail TLS_CONFIG_INVALID --tls-ca "$work/ca.pem" --insecure
expect_fail TLS_CONFIG_INVALID --tls-ca "$work/nonexistent.pem"
expect_fail TLS_CONFIG_INVALID --tls-ca "$work/ca.pem" --tls-cert "$work/client.pem"
stop_server

# 2. Mutual TLS: a client certificate signed by the client CA is required.
start_server --tls-client-ca "$work/ca.pem"
grep 'mutual TLS' "$work/pruned.log" >/dev/null || fail "no mutual TLS in the startup log"
"$prunectl" --server "127.0.0.1:$port" --tls-ca "$work/ca.pem" --tls-cert "$work/client.pem" \
  --tls-key "$work/client.key" model list >/dev/null || fail "mTLS with a client certificate"
expect_fail UNAVAILABLE --tls-ca "$work/ca.pem"
expect_fail UNAVAILABLE --tls-ca "$work/ca.pem" --tls-cert "$work/stranger.pem" \
  --tls-key "$work/stranger.key"
expect_fail UNAVAILABLE
stop_server

# 3. Half a configuration is refused at startup with the reason.
if "$pruned" serve --auth none --listen 127.0.0.1:0 --metrics-listen off --database-url "$url" \
  --tls-cert "$work/server.pem" >"$work/half.log" 2>&1; then
  fail "pruned started with --tls-cert alone"
fi
grep TLS_CONFIG_INVALID "$work/half.log" >/dev/null || { cat "$work/half.log"; fail "no reason"; }
echo PASS
