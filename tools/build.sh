#!/usr/bin/env bash
# Configures and builds bcfeat in build/ (Release, Ninja). CUDA is built whenever nvcc is
# found. Extra CMake arguments are passed through, e.g. -DBCFEAT_CUDA_ARCHITECTURES=90.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/cuda/bin"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release "$@"
cmake --build build -j "$(nproc)"
