# Sourced by the GPU scripts: unpacks the carried Debian packages (.gpu/debs: libsquish,
# libstb, libzstd headers — the GPU machines lack them) into a private prefix and sets
# LD_LIBRARY_PATH, `prefix` and `torch_prefix` (LibTorch with CUDA from the PyTorch wheel).
prefix=/tmp/bcfeat-deps
if [ -d .gpu/debs ]; then
  mkdir -p "$prefix"
  for deb in .gpu/debs/*.deb; do dpkg -x "$deb" "$prefix"; done
fi
export LD_LIBRARY_PATH="$prefix/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}"
torch_prefix=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')
