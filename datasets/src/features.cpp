#include "bcfeat/datasets/features.h"

#include <cmath>
#include <filesystem>
#include <map>
#include <mutex>

#include "bcfeat/datasets/photos.h"
#include "bcfeat/framework/compressor.h"
#include "bcfeat/framework/error.h"
#include "bcfeat/framework/models/efficientnet.h"
#include "bcfeat/framework/tensor_io.h"

namespace bcfeat {

void FeatureOptions::declare(ParamSet& params, const std::string& prefix) {
  params.add(prefix + ".source", &source,
             "where features come from: synthetic, file, or efficientnet_lite0 (a pretrained ImageNet encoder's "
             "feature map on real photographs)")
      .one_of({"synthetic", "file", "efficientnet_lite0"});
  params.add(prefix + ".path", &path, "file: a .npy or .safetensors tensor, [N, D] or [B, N, D]");
  params.add(prefix + ".key", &key, "file: safetensors tensor name (may be empty when the file holds one)");
  params.add(prefix + ".batch", &batch, "synthetic, efficientnet_lite0: number of images B").range(1, 1 << 16);
  params.add(prefix + ".weights", &weights, "efficientnet_lite0: its weights (tools/setup.sh converts them)");
  params.add(prefix + ".images", &images,
             "efficientnet_lite0: a directory of same-size .png photographs; B of them, spread evenly over the sorted "
             "files");
  params.add(prefix + ".tap", &tap, "efficientnet_lite0: the feature map taken: stage1 .. stage7 or head")
      .one_of(EfficientNetLiteImpl::tap_names());
  params.add(prefix + ".tokens_hw", &tokens_hw, "synthetic: token grid [h, w], N = h*w").range(1, 4096);
  params.add(prefix + ".dim", &dim, "synthetic: channels D").range(1, 1 << 16);
  params.add(prefix + ".outlier_channels", &outlier_channels, "synthetic: channels with massive activations")
      .range(0, 1 << 16);
  params.add(prefix + ".outlier_scale", &outlier_scale, "synthetic: outlier channel scale vs a typical channel")
      .range(0, 1e6);
}

torch::Tensor synthetic_features(const FeatureOptions& options, uint64_t seed) {
  check_feature_source(options);
  constexpr int kFields = 8;  // smooth latent fields per image
  constexpr int kWaves = 3;   // plane waves per field
  const int64_t batch = options.batch, height = options.tokens_hw[0], width = options.tokens_hw[1];
  const int64_t tokens = height * width, dim = options.dim;
  SeededRandom random(seed * 0x2545f4914f6cdd1dull + 1);

  // Channel mixing weights, scales, offsets; outlier channels spread over the range.
  std::vector<double> mixing(dim * kFields), scale(dim), offset(dim), noise(dim);
  for (auto& w : mixing) w = random.normal() / std::sqrt(static_cast<double>(kFields));
  for (int64_t d = 0; d < dim; ++d) {
    double t = random.normal() / std::sqrt((std::pow(random.normal(), 2) + std::pow(random.normal(), 2) +
                                            std::pow(random.normal(), 2)) / 3.0);  // Student-t, 3 dof
    scale[d] = 0.5 + 0.5 * std::fabs(t);
    offset[d] = 0.2 * random.normal();
    noise[d] = 0.25;
  }
  for (int k = 0; k < options.outlier_channels; ++k) {
    const int64_t d = (static_cast<int64_t>(k) * 2 + 1) * dim / (2 * options.outlier_channels);
    scale[d] *= options.outlier_scale * 0.3;
    offset[d] = options.outlier_scale * (random.uniform() < 0.5 ? -1.0 : 1.0);
  }

  torch::Tensor out = torch::empty({batch, tokens, dim}, torch::kFloat32);
  float* values = out.data_ptr<float>();
  std::vector<double> fields(tokens * kFields);
  for (int64_t b = 0; b < batch; ++b) {
    for (int k = 0; k < kFields; ++k) {
      double fx[kWaves], fy[kWaves], phase[kWaves], amplitude[kWaves];
      for (int w = 0; w < kWaves; ++w) {
        fx[w] = random.normal() * 1.5 / width;  // a few cycles across the grid at most
        fy[w] = random.normal() * 1.5 / height;
        phase[w] = 6.283185307179586 * random.uniform();
        amplitude[w] = random.normal();
      }
      for (int64_t y = 0; y < height; ++y) {
        for (int64_t x = 0; x < width; ++x) {
          double sum = 0.0;
          for (int w = 0; w < kWaves; ++w) sum += amplitude[w] * std::cos(6.283185307179586 * (fx[w] * x + fy[w] * y) + phase[w]);
          fields[(y * width + x) * kFields + k] = sum;
        }
      }
    }
    for (int64_t t = 0; t < tokens; ++t) {
      for (int64_t d = 0; d < dim; ++d) {
        double mixed = 0.0;
        for (int k = 0; k < kFields; ++k) mixed += mixing[d * kFields + k] * fields[t * kFields + k];
        values[(b * tokens + t) * dim + d] =
            static_cast<float>(offset[d] + scale[d] * (mixed + noise[d] * random.normal()));
      }
    }
  }
  return out;
}

void check_feature_source(const FeatureOptions& options) {
  if (options.source == "synthetic") {
    if (options.tokens_hw.size() != 2) throw_input_error("features.tokens_hw must be [h, w], got {} values", options.tokens_hw.size());
    if (options.outlier_channels > options.dim) {
      throw_input_error("features.outlier_channels = {} exceeds features.dim = {}", options.outlier_channels, options.dim);
    }
    return;
  }
  if (options.source == "efficientnet_lite0") {
    if (!std::filesystem::is_regular_file(options.weights)) {
      throw_input_error("features.weights '{}' does not exist (tools/setup.sh converts the pretrained weights)",
                        options.weights);
    }
    const int64_t total = static_cast<int64_t>(photo_files(options.images, 0, -1).size());
    if (options.batch > total) {
      throw_input_error("features.batch = {} but '{}' holds {} photographs", options.batch, options.images, total);
    }
    return;
  }
  if (options.path.empty()) throw_input_error("features.source is 'file' but features.path is empty");
  const TensorFileInfo info = inspect_tensor_file(options.path, options.key);
  if (info.shape.size() != 2 && info.shape.size() != 3) {
    throw_input_error("'{}' holds a tensor of shape [{}]; expected [N, D] or [B, N, D]", options.path, fmt::join(info.shape, ", "));
  }
}

std::vector<int64_t> spread_indices(int64_t total, int64_t count) {
  std::vector<int64_t> out;
  for (int64_t i = 0; i < count; ++i) out.push_back(static_cast<int64_t>(std::llround(static_cast<double>(i) * total / count)));
  return out;
}

torch::Tensor efficientnet_features(const FeatureOptions& options) {
  static std::mutex mutex;
  static std::map<std::string, torch::Tensor> memo;
  const std::string key = options.weights + "\n" + options.images + "\n" + options.tap + "\n" + std::to_string(options.batch);
  std::lock_guard<std::mutex> lock(mutex);
  if (const auto it = memo.find(key); it != memo.end()) return it->second;
  const std::vector<std::string> all = photo_files(options.images, 0, -1);
  std::vector<std::string> files;
  for (int64_t i : spread_indices(static_cast<int64_t>(all.size()), options.batch)) files.push_back(all[static_cast<size_t>(i)]);
  EfficientNetLite model = load_efficientnet_lite(options.weights, torch::kCPU);
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> parts;
  constexpr size_t kBatch = 32;
  for (size_t start = 0; start < files.size(); start += kBatch) {
    const std::vector<std::string> part(files.begin() + static_cast<long>(start),
                                        files.begin() + static_cast<long>(std::min(files.size(), start + kBatch)));
    model->forward(efficientnet_normalize(load_photos(part)), [&](const std::string& name, const torch::Tensor& tokens, int, int) {
      if (name == options.tap) parts.push_back(tokens.contiguous());
      return tokens;
    });
  }
  return memo[key] = torch::cat(parts);
}

torch::Tensor load_features(const FeatureOptions& options, uint64_t seed) {
  if (options.source == "synthetic") return synthetic_features(options, seed);
  if (options.source == "efficientnet_lite0") return efficientnet_features(options);
  if (options.path.empty()) throw_input_error("features.source is 'file' but features.path is empty");
  const LoadedTensor loaded = read_tensor_file(options.path, options.key);
  return prepare_features(loaded.values, "features file '" + options.path + "'");
}

}  // namespace bcfeat
