#!/usr/bin/env bash
# One call on a CUDA machine: build bcfeat, run the test suites (the GPU suite included),
# run the codec benchmark. Logs and JSON go to $OUT (default results/gpu_check).
#
# The GPU machines have LibTorch (PyTorch wheel), yaml-cpp, fmt, nlohmann-json, Eigen and
# Catch2 3 but not libsquish or stb (nor, perhaps, zstd's headers): carry their Debian
# packages in .gpu/debs (`apt-get download libsquish-dev libsquish0 libstb-dev libstb0
# libzstd-dev`) and the benchmark
# images in .gpu/kodak; they are unpacked into a private prefix. SKIP_TESTS=1 / SKIP_BENCH=1
# leave out those steps (a warm machine keeps build/, so a second call only benchmarks).
set -uo pipefail
cd "$(dirname "$0")/../.."
out=${OUT:-results/gpu_check}
source tools/gpu/env.sh

start=$(date +%s)
if ! tools/build.sh -DCMAKE_PREFIX_PATH="$prefix/usr;$torch_prefix" >"$out/build.log" 2>&1; then
  tail -60 "$out/build.log"
  exit 1
fi
echo "build: $(( $(date +%s) - start )) s"
# The interop suites need Debian's python3-numpy and PyPI helpers, which these machines lack.
if [ -z "${SKIP_TESTS:-}" ]; then
  (cd build && ctest --output-on-failure -j 8 -E "numpy_interop|pillow_dds|bd_rate|etcpak_bc7|cli") >"$out/ctest.log" 2>&1
  tail -15 "$out/ctest.log"
  grep -A30 "cuda" "$out/ctest.log" | grep -E "device:|passed|failed|assertions" | head -5
fi
if [ -z "${SKIP_BENCH:-}" ]; then
  images=${BENCH_IMAGES:-.gpu/kodak}
  build/bcfeat bench codecs --images "$images" --output "$out/bench_codecs.json" ${BENCH_ARGS:-} 2>"$out/bench.log"
  tail -40 "$out/bench.log"
fi
