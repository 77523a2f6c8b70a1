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
