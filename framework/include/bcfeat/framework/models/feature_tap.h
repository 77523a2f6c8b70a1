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
  // per_image: each image's tokens [1, N, D] are one stream (as a feature cache stores them);
  // otherwise the batch's [B, N, D] is one stream.
  FeatureTap(std::shared_ptr<Compressor> compressor, std::vector<int> taps, bool per_image = false)
      : compressor_(std::move(compressor)), taps_(std::move(taps)), per_image_(per_image) {}
  VisualTap tap();
  // Any model's tokens [B, N, D] compressed (per image or as one stream) and restored, in
  // their dtype and device, and counted.
  torch::Tensor apply(const torch::Tensor& tokens);
  // Streams compressed elsewhere (a feature cache's records, one image each, on the host)
  // decoded into [B, N, D] float32 on `device`, counted as the tap counts its own; on CUDA
  // the records go over in one copy from pinned memory. `originals` [B, N, D] (any device)
  // are what the records were made from, for the distortion.
  torch::Tensor decode(const std::vector<Compressed>& streams, const torch::Tensor& originals, torch::Device device);
  // rate_metrics over every tapped value (shared state counted once) + feature_* distortion,
  // encode/decode time and bytes per image; transfer_ms when streams came through decode().
  nlohmann::json metrics(int64_t images) const;
  const std::vector<int>& taps() const { return taps_; }

 private:
  // Counts one stream and its reconstruction.
  void count(const Compressed& stream, const torch::Tensor& features, const torch::Tensor& restored);
  std::shared_ptr<Compressor> compressor_;
  std::vector<int> taps_;
  bool per_image_ = false;
  int64_t bytes_ = 0, side_ = 0, values_ = 0;
  double squared_error_ = 0, energy_ = 0, encode_ms_ = 0, decode_ms_ = 0, transfer_ms_ = 0;
  bool decoded_streams_ = false;
};

}  // namespace bcfeat
