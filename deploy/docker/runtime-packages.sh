#!/usr/bin/env bash
# Prints the Debian/Ubuntu packages that own the shared libraries the given
# binaries load (per ldd), one per line, sorted. Runs in an image build stage
# where the -dev packages are installed; the runtime stage installs exactly
# this list, so runtime images carry the libraries and nothing else.
# Libraries no package owns (e.g. an unpacked libtorch) are reported on stderr;
# the image copies those itself.
set -euo pipefail
[ "$#" -ge 1 ] || { echo "usage: $0 BINARY..." >&2; exit 2; }

libs=$(mktemp)
owners=$(mktemp)
trap 'rm -f "$libs" "$owners"' EXIT

for binary in "$@"; do
  if ldd "$binary" | grep -q 'not found'; then
    echo "runtime-packages: $binary has unresolved libraries:" >&2
    ldd "$binary" | grep 'not found' >&2
    exit 1
  fi
  ldd "$binary" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }'
done | sort -u > "$libs"

# dpkg registers some libraries under /lib and others under /usr/lib; on a
# merged-/usr system ldd may print either, so ask about every spelling at once
# (one dpkg-query call: each call reads the whole file database).
while read -r lib; do
  real=$(readlink -f "$lib")
  printf '%s\n' "$lib" "$real" "${lib#/usr}" "/usr$lib" "${real#/usr}" "/usr$real"
done < "$libs" | sort -u | xargs dpkg-query -S 2>/dev/null |
  grep -v '^diversion' | sed 's/^\([^:,]*\)[^ ]* \(\/.*\)$/\2 \1/' > "$owners" || true

while read -r lib; do
  real=$(readlink -f "$lib")
  found=""
  for candidate in "$lib" "$real" "${lib#/usr}" "/usr$lib" "${real#/usr}" "/usr$real"; do
    found=$(awk -v p="$candidate" '$1 == p { print $2; exit }' "$owners")
    [ -n "$found" ] && break
  done
  if [ -n "$found" ]; then
    echo "$found"
  else
    echo "runtime-packages: no package owns $lib" >&2
  fi
done < "$libs" | sort -u
