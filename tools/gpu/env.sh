# shellcheck shell=bash
# Sourced by the GPU scripts after they set `out` (their output folder): creates it, records
# the card in $out/gpu.txt, unpacks the carried Debian packages (.gpu/debs: libsquish, libstb,
# libzstd, libastcenc headers — the GPU machines lack them) into a private prefix and sets
# LD_LIBRARY_PATH, `prefix` and `torch_prefix` (LibTorch with CUDA from the PyTorch wheel).
mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$out/gpu.txt"
prefix=/tmp/bcfeat-deps
if [ -d .gpu/debs ]; then
  mkdir -p "$prefix"
  for deb in .gpu/debs/*.deb; do dpkg -x "$deb" "$prefix"; done
fi
export LD_LIBRARY_PATH="$prefix/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}"
torch_prefix=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')

# Configures build/ (Release, tests on, the carried dependencies and LibTorch found) with the
# extra CMake arguments given, and builds the targets in $GPU_TARGETS (space-separated),
# logging to $out/build.log; prints the build time, or the log's tail and returns 1.
gpu_build() {
  local start
  start=$(date +%s)
  export PATH="$PATH:/usr/local/cuda/bin"
  # shellcheck disable=SC2086  # GPU_TARGETS is a list of words
  if ! { cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix/usr;$torch_prefix" \
           -DBCFEAT_BUILD_TESTS=ON "$@" &&
         cmake --build build -j "$(nproc)" --target $GPU_TARGETS; } >"$out/build.log" 2>&1; then
    tail -60 "$out/build.log"
    return 1
  fi
  echo "build: $(( $(date +%s) - start )) s"
}
