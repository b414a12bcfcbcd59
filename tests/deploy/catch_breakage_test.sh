#!/usr/bin/env bash
# Proves the deploy checks can fail: breaks a copy of each checked artefact in
# one way at a time and expects the matching checker to reject it.
# Usage: catch_breakage_test.sh SOURCE_ROOT WORK_DIR   (NODE_PATH: the npm tree)
set -euo pipefail
root=$1
work=$2
here="$root/tests/deploy"
rm -rf "$work"
mkdir -p "$work"
failures=0

expect_fail() {
  local what=$1
  shift
  if "$@" > "$work/last.log" 2>&1; then
    echo "NOT CAUGHT: $what" >&2
    sed 's/^/    /' "$work/last.log" >&2
    failures=$((failures + 1))
  else
    echo "caught: $what: $(grep -v '^\(k8s_\|grafana_check\|dockerfile_check\|render:\)' "$work/last.log" | head -n1)"
  fi
}
expect_pass() {
  local what=$1
  shift
  if ! "$@" > "$work/last.log" 2>&1; then
    echo "BASELINE FAILS: $what" >&2
    sed 's/^/    /' "$work/last.log" >&2
    exit 1
  fi
}

# Kubernetes manifests: one rendered overlay, broken one way at a time.
"$here/render.sh" "$root/deploy/kustomize" "$work/rendered" > /dev/null
dev="$work/rendered/dev-cpu.yaml"
expect_pass "unbroken policy" node "$here/k8s_policy_check.js" "$dev"
expect_pass "unbroken schema" node "$here/k8s_schema_check.js" "$dev"
for m in writable-root keep-capabilities privilege-escalation no-seccomp probe-wrong-port probe-http \
         inline-token short-grace no-worker-pdb scale-wrong-target tmp-on-root; do
  node "$here/mutate.js" "$m" "$dev" "$work/$m.yaml"
  expect_fail "policy: $m" node "$here/k8s_policy_check.js" "$work/$m.yaml"
done
for m in schema-replicas-string schema-container-no-name schema-unknown-kind; do
  node "$here/mutate.js" "$m" "$dev" "$work/$m.yaml"
  expect_fail "schema: $m" node "$here/k8s_schema_check.js" "$work/$m.yaml"
done
expect_fail "policy: CPU overlay checked as GPU" node "$here/k8s_policy_check.js" --expect-gpu "$dev"

# kustomize: an overlay that patches something the base does not have.
cp -r "$root/deploy/kustomize" "$work/kustomize"
cat > "$work/kustomize/overlays/dev-cpu/worker-patch.yaml" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: prune-wrker
spec:
  replicas: 2
YAML
expect_fail "render: patch of a missing Deployment" "$here/render.sh" "$work/kustomize" "$work/broken-render"

# yamllint: trailing spaces and a duplicate key.
mkdir -p "$work/lint"
cp "$root/deploy/.yamllint" "$work/lint/.yamllint"
sed 's/^name: prune-service$/name: prune-service   /' "$root/deploy/compose.yaml" > "$work/lint/compose.yaml"
expect_fail "yamllint: trailing spaces" yamllint -s -c "$work/lint/.yamllint" "$work/lint/compose.yaml"
printf 'a: 1\na: 2\n' > "$work/lint/compose.yaml"
expect_fail "yamllint: duplicate key" yamllint -s -c "$work/lint/.yamllint" "$work/lint/compose.yaml"

# Grafana: an unknown metric, and JSON that does not parse.
dash="$root/deploy/grafana/prune-service.json"
sed 's/prune_evaluations_total/prune_evals_total/' "$dash" > "$work/unknown-metric.json"
expect_fail "grafana: unknown metric" node "$here/grafana_check.js" "$work/unknown-metric.json"
sed 's/prune_job_duration_seconds_bucket/prune_job_duration_seconds_count/g' "$dash" > "$work/no-quantiles.json"
expect_fail "grafana: no duration quantiles" node "$here/grafana_check.js" "$work/no-quantiles.json"
head -c 200 "$dash" > "$work/truncated.json"
expect_fail "grafana: truncated JSON" node "$here/grafana_check.js" "$work/truncated.json"

# Dockerfile: one break at a time against the real repository.
dockerfile="$root/Dockerfile"
broken="$work/Dockerfile"
mutate_dockerfile() { sed "$1" "$dockerfile" > "$broken"; }
check_dockerfile() { "$here/dockerfile_test.sh" "$root" "$broken"; }
mutate_dockerfile '0,/^USER 10001:10001/s//USER root/'
expect_fail "dockerfile: server runs as root" check_dockerfile
mutate_dockerfile 's#^COPY scripts/install-deps.sh scripts/install-deps.sh#COPY scripts/deps.sh scripts/install-deps.sh#'
expect_fail "dockerfile: COPY of a missing file" check_dockerfile
mutate_dockerfile 's#build/server/pruned #build/server/prune-server #'
expect_fail "dockerfile: binary the build does not produce" check_dockerfile
mutate_dockerfile 's#^RUN scripts/install-deps.sh#RUN apt-get update \&\& apt-get install -y cmake g++#'
expect_fail "dockerfile: hand-written package list" check_dockerfile
mutate_dockerfile 's#cmake -S \. -B build #cmake -S . -B out #'
expect_fail "dockerfile: undocumented build command" check_dockerfile
mutate_dockerfile 's#^ENV LD_PRELOAD=[^ ]*#ENV MALLOC=glibc#'
expect_fail "dockerfile: worker without jemalloc" check_dockerfile
mutate_dockerfile 's#^ENV LD_LIBRARY_PATH=/opt/libtorch/lib#ENV PRUNE_TOKEN=hunter2 LD_LIBRARY_PATH=/opt/libtorch/lib#'
expect_fail "dockerfile: baked-in token" check_dockerfile
mutate_dockerfile 's#^FROM ${DEBIAN_IMAGE} AS server#FROM ${DEBIAN_IMAGE} AS server\nRUN apt-get install -y libtorch1.13#'
expect_fail "dockerfile: LibTorch in the server image" check_dockerfile
expect_pass "unbroken dockerfile" "$here/dockerfile_test.sh" "$root"

if [ "$failures" -ne 0 ]; then
  echo "catch_breakage: $failures breakages went unnoticed" >&2
  exit 1
fi
echo "catch_breakage: every breakage was caught"
