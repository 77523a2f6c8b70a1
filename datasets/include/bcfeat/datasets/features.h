// Feature sources: a user's file (.npy / .safetensors) or the seeded synthetic generator.
//
// The synthetic generator mimics what ViT patch features look like to a compressor:
//  - spatial correlation: each channel mixes a few smooth random fields over the h×w token
//    grid (sums of low-frequency plane waves), plus per-token noise;
//  - heavy-tailed channel scales (|Student-t, 3 dof|), and per-channel offsets;
//  - `outlier_channels` channels with a large offset and scale ("massive activations").
// It depends only on the seed and the options, through bcfeat's own RNG, so the same
// config gives bit-identical features on every machine.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <torch/types.h>

#include "bcfeat/framework/params.h"
#include "bcfeat/framework/random.h"

namespace bcfeat {

struct FeatureOptions {
  std::string source = "synthetic";   // synthetic | file | efficientnet_lite0
  std::string path;                   // file: .npy or .safetensors
  std::string key;                    // file: safetensors tensor name (optional with one tensor)
  int batch = 4;                      // synthetic, efficientnet_lite0: images
  std::string weights = "build/real/efficientnet_lite0.safetensors";  // efficientnet_lite0
  std::string images = "build/real/photos";                           // efficientnet_lite0: a photo directory
  std::string tap = "head";                                           // efficientnet_lite0: stage1..stage7, head
  std::vector<int> tokens_hw = {16, 16};  // synthetic: token grid h, w
  int dim = 384;                      // synthetic: channels
  int outlier_channels = 4;           // synthetic: channels with massive activations
  double outlier_scale = 30.0;        // synthetic: their scale relative to a typical channel

  void declare(ParamSet& params, const std::string& prefix = "features");
};

// [B, N, D] float32 features from the synthetic generator.
torch::Tensor synthetic_features(const FeatureOptions& options, uint64_t seed);

// Checks a feature source before a sweep starts: the file exists, its header is valid,
// its size matches, its shape is [N, D] or [B, N, D]; synthetic options are consistent.
void check_feature_source(const FeatureOptions& options);

// efficientnet_lite0: the feature map at features.tap of features.batch photographs of
// features.images, spread evenly over the set (image round(i * total / batch) for i < batch, in
// file-name order), as [B, h*w, C] tokens. Computed once per process for the same inputs.
torch::Tensor efficientnet_features(const FeatureOptions& options);
// Those images' indices in the sorted directory.
std::vector<int64_t> spread_indices(int64_t total, int64_t count);

// The features a run asks for: validated (finite, 2-D/3-D) and shaped [B, N, D].
torch::Tensor load_features(const FeatureOptions& options, uint64_t seed);

}  // namespace bcfeat
