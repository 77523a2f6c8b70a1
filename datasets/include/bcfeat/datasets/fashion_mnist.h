// Fashion-MNIST (Xiao et al. 2017): 70,000 photographs of clothing, 28x28 grey, 10 classes,
// as the four IDX files of its distribution (tools/setup.sh unpacks Debian's
// dataset-fashion-mnist into build/real/fashion-mnist): train-images-idx3-ubyte,
// train-labels-idx1-ubyte (60,000) and t10k-* (10,000, the test split).
#pragma once

#include <string>
#include <vector>

#include <torch/types.h>

namespace bcfeat {

struct FashionMnist {
  torch::Tensor images;  // [n, 28, 28] uint8
  torch::Tensor labels;  // [n] int64, 0..9
};

// Images [first, first + count) of the split ("train" or "test") from the IDX files in
// `directory`. InputError names a missing, truncated or malformed file, or a range the split
// does not hold.
FashionMnist load_fashion_mnist(const std::string& directory, const std::string& split, int64_t first, int64_t count);

// The ten class names in label order.
const std::vector<std::string>& fashion_mnist_classes();

// Grey images [n, 28, 28] uint8 -> pixels [n, 3, size, size] float32 in 0..255 (bilinear,
// the grey value in all three channels), the input of an image encoder trained on photographs.
torch::Tensor fashion_mnist_pixels(const torch::Tensor& images, int size);

}  // namespace bcfeat
