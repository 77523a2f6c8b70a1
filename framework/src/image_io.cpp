#include "bcfeat/framework/image_io.h"

#include <stb/stb_image.h>
#include <stb/stb_image_write.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "bcfeat/framework/error.h"
#include "bcfeat/framework/results.h"
#include "bcfeat/framework/tensor_io.h"

namespace bcfeat {
namespace fs = std::filesystem;

FloatImage load_png(const std::string& path) {
  if (!fs::is_regular_file(path)) throw_input_error("image '{}' does not exist", path);
  int width = 0, height = 0, channels = 0;
  FloatImage image;
  if (stbi_is_16_bit(path.c_str())) {
    stbi_us* data = stbi_load_16(path.c_str(), &width, &height, &channels, 0);
    if (!data) throw_input_error("cannot read '{}': {}", path, stbi_failure_reason());
    image.pixels.resize(static_cast<size_t>(width) * height * channels);
    for (size_t i = 0; i < image.pixels.size(); ++i) image.pixels[i] = data[i] / 65535.0f;
    stbi_image_free(data);
  } else {
    stbi_uc* data = stbi_load(path.c_str(), &width, &height, &channels, 0);
    if (!data) throw_input_error("cannot read '{}': {}", path, stbi_failure_reason());
    image.pixels.resize(static_cast<size_t>(width) * height * channels);
    for (size_t i = 0; i < image.pixels.size(); ++i) image.pixels[i] = data[i] / 255.0f;
    stbi_image_free(data);
  }
  image.width = width;
  image.height = height;
  image.channels = channels;
  return image;
}

FloatImage load_image_npy(const std::string& path) {
  const LoadedTensor loaded = read_npy(path);
  const torch::Tensor& values = loaded.values;
  if (values.dim() != 2 && values.dim() != 3) {
    throw_input_error("'{}' has shape [{}]; an image is [H, W] or [H, W, C]", path, fmt::join(values.sizes(), ", "));
  }
  FloatImage image;
  image.height = static_cast<int>(values.size(0));
  image.width = static_cast<int>(values.size(1));
  image.channels = values.dim() == 3 ? static_cast<int>(values.size(2)) : 1;
  if (image.channels < 1 || image.channels > 4) throw_input_error("'{}' has {} channels; expected 1 to 4", path, image.channels);
  if (image.width == 0 || image.height == 0) throw_input_error("'{}' is an empty image", path);
  image.pixels.assign(values.data_ptr<float>(), values.data_ptr<float>() + values.numel());
  return image;
}

FloatImage load_image(const std::string& path) {
  const std::string extension = fs::path(path).extension().string();
  if (extension == ".png") return load_png(path);
  if (extension == ".npy") return load_image_npy(path);
  throw_input_error("'{}': unknown image type '{}'; use .png or .npy [H, W, C]", path, extension);
}

std::vector<std::string> list_png_files(const std::string& directory) {
  if (!fs::is_directory(directory)) throw_input_error("image directory '{}' does not exist", directory);
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(directory)) {
    if (entry.is_regular_file() && entry.path().extension() == ".png") files.push_back(entry.path().string());
  }
  std::sort(files.begin(), files.end());
  if (files.empty()) throw_input_error("no .png images in '{}'", directory);
  return files;
}

void save_png(const std::string& path, const FloatImage& image) {
  std::vector<unsigned char> bytes(image.pixels.size());
  for (size_t i = 0; i < bytes.size(); ++i) {
    bytes[i] = static_cast<unsigned char>(std::lround(std::min(1.0f, std::max(0.0f, image.pixels[i])) * 255.0f));
  }
  std::string encoded;
  auto append = [](void* context, void* data, int size) {
    static_cast<std::string*>(context)->append(static_cast<const char*>(data), static_cast<size_t>(size));
  };
  if (!stbi_write_png_to_func(append, &encoded, image.width, image.height, image.channels, bytes.data(),
                              image.width * image.channels)) {
    throw std::runtime_error("PNG encoding failed for " + path);
  }
  write_file_atomic(path, encoded);
}

void save_image_npy(const std::string& path, const FloatImage& image) {
  torch::Tensor values = torch::from_blob(const_cast<float*>(image.pixels.data()),
                                          {image.height, image.width, image.channels}, torch::kFloat32);
  write_npy(path, values);
}

}  // namespace bcfeat
