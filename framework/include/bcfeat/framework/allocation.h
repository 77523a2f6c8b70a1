// Allocation: where the bits of a tap go among its tokens.
//
// The tokens [B, N, D] of a tap (N = h×w on the model's token grid) are grouped into units —
// one token, or a 2×2 or 4×4 patch of the grid (the unit is what a tier decision covers; a
// 2×2 unit is exactly one 4-token block row of the token_channel layout) — and each unit is
// scored by importance: the mean of its tokens' scores. Units are then assigned to tiers, an
// ordered list from most to least faithful:
//   a compressor word (named_compression: fp16, int4, bc7, bc6h_sf16, bc1, astc_12x12, ...)
//       the tier's tokens, unit after unit in raster order, are one stream [1, n, D] per
//       batch (or per image); block formats use the token_channel layout (a block = 4 tokens
//       × 4 channel slots; tokens_hw and keep_tokens do not apply);
//   pool   each unit stored as the fp16 mean of its tokens (2·D bytes), every token of the
//          unit restored as that mean (average pooling);
//   merge  VisionZip-style contextual tokens: per image, the tier's tokens are merged into at
//          most merge_tokens tokens (seeds evenly spaced in raster order, every token joins the
//          seed it is most cosine-similar to, a group stored as its fp16 mean and the seed's u16
//          position); the other tokens are dropped;
//   prune  0 bytes: the tokens are dropped (the model masks them out of its attention).
// Units are assigned per image by rank (the most important first): by `fractions` (quantiles:
// image by image, round(c_t·U) − round(c_{t−1}·U) units to tier t, c the cumulative fractions),
// or by rate control: `target_bits_per_value` over the batch's B·N·D values, every byte
// counted, solved exactly: with the tiers' all-in costs C_0 ≥ C_1 ≥ ..., the two adjacent
// tiers j, j+1 whose costs bracket the budget share the units, the k units of the smallest
// per-image rank quantile (ties: lower image first) in tier j, the largest k that stays
// within the budget. The budget runs over the whole evaluation: what a batch leaves unspent
// passes to the next. The tier map (each unit's tier) is stored per image at ceil(log2 tiers)
// bits per unit, packed, and counted.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/types.h>

#include "bcfeat/framework/compressor.h"
#include "bcfeat/framework/params.h"

namespace bcfeat {

struct AllocationOptions {
  std::string importance = "none";  // none = no allocation; see importance_names()
  std::vector<std::string> tiers;
  std::vector<double> fractions;
  double target_bits_per_value = 0.0;  // > 0: rate control
  std::string unit = "2x2";            // token | 2x2 | 4x4
  int merge_tokens = 8;
  bool enabled() const { return importance != "none"; }
  void declare(ParamSet& params);  // allocation.*
};

// none, attention, gradient, query (model scorers, computed by the experiment), norm, random,
// uniform (computed here).
const std::vector<std::string>& importance_names();
bool builtin_importance(const std::string& kind);
// Scores [B, N] (larger = more important) of tokens [B, N, D] on an h×w grid: norm = token L2
// norm; random = uniform noise from `seed`; uniform = spatially even: the coarser the lattice a
// token lies on (x and y multiples of 2^k), the higher, ties by raster order (so the first kept
// units spread evenly over the grid).
torch::Tensor importance_scores(const std::string& kind, const torch::Tensor& tokens, int64_t grid_h, int64_t grid_w,
                                uint64_t seed);

class TieredCompressor {
 public:
  // `base`: the config's compression block, under every compressor tier. Throws InputError for
  // a bad tier, fraction list, unit or target (naming the key).
  TieredCompressor(const AllocationOptions& options, const CompressionOptions& base, int64_t grid_h, int64_t grid_w,
                   int64_t dim);

  struct Output {
    torch::Tensor restored;  // [B, N, D] float32 on the input's device; dropped tokens 0
    torch::Tensor dropped;   // [B, N] bool, true where a token was pruned or merged away
    std::vector<int64_t> tier_tokens, tier_bytes, tier_side;
    int64_t map_bytes = 0;
    int64_t bytes() const;  // every tier + the map
    int64_t side_bytes() const;
  };
  // features [B, N, D] float32 contiguous, scores [B, N]; per_image: each image's tiers are
  // streams of their own (else one stream per tier for the batch). Rate control spends
  // `budget` bytes when given (a caller that carries what earlier batches left unspent, so the
  // whole evaluation meets the target within one unit's step), else the target's share of
  // this batch.
  Output apply(const torch::Tensor& features, const torch::Tensor& scores, bool per_image,
               std::optional<int64_t> budget = std::nullopt) const;
  const AllocationOptions& options() const { return options_; }
  const std::vector<std::string>& tiers() const { return options_.tiers; }
  int64_t units() const { return static_cast<int64_t>(unit_tokens_.size()); }
  int map_bits() const { return map_bits_; }

 private:
  enum class Kind { kCompressor, kPool, kMerge, kPrune };
  struct Tier {
    Kind kind = Kind::kPrune;
    std::shared_ptr<Compressor> compressor;
  };
  // tier_of[i][u]: the tier of unit u of image i.
  using Assignment = std::vector<std::vector<int>>;
  Assignment by_fractions(const std::vector<std::vector<int>>& ranked) const;
  Assignment by_rate(const std::vector<std::vector<int>>& ranked, int64_t budget, bool per_image) const;
  int64_t cost(const Assignment& tier_of, bool per_image) const;  // bytes of every tier and the map
  int64_t tier_cost(size_t tier, const std::vector<int64_t>& tokens_per_image, const std::vector<int64_t>& units_per_image,
                    bool per_image) const;

  AllocationOptions options_;
  std::vector<Tier> tiers_;
  int64_t dim_ = 0, tokens_ = 0;
  std::vector<std::vector<int64_t>> unit_tokens_;  // each unit's tokens, raster order
  int map_bits_ = 0;
};

}  // namespace bcfeat
