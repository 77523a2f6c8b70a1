#!/usr/bin/env bash
# On a CUDA machine: builds tools/astc_cuda_compare.cu with nvcc and runs it on the .astc files
# in DIR (names ldr_WxH.astc / hdr_WxH.astc select the profile), printing per file the
# mismatches against the host decoder and the decode bandwidth of the current CUDA kernel and
# of the one-thread-per-block kernel it replaced (commit 71590c9, kept in the .cu) beside the
# copy bandwidth, all measured in this one run.
# With BASE=<commit>, the program is also built from that commit (a git worktree) and run
# first, so that two kernels are compared in one call on one machine, as in
# results/reference/astc_cuda_compare_h200.txt (cc5fdec against 38cf5be; its two programs were
# built by hand the same way before this option existed).
# Inputs as committed in results/reference/astc_cuda_compare_h200.txt: kodim23 from the Kodak
# set, encoded by bcfeat at the normal quality (libastcenc medium) for every block size:
#   bcfeat codec encode kodim23.png DIR/ldr_6x6.astc --format astc_6x6
#   /usr/bin/python3 -c "import numpy as n; from PIL import Image; a = n.asarray(Image.open('kodim23.png') \
#     .convert('RGB'), n.float32) / 255; n.save('hdr.npy', n.dstack([100 * a * a, n.ones(a.shape[:2], n.float32)]))"
#   bcfeat codec encode hdr.npy DIR/hdr_6x6.astc --format astc_6x6 --profile hdr
# The second set of results/reference/astc_cuda_units_h200.txt (calls S1-S6, T1-T6, W1-W6, X1-X5, session 24's
# A-D and session 25's A-C) is the first image of `bcfeat bench astc`'s synthetic set (experiments/cli/bench.cpp
# synthetic_images, k = 0: no noise), encoded the same way: 512x384, channel c < 3 of texel (x, y) = clamp(0.5 + 0.4
# sin(0.02 x + 0.013 (c + 1) y), 0, 1), alpha 1, as a float32 [384][512][4] .npy; HDR 100 v^2.
set -euo pipefail
dir=$(realpath "${1:?usage: [BASE=commit] tools/astc_cuda_compare.sh DIR [ARCH, default sm_90]}")
arch=${2:-sm_90}
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/cuda/bin"
build() {  # build ROOT OUTPUT
  nvcc -O3 -std=c++17 -arch="$arch" -I "$1/kernels/include" -I "$1/kernels/src" "$1/tools/astc_cuda_compare.cu" \
    "$1/kernels/src/cuda_device.cu" -o "$2"
}
if [ -n "${BASE:-}" ]; then
  base_tree=$(mktemp -d)
  git worktree add --detach "$base_tree" "$BASE" >/dev/null
  build "$base_tree" /tmp/astc_cuda_compare_base
  git worktree remove --force "$base_tree"
fi
build . /tmp/astc_cuda_compare
if [ -n "${BASE:-}" ]; then
  echo "== $BASE"
  /tmp/astc_cuda_compare_base "$dir"
  echo "== this tree"
fi
/tmp/astc_cuda_compare "$dir"
