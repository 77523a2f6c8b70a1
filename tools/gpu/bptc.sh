#!/usr/bin/env bash
# One call on a CUDA machine for the BC6H/BC7 encoders: build bcfeat and the GPU
# suite only (BPTC encoders on), run the whole GPU suite (CUDA == CPU blocks for every format
# and level, decoders against the texture units, ASTC, compressors), then `bcfeat bench
# codecs` for BC7 and BC6H fast/normal on the Kodak images in .gpu/kodak. Logs and JSON go
# to $OUT. BENCH_ARGS replaces the bench options after --images.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
out=${OUT:-results/gpu_bptc}
source tools/gpu/env.sh
start=$(date +%s)
# shellcheck disable=SC2086  # CMAKE_ARGS: extra CMake arguments, word-split
GPU_TARGETS="bcfeat test_cuda" gpu_build ${CMAKE_ARGS:-} || exit 1
build/tests/test_cuda >"$out/test_cuda.log" 2>&1
echo "test_cuda: exit $?"
tail -4 "$out/test_cuda.log"
# shellcheck disable=SC2086  # BENCH_ARGS: bench options, word-split
build/bcfeat bench codecs --images .gpu/kodak \
  ${BENCH_ARGS:---formats bc7,bc6h_uf16,bc6h_sf16 --qualities fast,normal --no-baselines} \
  --output "$out/bench_bptc.json" 2>"$out/bench.log"
echo "bench: exit $? after $(( $(date +%s) - start )) s"
tail -30 "$out/bench.log"
