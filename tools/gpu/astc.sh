#!/usr/bin/env bash
# One call on a CUDA machine for ASTC: build bcfeat and the GPU suite only, run the CUDA ASTC
# decoder test (CUDA == CPU == libastcenc), then `bcfeat bench codecs` on the 14 ASTC block
# sizes (both profiles, CUDA decode bandwidth vs copy). Logs and JSON go to $OUT.
# BENCH_ARGS adds bench options (default: the synthetic images, preset normal).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
out=${OUT:-results/gpu_astc}
source tools/gpu/env.sh
# shellcheck disable=SC2086  # CMAKE_ARGS: extra CMake arguments, word-split
GPU_TARGETS="bcfeat test_cuda" gpu_build -DBCFEAT_CUDA_BPTC_ENCODERS=OFF ${CMAKE_ARGS:-} || exit 1
build/tests/test_cuda "CUDA ASTC*" >"$out/test_cuda_astc.log" 2>&1
echo "test_cuda ASTC: exit $?"
tail -4 "$out/test_cuda_astc.log"
astc=$(build/bcfeat list formats | awk '/^astc_/ {print $1}' | paste -sd,)
build/bcfeat bench codecs --formats "$astc" --qualities normal --output "$out/bench_astc.json" ${BENCH_ARGS:-} \
  2>"$out/bench_astc.log"
echo "bench: exit $?"
grep -E "bandwidth|equal false" "$out/bench_astc.log" | head -40
