// The compressing feature tap: a model's visual tokens after chosen ViT blocks go through a
// compressor and back, and every byte is counted.
#pragma once

#include <memory>
#include <vector>

#include <nlohmann/json.hpp>

#include "bcfeat/framework/compressor.h"
#include "bcfeat/framework/models/tinyvlm.h"

namespace bcfeat {

// Compresses the visual tokens after the chosen ViT blocks and counts every byte.
class FeatureTap {
 public:
  FeatureTap(std::shared_ptr<Compressor> compressor, std::vector<int> taps) : compressor_(std::move(compressor)), taps_(std::move(taps)) {}
  VisualTap tap();
  // rate_metrics over every tapped value (shared state counted once) + feature_* distortion,
  // encode/decode time and bytes per image.
  nlohmann::json metrics(int64_t images) const;
  const std::vector<int>& taps() const { return taps_; }

 private:
  std::shared_ptr<Compressor> compressor_;
  std::vector<int> taps_;
  int64_t bytes_ = 0, side_ = 0, values_ = 0;
  double squared_error_ = 0, energy_ = 0, encode_ms_ = 0, decode_ms_ = 0;
};

}  // namespace bcfeat
