#!/usr/bin/env bash
# Installs exactly the Debian bookworm packages prune-service needs to build,
# test and run the demo. Idempotent: installs only what is missing, so a second
# run costs a dpkg query and nothing else.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake pkg-config git ca-certificates
  # gRPC + protobuf (C++ and Python stubs)
  libgrpc++-dev libgrpc-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  # PostgreSQL client library and a server for local use and tests
  libpq-dev postgresql
  # LibTorch (CPU) for the engine and worker
  libtorch-dev
  # /metrics over HTTP
  libcivetweb-dev civetweb
  # tests and benchmarks
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  # libFuzzer harnesses (tests/fuzz): clang and its fuzzer/ASan runtimes
  clang libclang-rt-14-dev
  # CLI, JSON, logs, status types
  libcli11-dev nlohmann-json3-dev libspdlog-dev libabsl-dev libssl-dev
  # Python side: reference model training, archive checks, Python client
  python3-torch python3-torchvision python3-grpcio python3-protobuf
  # reference data
  dataset-fashion-mnist
  # fast CPU inference (docs/ARCHITECTURE.md, "CPU set-up of the worker")
  libopenblas0-openmp libjemalloc2
  # promtool for metrics checks
  prometheus
)

# Deployment checks (tests/deploy): kubectl for `kubectl kustomize`, node/npm
# for the Kubernetes schema packages. Machines that already have these tools
# from other sources (e.g. a vendor kubectl or NodeSource node) keep them:
# Debian's packages would conflict with those.
packages+=(yamllint)
command -v kubectl >/dev/null 2>&1 || packages+=(kubernetes-client)
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}" >&2
  echo "install-deps: run as root (or install them) and retry" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
