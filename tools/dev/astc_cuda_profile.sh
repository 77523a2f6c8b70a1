#!/usr/bin/env bash
# On a CUDA machine with Nsight Compute (ncu): profiles the CUDA ASTC decoder on .astc files, as in
# results/reference/astc_cuda_profile_h200.txt. For each FILE (named ldr_WxH.astc or hdr_WxH.astc,
# made with `bcfeat codec encode IMAGE ldr_6x6.astc --format astc_6x6 [--profile hdr]`) it runs
# build/tools/dev/astc_cuda_files (configure with -DCMAKE_CUDA_FLAGS=-lineinfo for source counters)
# under ncu on the first launch of the 8192x8192 tiling (the third launch of astc_decode_kernel for
# one file) and writes OUT/NAME.txt (speed of light, occupancy, scheduler and warp-state sections,
# executed instructions) and OUT/NAME.csv.gz (per-SASS-instruction source counters). The step
# shares then come from tools/dev/astc_profile_steps.py with an `nvdisasm -g -c` listing of the same
# kernel (any machine with nvcc and nvdisasm, e.g. pip's nvidia-cuda-nvdisasm):
#   nvcc -cubin -arch=sm_90 -O3 -std=c++17 -lineinfo -I kernels/include -I kernels/src \
#     kernels/src/astc_cuda.cu -o astc.cubin && nvdisasm -g -c astc.cubin > astc.sass
#   tools/dev/astc_profile_steps.py OUT/ldr_4x4.csv.gz astc.sass 4x4L2 67108864
# (L/H the profile, then the texel columns a lane: 2 where the block width is even, else 1.)
set -euo pipefail
out=${1:?usage: tools/dev/astc_cuda_profile.sh OUT_DIR FILE.astc...}
shift
[ $# -gt 0 ] || { echo "astc_cuda_profile: no .astc files given" >&2; exit 2; }
cd "$(dirname "$0")/../.."
export PATH="$PATH:/usr/local/cuda/bin"
ncu=$(command -v ncu) || { echo "astc_cuda_profile: ncu (Nsight Compute) not found" >&2; exit 2; }
mkdir -p "$out"
program=build/tools/dev/astc_cuda_files
[ -x "$program" ] || { echo "astc_cuda_profile: build $program first (tools/build.sh)" >&2; exit 2; }
for file in "$@"; do
  name=$(basename "$file" .astc)
  dir=$(mktemp -d)
  cp "$file" "$dir/"
  "$ncu" --kernel-name regex:astc_decode_kernel --launch-skip 2 --launch-count 1 \
    --section SpeedOfLight --section Occupancy --section LaunchStats --section SchedulerStats \
    --section WarpStateStats --section InstructionStats --section SourceCounters \
    --metrics smsp__inst_executed.sum,smsp__thread_inst_executed.sum -f -o "$dir/report" "$program" "$dir" >/dev/null
  "$ncu" -i "$dir/report.ncu-rep" > "$out/$name.txt"
  "$ncu" -i "$dir/report.ncu-rep" --page source --csv --print-source sass | gzip > "$out/$name.csv.gz"
  echo "$name: $(grep -E 'smsp__inst_executed.sum' "$out/$name.txt" | awk '{print $3}') warp instructions"
done
