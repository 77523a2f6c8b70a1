// Distortion and rate metrics of a compressed feature tensor.
//
// All sums run in double precision in a fixed order, so the same inputs give the same
// numbers on every machine and thread count.
//   mse           mean squared error over all values
//   psnr_db       10·log10(range² / mse), range = max − min of the reference tensor
//   rel_l2        ‖x − y‖ / ‖x‖
//   cosine_*      cosine similarity between each token's reference and reconstructed
//                 D-vector: mean, minimum and 1st percentile over the B·N tokens
//                 (two zero vectors count as 1, one zero vector as 0)
//   max_abs_err   largest absolute error
//   bits_per_value     total stream bits / (B·N·D), side information included
//   compression_ratio  16 / bits_per_value (relative to storing fp16)
#pragma once

#include <cstdint>

#include <nlohmann/json.hpp>
#include <torch/types.h>

namespace bcfeat {

nlohmann::json distortion_metrics(const torch::Tensor& reference, const torch::Tensor& reconstructed);
nlohmann::json rate_metrics(int64_t total_bytes, int64_t side_bytes, int64_t value_count);

}  // namespace bcfeat
