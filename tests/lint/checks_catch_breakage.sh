#!/usr/bin/env bash
# Proves that the repository checks can fail: plants one violation at a time
# in a scratch copy of the sources and expects scripts/check_layering.sh and
# scripts/check_self_contained.sh to reject each one with its rule.
# usage: tests/lint/checks_catch_breakage.sh SOURCE_ROOT SCRATCH_DIR
set -euo pipefail
src=$(cd "$1" && pwd)
scratch=$2
rm -rf "$scratch"
mkdir -p "$scratch"
failures=0

# A copy of the folders the checks read (no .git: the checks then walk the
# files). Each planted violation is undone before the next one.
mkdir -p "$scratch/tree"
(cd "$src" && git ls-files -- server common client workers docs scripts README.md |
  tar -cf - -T -) | tar -xf - -C "$scratch/tree"
planted=

expect_rejected() {  # CHECK "MESSAGE REGEX" DESCRIPTION
  local check=$1 expected=$2 what=$3 out
  if out=$("$src/scripts/$check" "$scratch/tree" 2>&1); then
    echo "FAIL: $check accepted $what"
    failures=$((failures + 1))
  elif ! grep -qE -- "$expected" <<<"$out"; then
    echo "FAIL: $check rejected $what without saying '$expected':"
    echo "$out"
    failures=$((failures + 1))
  else
    echo "ok: $check rejects $what"
  fi
}

plant() {  # FILE LINE: append LINE to FILE of the copy, after undoing the last one
  if [ -n "$planted" ]; then cp "$scratch/planted.orig" "$scratch/tree/$planted"; fi
  planted=$1
  cp "$scratch/tree/$1" "$scratch/planted.orig"
  printf '%s\n' "$2" >>"$scratch/tree/$1"
}

if ! "$src/scripts/check_layering.sh" "$scratch/tree" >/dev/null ||
  ! "$src/scripts/check_self_contained.sh" "$scratch/tree" >/dev/null; then
  echo "FAIL: the unmodified copy does not pass the checks"
  exit 1
fi

plant server/auth.cc '#include <torch/script.h>'
expect_rejected check_layering.sh 'server/auth.cc includes LibTorch' "LibTorch in the server"
plant common/db/records.h '#include "server/auth.h"'
expect_rejected check_layering.sh 'common/ never reaches up' "common/ including server/"
plant workers/runner/worker_loop.cc '#include "workers/engine/src/analysis.h"'
expect_rejected check_layering.sh 'engine internals' "the runner including engine internals"
plant server/auth.cc '#include "prune/engine/job.h"'
expect_rejected check_layering.sh 'only workers/runner/ runs the engine' "the server including the engine API"
plant client/main.cc '#include <libpq-fe.h>'
expect_rejected check_layering.sh 'prunectl links neither' "libpq in prunectl"
plant workers/engine/src/job.cc '#include "absl/status/status.h"'
expect_rejected check_layering.sh 'the engine links nothing but LibTorch' "absl in the engine"
plant workers/engine/src/measure.cc '#include <grpcpp/grpcpp.h>'
expect_rejected check_layering.sh 'the engine links nothing but LibTorch' "gRPC in the engine"
plant workers/engine/src/measure.cc '#include "common/db/records.h"'
expect_rejected check_layering.sh 'not a file of workers/engine' "common/ in the engine"

design="DESIGN"".md"
plant docs/STYLE.md "See $design, section 2."
expect_rejected check_self_contained.sh 'docs/STYLE.md' "a reference to the design notes"
plant scripts/test.sh "# as ../""shared/notes.txt says"
expect_rejected check_self_contained.sh 'scripts/test.sh' "a path into a sibling folder"
plant server/main.cc "// copied from /""work/main/build"
expect_rejected check_self_contained.sh 'server/main.cc' "an absolute path of a machine"

rm -rf "$scratch"
if [ "$failures" -gt 0 ]; then
  echo "$failures check(s) missed a violation"
  exit 1
fi
echo "all planted violations were caught"
