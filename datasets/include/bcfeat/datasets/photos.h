// Real photographs: a directory of RGB images of one size (tools/setup.sh writes 1,248 crops
// of 224x224 from scikit-image's photographs into build/real/photos), read in file-name order.
#pragma once

#include <string>
#include <vector>

#include <torch/types.h>

namespace bcfeat {

// The .png files of `directory`, sorted by name; [first, first + count) of them (count < 0:
// all from first). Throws InputError when there are fewer.
std::vector<std::string> photo_files(const std::string& directory, int64_t first, int64_t count);

// Those images as pixels [N, 3, H, W], float32 in 0..255 (grey images as three equal channels;
// alpha dropped). Every image must have the first one's size; InputError names one that has not.
torch::Tensor load_photos(const std::vector<std::string>& files);

}  // namespace bcfeat
