#!/usr/bin/env bash
# On a CUDA machine: builds tools/astc_cuda_compare.cu with nvcc and runs it on the .astc files
# in DIR (names ldr_WxH.astc / hdr_WxH.astc select the profile), printing per file the
# mismatches against the host decoder and the decode bandwidth of the current CUDA kernel and
# of the one-thread-per-block kernel it replaced (commit 71590c9, kept in the .cu) beside the
# copy bandwidth, all measured in this one run.
# Inputs as committed in results/reference/astc_cuda_compare_h200.txt: kodim23 from the Kodak
# set, encoded by bcfeat at the normal quality (libastcenc medium) for every block size:
#   bcfeat codec encode kodim23.png DIR/ldr_6x6.astc --format astc_6x6
#   /usr/bin/python3 -c "import numpy as n; from PIL import Image; a = n.asarray(Image.open('kodim23.png') \
#     .convert('RGB'), n.float32) / 255; n.save('hdr.npy', n.dstack([100 * a * a, n.ones(a.shape[:2], n.float32)]))"
#   bcfeat codec encode hdr.npy DIR/hdr_6x6.astc --format astc_6x6 --profile hdr
set -euo pipefail
dir=${1:?usage: tools/astc_cuda_compare.sh DIR [ARCH, default sm_90]}
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/cuda/bin"
nvcc -O3 -std=c++17 -arch="${2:-sm_90}" -I kernels/include -I kernels/src tools/astc_cuda_compare.cu \
  kernels/src/cuda_device.cu -o /tmp/astc_cuda_compare
/tmp/astc_cuda_compare "$dir"
