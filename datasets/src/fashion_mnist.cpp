#include "bcfeat/datasets/fashion_mnist.h"

#include <cstdint>
#include <filesystem>
#include <fstream>

#include <torch/torch.h>

#include "bcfeat/framework/error.h"

namespace bcfeat {

namespace {

uint32_t big_endian(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

// The items [first, first + count) of an IDX file of unsigned bytes with `dims` dimensions;
// `shape` receives the file's dimensions.
std::vector<unsigned char> read_idx(const std::string& path, int dims, int64_t first, int64_t count,
                                    std::vector<int64_t>& shape) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw_input_error("Fashion-MNIST file '{}' cannot be opened (tools/setup.sh unpacks it)", path);
  unsigned char header[16] = {};
  const auto header_bytes = static_cast<std::streamsize>(4 + 4 * dims);
  if (!in.read(reinterpret_cast<char*>(header), header_bytes)) throw_input_error("'{}': truncated IDX header", path);
  if (header[0] != 0 || header[1] != 0 || header[2] != 0x08 || header[3] != dims) {
    throw_input_error("'{}' is not an IDX file of {}-dimensional unsigned bytes", path, dims);
  }
  shape.clear();
  int64_t item = 1;
  for (int d = 0; d < dims; ++d) {
    shape.push_back(big_endian(header + 4 + 4 * d));
    if (d > 0) item *= shape.back();
  }
  if (first < 0 || count < 0 || first + count > shape[0]) {
    throw_input_error("'{}' holds {} items; asked for [{}, {})", path, shape[0], first, first + count);
  }
  const auto expected = static_cast<uintmax_t>(header_bytes + shape[0] * item);
  if (std::filesystem::file_size(path) != expected) {
    throw_input_error("'{}' is {} bytes; its header says {}", path, std::filesystem::file_size(path), expected);
  }
  std::vector<unsigned char> data(static_cast<size_t>(count * item));
  in.seekg(header_bytes + first * item);
  if (!in.read(reinterpret_cast<char*>(data.data()), static_cast<std::streamsize>(data.size()))) {
    throw_input_error("'{}': truncated", path);
  }
  return data;
}

}  // namespace

FashionMnist load_fashion_mnist(const std::string& directory, const std::string& split, int64_t first, int64_t count) {
  if (split != "train" && split != "test") throw_input_error("Fashion-MNIST has splits train and test, not '{}'", split);
  const std::string stem = (std::filesystem::path(directory) / (split == "train" ? "train" : "t10k")).string();
  std::vector<int64_t> image_shape, label_shape;
  std::vector<unsigned char> pixels = read_idx(stem + "-images-idx3-ubyte", 3, first, count, image_shape);
  std::vector<unsigned char> labels = read_idx(stem + "-labels-idx1-ubyte", 1, first, count, label_shape);
  if (image_shape[0] != label_shape[0]) {
    throw_input_error("'{}': {} images but {} labels", directory, image_shape[0], label_shape[0]);
  }
  FashionMnist out;
  out.images = torch::from_blob(pixels.data(), {count, image_shape[1], image_shape[2]}, torch::kUInt8).clone();
  out.labels = torch::from_blob(labels.data(), {count}, torch::kUInt8).to(torch::kInt64);
  if (count > 0 && out.labels.max().item<int64_t>() > 9) throw_input_error("'{}': a label above 9", directory);
  return out;
}

const std::vector<std::string>& fashion_mnist_classes() {
  static const std::vector<std::string> names = {"t-shirt", "trouser", "pullover", "dress", "coat",
                                                 "sandal",  "shirt",   "sneaker",  "bag",   "ankle boot"};
  return names;
}

torch::Tensor fashion_mnist_pixels(const torch::Tensor& images, int size) {
  namespace F = torch::nn::functional;
  const torch::Tensor grey = images.to(torch::kFloat32).unsqueeze(1);
  const torch::Tensor resized =
      F::interpolate(grey, F::InterpolateFuncOptions().size(std::vector<int64_t>{size, size}).mode(torch::kBilinear).align_corners(false));
  return resized.expand({-1, 3, -1, -1}).contiguous();
}

}  // namespace bcfeat
