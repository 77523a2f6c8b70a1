#!/usr/bin/env bash
# One call on a CUDA machine for the reference models: build bcfeat unless a warm
# machine already has it, optionally run the GPU test suites (GPU_TESTS=1), then run every
# config given — at the same time, sharing the GPU — each into $OUT/<config name>/ with its
# log in $OUT/<config name>.log. Extra `key=value` overrides for all runs go in OVERRIDES.
#   OUT=... tools/gpu/vlm.sh configs/train_vqa.yaml configs/train_clip.yaml
# DEADLINE=S stops every run S seconds after this script started (its checkpoints stay).
set -uo pipefail
start0=$(date +%s)
cd "$(dirname "$0")/../.."
out=${OUT:-results/gpu_vlm}
source tools/gpu/env.sh
if [ ! -x build/bcfeat ] || [ -n "${REBUILD:-}" ]; then
  start=$(date +%s)
  # Without GPU_TESTS only bcfeat itself is built (no test suites, no CUDA BC6H/BC7
  # encoders: the training and evaluation runs need neither), which saves minutes.
  tests=OFF bptc=OFF
  [ -n "${GPU_TESTS:-}" ] && tests=ON bptc=ON
  if ! tools/build.sh -DCMAKE_PREFIX_PATH="$prefix/usr;$torch_prefix" -DBCFEAT_BUILD_TESTS=$tests \
      -DBCFEAT_CUDA_BPTC_ENCODERS=$bptc ${CMAKE_ARGS:-} >"$out/build.log" 2>&1; then
    tail -60 "$out/build.log"
    exit 1
  fi
  echo "build: $(( $(date +%s) - start )) s"
fi
if [ -n "${GPU_TESTS:-}" ]; then
  (cd build && ctest --output-on-failure -R "^cuda" ) >"$out/ctest_gpu.log" 2>&1
  tail -8 "$out/ctest_gpu.log"
fi
limit=0
if [ -n "${DEADLINE:-}" ]; then limit=$(( DEADLINE - ($(date +%s) - start0) )); [ "$limit" -lt 10 ] && limit=10; fi
pids=()
for config in "$@"; do
  name=$(basename "$config" .yaml)
  timeout "$limit" build/bcfeat run "$config" ${OVERRIDES:-} --output "$out/$name" >"$out/$name.log" 2>&1 &
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
for config in "$@"; do
  name=$(basename "$config" .yaml)
  echo "== $name"; tail -5 "$out/$name.log"; tail -4 "$out/$name"/*/log.txt 2>/dev/null
done
exit $status
