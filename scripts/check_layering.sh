#!/usr/bin/env bash
# Checks the layering rules of docs/ARCHITECTURE.md ("Layering rules"):
#   * server/, common/, client/, workers/runner/ never include LibTorch headers;
#   * they reach the engine only through its public headers prune/engine/*.h
#     (and only workers/runner/ does);
#   * common/ never includes server/, workers/ or client/ headers;
#   * client/ never includes libpq or common/db;
#   * workers/engine/ includes only the C++ / POSIX headers, LibTorch, GTest
#     and its own files;
#   * with BUILD_DIR: the built pruned and prunectl do not load LibTorch,
#     prunectl does not load libpq, and prune-engine loads none of gRPC,
#     protobuf, absl, libpq, spdlog, civetweb or OpenSSL.
# usage: scripts/check_layering.sh [SOURCE_ROOT (default: this repo)] [BUILD_DIR]
# Prints one line per violation and exits 1 if there is any.
set -euo pipefail
root=$(cd "${1:-$(dirname "$0")/..}" && pwd)
build=${2:-}
cd "$root"
# Tracked files when ROOT is the top of a git checkout; else every file
# (a scratch copy, even one inside a build folder of a checkout).
is_checkout=0
[ "$(git rev-parse --show-toplevel 2>/dev/null)" = "$root" ] && is_checkout=1

violations=0
violation() {
  echo "layering: $*"
  violations=$((violations + 1))
}

# C++ files of a folder (tracked ones when ROOT is a git checkout).
cxx_files() {
  if [ "$is_checkout" = 1 ]; then
    git ls-files -- "$1" | grep -E '\.(h|hpp|cc|cpp)$' || true
  else
    find "$1" -type f \( -name '*.h' -o -name '*.hpp' -o -name '*.cc' -o -name '*.cpp' \) | sort
  fi
}

# "file:header" for every #include of the given files.
includes() {
  grep -HE '^[[:space:]]*#[[:space:]]*include' "$@" |
    sed -n -E 's/^([^:]+):[[:space:]]*#[[:space:]]*include[[:space:]]*([<"][^>"]+[>"]).*/\1:\2/p'
}

torch_header='^[<"](torch|ATen|c10|caffe2)/'

for dir in server common client workers/runner; do
  [ -d "$dir" ] || continue
  mapfile -t files < <(cxx_files "$dir")
  [ "${#files[@]}" -gt 0 ] || continue
  while IFS= read -r hit; do
    file=${hit%%:*}
    header=${hit#*:}
    if [[ $header =~ $torch_header ]]; then
      violation "$file includes LibTorch header $header ($dir never includes LibTorch)"
    fi
    if [[ $header =~ ^[\<\"]workers/engine/ ]]; then
      violation "$file includes engine internals $header (only prune/engine/*.h is public)"
    fi
    if [[ $header =~ ^[\<\"]prune/engine/ && $dir != workers/runner ]]; then
      violation "$file includes the engine API $header (only workers/runner/ runs the engine)"
    fi
    if [[ $dir == common && $header =~ ^[\<\"](server|workers|client)/ ]]; then
      violation "$file includes $header (common/ never reaches up)"
    fi
    if [[ $dir == client && $header =~ ^[\<\"](common/db/|libpq-fe\.h|postgresql/|server/|workers/) ]]; then
      violation "$file includes $header (prunectl links neither libpq nor server or worker code)"
    fi
  done < <(includes "${files[@]}")
done

# The engine: angle-bracket headers are the standard library, POSIX,
# LibTorch or GTest; quoted headers are files of workers/engine itself.
engine=workers/engine
if [ -d "$engine" ]; then
  mapfile -t files < <(cxx_files "$engine")
  allowed_system='^<((torch|ATen|c10|caffe2|gtest|gmock|sys)/[^>]+|[A-Za-z0-9_]+(\.h)?)>$'
  while IFS= read -r hit; do
    file=${hit%%:*}
    header=${hit#*:}
    if [[ $header == \<* ]]; then
      [[ $header =~ $allowed_system ]] ||
        violation "$file includes $header (the engine links nothing but LibTorch)"
      continue
    fi
    name=${header:1:${#header}-2}
    found=
    for base in "${file%/*}" "$engine/src" "$engine/include" "$engine/test"; do
      if [ -f "$base/$name" ]; then found=1; break; fi
    done
    [ -n "$found" ] ||
      violation "$file includes $header, which is not a file of $engine (the engine links nothing but LibTorch)"
  done < <(includes "${files[@]}")
fi

# Shared libraries the built programs load (ELF NEEDED entries).
needed() { readelf -d "$1" | sed -n -E 's/.*\(NEEDED\).*\[(.*)\]/\1/p'; }
check_binary() {  # BINARY FORBIDDEN_REGEX RULE
  local binary=$1 forbidden=$2 rule=$3 lib
  if [ ! -f "$binary" ]; then
    violation "$binary is missing (build it first)"
    return
  fi
  while IFS= read -r lib; do
    if [[ $lib =~ $forbidden ]]; then violation "$(basename "$binary") loads $lib ($rule)"; fi
  done < <(needed "$binary")
}
if [ -n "$build" ]; then
  torch_libs='^lib(torch|c10|caffe2)'
  check_binary "$build/server/pruned" "$torch_libs" "the server never links LibTorch"
  check_binary "$build/client/prunectl" "$torch_libs|^libpq" "prunectl links neither LibTorch nor libpq"
  check_binary "$build/workers/engine/prune-engine" \
    '^lib(grpc|gpr|protobuf|absl|pq|spdlog|fmt|civetweb|ssl|crypto)' \
    "the engine links nothing but LibTorch"
  # The check must see LibTorch where it is meant to be, or it proves nothing.
  if [ -f "$build/workers/runner/prune-worker" ] &&
    ! needed "$build/workers/runner/prune-worker" | grep -qE "$torch_libs"; then
    violation "prune-worker does not load LibTorch: the NEEDED check cannot see libraries"
  fi
fi

if [ "$violations" -gt 0 ]; then
  echo "layering: $violations violation(s); the rules: docs/ARCHITECTURE.md, \"Layering rules\""
  exit 1
fi
echo "layering: ok"
