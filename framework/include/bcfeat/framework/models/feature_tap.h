// The compressing feature tap: a model's visual tokens after chosen ViT blocks go through a
// compressor and back, and every byte is counted.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "bcfeat/framework/allocation.h"
#include "bcfeat/framework/compressor.h"
#include "bcfeat/framework/models/tinyvlm.h"

namespace bcfeat {

// One tapped block and the compressor of its tokens (several taps may share one compressor:
// its shared state is then counted once).
struct TapCompressor {
  int layer = 0;
  std::shared_ptr<Compressor> compressor;
  std::string name;  // what the per-tap metrics call it ("texture bc1", ...)
};

// Compresses the visual tokens after the chosen ViT blocks and counts every byte, in total
// and per tap.
class FeatureTap {
 public:
  // per_image: each image's tokens [1, N, D] are one stream (as a feature cache stores them);
  // otherwise the batch's [B, N, D] is one stream.
  FeatureTap(std::vector<TapCompressor> taps, bool per_image = false);
  // Every tap through one compressor.
  FeatureTap(std::shared_ptr<Compressor> compressor, std::vector<int> taps, bool per_image = false);
  VisualTap tap();
  // Tiered allocation at tap `index` (allocation.h): its tokens [B, N, D] are scored by
  // `score(layer, tokens)` → [B, N] and split into `tiers`, each image's tier map counted.
  using TokenScorer = std::function<torch::Tensor(int layer, const torch::Tensor& tokens)>;
  void allocate(size_t index, std::shared_ptr<const TieredCompressor> tiers, TokenScorer score);
  // The tokens the last allocating apply() dropped, [B, N] (undefined when it dropped none).
  const torch::Tensor& dropped() const { return dropped_; }
  // Any model's tokens [B, N, D] compressed by tap `index`'s compressor (per image or as one
  // stream) and restored, in their dtype and device, and counted.
  torch::Tensor apply(const torch::Tensor& tokens, size_t index = 0);
  // Streams compressed elsewhere (a feature cache's records, one image each, on the host)
  // decoded into [B, N, D] float32 on `device`, counted as the tap counts its own; on CUDA
  // the records go over in one copy from pinned memory. `originals` [B, N, D] (any device)
  // are what the records were made from, for the distortion.
  torch::Tensor decode(const std::vector<Compressed>& streams, const torch::Tensor& originals, torch::Device device);
  // rate_metrics over every tapped value (shared state counted once) + feature_* distortion,
  // encode/decode time and bytes per image; transfer_ms when streams came through decode().
  // With more than one tap, `per_tap` {"<layer>": the same fields for that tap's values}: its
  // streams' bytes plus the shared state of a compressor no other tap uses, so the taps'
  // bytes add up to the total.
  nlohmann::json metrics(int64_t images) const;
  std::vector<int> taps() const;

 private:
  struct Counts {
    int64_t bytes = 0, side = 0, values = 0;
    double squared_error = 0, energy = 0;
  };
  // Counts one stream and its reconstruction at tap `index`.
  void count(size_t index, const Compressed& stream, const torch::Tensor& features, const torch::Tensor& restored);
  nlohmann::json counts_metrics(const Counts& counts, int64_t shared_bytes, int64_t images) const;
  std::vector<TapCompressor> taps_;
  std::vector<Counts> counts_;
  struct Allocation {
    size_t index = 0;
    std::shared_ptr<const TieredCompressor> tiers;
    TokenScorer score;
    std::vector<int64_t> tier_tokens, tier_bytes;
    int64_t map_bytes = 0, images = 0, dropped = 0;
    double ms = 0;
  };
  std::optional<Allocation> allocation_;
  torch::Tensor dropped_;
  bool per_image_ = false;
  double encode_ms_ = 0, decode_ms_ = 0, transfer_ms_ = 0;
  bool decoded_streams_ = false;
};

}  // namespace bcfeat
