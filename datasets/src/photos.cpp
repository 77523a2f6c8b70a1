#include "bcfeat/datasets/photos.h"

#include <cmath>

#include "bcfeat/framework/error.h"
#include "bcfeat/framework/image_io.h"

namespace bcfeat {

std::vector<std::string> photo_files(const std::string& directory, int64_t first, int64_t count) {
  const std::vector<std::string> all = list_png_files(directory);
  const auto available = static_cast<int64_t>(all.size());
  if (first < 0 || first >= available || (count >= 0 && first + count > available)) {
    throw_input_error("'{}' holds {} images; asked for [{}, {})", directory, available, first,
                      count < 0 ? available : first + count);
  }
  const int64_t end = count < 0 ? available : first + count;
  return {all.begin() + first, all.begin() + end};
}

torch::Tensor load_photos(const std::vector<std::string>& files) {
  if (files.empty()) throw_input_error("no photographs to load");
  std::vector<torch::Tensor> images;
  int width = 0, height = 0;
  for (const auto& file : files) {
    const FloatImage image = load_png(file);
    if (images.empty()) {
      width = image.width;
      height = image.height;
    } else if (image.width != width || image.height != height) {
      throw_input_error("'{}' is {}x{}; the photographs before it are {}x{}", file, image.width, image.height, width,
                        height);
    }
    torch::Tensor pixels = torch::from_blob(const_cast<float*>(image.pixels.data()),
                                            {image.height, image.width, image.channels}, torch::kFloat32)
                               .clone();
    if (image.channels < 3) pixels = pixels.narrow(2, 0, 1).expand({image.height, image.width, 3});
    if (image.channels == 4) pixels = pixels.narrow(2, 0, 3);
    // Back to the stored 8-bit values (load_png gives v / 255).
    images.push_back(torch::round(pixels.permute({2, 0, 1}) * 255.0));
  }
  return torch::stack(images).contiguous();
}

}  // namespace bcfeat
