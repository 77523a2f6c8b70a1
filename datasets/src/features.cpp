#include "bcfeat/datasets/features.h"

#include <cmath>

#include "bcfeat/framework/compressor.h"
#include "bcfeat/framework/error.h"
#include "bcfeat/framework/tensor_io.h"

namespace bcfeat {

void FeatureOptions::declare(ParamSet& params, const std::string& prefix) {
  params.add(prefix + ".source", &source, "where features come from").one_of({"synthetic", "file"});
  params.add(prefix + ".path", &path, "file: a .npy or .safetensors tensor, [N, D] or [B, N, D]");
  params.add(prefix + ".key", &key, "file: safetensors tensor name (may be empty when the file holds one)");
  params.add(prefix + ".batch", &batch, "synthetic: number of images B").range(1, 1 << 16);
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
  if (options.path.empty()) throw_input_error("features.source is 'file' but features.path is empty");
  const TensorFileInfo info = inspect_tensor_file(options.path, options.key);
  if (info.shape.size() != 2 && info.shape.size() != 3) {
    throw_input_error("'{}' holds a tensor of shape [{}]; expected [N, D] or [B, N, D]", options.path, fmt::join(info.shape, ", "));
  }
}

torch::Tensor load_features(const FeatureOptions& options, uint64_t seed) {
  if (options.source == "synthetic") return synthetic_features(options, seed);
  if (options.path.empty()) throw_input_error("features.source is 'file' but features.path is empty");
  const LoadedTensor loaded = read_tensor_file(options.path, options.key);
  return prepare_features(loaded.values, "features file '" + options.path + "'");
}

}  // namespace bcfeat
