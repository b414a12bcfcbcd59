# syntax=docker/dockerfile:1
# prune-service images (docs/OPERATIONS.md, "Images"):
#   docker build --target server      -t prune-server .   # pruned + prunectl, no LibTorch
#   docker build --target worker      -t prune-worker .   # prune-worker, CPU LibTorch, OpenBLAS, jemalloc
#   docker build --target worker-cuda -t prune-worker-cuda .   # CUDA LibTorch (untested, see docs)
# Nothing secret is baked in: the database URL and the API token come from
# the environment at run time (PRUNE_DATABASE_URL, PRUNE_TOKEN).

ARG DEBIAN_IMAGE=debian:bookworm-slim
ARG CUDA_DEVEL_IMAGE=nvidia/cuda:12.6.3-cudnn-devel-ubuntu24.04
ARG CUDA_RUNTIME_IMAGE=nvidia/cuda:12.6.3-cudnn-runtime-ubuntu24.04

# ---------------------------------------------------------------------------
# build: the documented build, with the documented dependency script.
FROM ${DEBIAN_IMAGE} AS build
WORKDIR /src
COPY scripts/install-deps.sh scripts/install-deps.sh
RUN scripts/install-deps.sh && rm -rf /var/lib/apt/lists/*
COPY . .
ARG BUILD_JOBS=2
RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPRUNE_BUILD_TESTS=OFF \
 && cmake --build build --parallel "${BUILD_JOBS}"
# Runtime images get the binaries without debug sections, and exactly the
# packages that own the shared libraries each binary loads.
RUN mkdir -p /out/bin \
 && cp build/server/pruned build/client/prunectl build/workers/runner/prune-worker build/workers/runner/prune-job-child \
       build/workers/engine/prune-engine /out/bin/ \
 && strip --strip-debug /out/bin/* \
 && deploy/docker/runtime-packages.sh /out/bin/pruned /out/bin/prunectl > /out/server-packages.txt \
 && deploy/docker/runtime-packages.sh /out/bin/prune-worker /out/bin/prune-engine > /out/worker-packages.txt

# ---------------------------------------------------------------------------
# server: the gRPC front-end. No LibTorch.
FROM ${DEBIAN_IMAGE} AS server
COPY --from=build /out/server-packages.txt /tmp/runtime-packages.txt
RUN apt-get update \
 && xargs -a /tmp/runtime-packages.txt apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* /tmp/runtime-packages.txt \
 && groupadd --gid 10001 prune \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin prune
COPY --from=build /out/bin/pruned /out/bin/prunectl /usr/local/bin/
USER 10001:10001
EXPOSE 50051 9090
ENTRYPOINT ["/usr/local/bin/pruned"]
CMD ["serve", "--listen", "0.0.0.0:50051", "--metrics-listen", "0.0.0.0:9090", "--log-json"]

# ---------------------------------------------------------------------------
# worker: CPU worker. OpenBLAS (OpenMP) is selected as the BLAS/LAPACK and
# jemalloc is preloaded (docs/ARCHITECTURE.md, "CPU set-up of the worker").
FROM ${DEBIAN_IMAGE} AS worker
COPY --from=build /out/worker-packages.txt /tmp/runtime-packages.txt
RUN apt-get update \
 && xargs -a /tmp/runtime-packages.txt apt-get install -y --no-install-recommends \
      ca-certificates libopenblas0-openmp libjemalloc2 \
 && rm -rf /var/lib/apt/lists/* /tmp/runtime-packages.txt \
 && update-alternatives --set libblas.so.3-x86_64-linux-gnu \
      /usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3 \
 && update-alternatives --set liblapack.so.3-x86_64-linux-gnu \
      /usr/lib/x86_64-linux-gnu/openblas-openmp/liblapack.so.3 \
 && groupadd --gid 10001 prune \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin prune \
 && install -d -o 10001 -g 10001 /var/lib/prune-worker
COPY --from=build /out/bin/prune-worker /out/bin/prune-job-child /out/bin/prune-engine /usr/local/bin/
ENV LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2 \
    PRUNE_WORK_DIR=/var/lib/prune-worker \
    PRUNE_DEVICE=cpu
USER 10001:10001
EXPOSE 9090
ENTRYPOINT ["/usr/local/bin/prune-worker"]
CMD ["--work-dir", "/var/lib/prune-worker", "--device", "cpu", "--metrics-listen", "0.0.0.0:9090", "--log-json"]

# ---------------------------------------------------------------------------
# build-cuda: the same sources against a current CUDA LibTorch. Ubuntu 24.04
# carries the same gRPC 1.51 / protobuf 3.21 / abseil 20220623 as bookworm.
# UNTESTED in this repository's CI (no Docker, no GPU): docs/OPERATIONS.md.
FROM ${CUDA_DEVEL_IMAGE} AS build-cuda
ARG LIBTORCH_URL=https://download.pytorch.org/libtorch/cu126/libtorch-cxx11-abi-shared-with-deps-2.6.0%2Bcu126.zip
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential cmake pkg-config git ca-certificates curl unzip \
      libgrpc++-dev libgrpc-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler \
      libpq-dev libcivetweb-dev civetweb libcli11-dev nlohmann-json3-dev libspdlog-dev \
      libabsl-dev libssl-dev \
 && rm -rf /var/lib/apt/lists/*
RUN curl -fsSL -o /tmp/libtorch.zip "${LIBTORCH_URL}" \
 && unzip -q /tmp/libtorch.zip -d /opt \
 && rm /tmp/libtorch.zip
WORKDIR /src
COPY . .
ARG BUILD_JOBS=2
RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPRUNE_BUILD_TESTS=OFF \
      -DCMAKE_PREFIX_PATH=/opt/libtorch \
 && cmake --build build --parallel "${BUILD_JOBS}"
RUN mkdir -p /out/bin \
 && cp build/workers/runner/prune-worker build/workers/runner/prune-job-child build/workers/engine/prune-engine /out/bin/ \
 && strip --strip-debug /out/bin/* \
 && LD_LIBRARY_PATH=/opt/libtorch/lib deploy/docker/runtime-packages.sh \
      /out/bin/prune-worker /out/bin/prune-engine > /out/worker-packages.txt

# ---------------------------------------------------------------------------
# worker-cuda: CUDA worker. libtorch's own libraries (CUDA, cuDNN included in
# the "with-deps" archive) are copied; everything else comes from apt.
FROM ${CUDA_RUNTIME_IMAGE} AS worker-cuda
COPY --from=build-cuda /out/worker-packages.txt /tmp/runtime-packages.txt
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive xargs -a /tmp/runtime-packages.txt \
      apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* /tmp/runtime-packages.txt \
 && groupadd --gid 10001 prune \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin prune \
 && install -d -o 10001 -g 10001 /var/lib/prune-worker
COPY --from=build-cuda /opt/libtorch/lib /opt/libtorch/lib
COPY --from=build-cuda /out/bin/prune-worker /out/bin/prune-job-child /out/bin/prune-engine /usr/local/bin/
ENV LD_LIBRARY_PATH=/opt/libtorch/lib \
    PRUNE_WORK_DIR=/var/lib/prune-worker \
    PRUNE_DEVICE=cuda
USER 10001:10001
EXPOSE 9090
ENTRYPOINT ["/usr/local/bin/prune-worker"]
CMD ["--work-dir", "/var/lib/prune-worker", "--device", "cuda", "--metrics-listen", "0.0.0.0:9090", "--log-json"]
