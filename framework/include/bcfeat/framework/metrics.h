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
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/types.h>

namespace bcfeat {

nlohmann::json distortion_metrics(const torch::Tensor& reference, const torch::Tensor& reconstructed);
nlohmann::json rate_metrics(int64_t total_bytes, int64_t side_bytes, int64_t value_count);

// The q-quantile of `values` (0 <= q <= 1; not empty): the sample at rank round(q·(n − 1)) of the
// sorted values (the median of an even count is the upper middle one).
double quantile(std::vector<double> values, double q);

// ---- task metrics ---------------------------------------------------------------------------

// 95% paired-bootstrap interval of 100·mean(a − b) over per-query scores a, b.
std::pair<double, double> paired_bootstrap_ci(const torch::Tensor& a, const torch::Tensor& b, int resamples, uint64_t seed);

// Per-query hits (float64 0/1) of image→text and text→image retrieval at 1 and 5 among
// the given scenes; a retrieved item counts when its caption equals the query's (scenes
// with identical captions are indistinguishable by text).
struct RetrievalHits {
  torch::Tensor image_to_text_1, image_to_text_5, text_to_image_1, text_to_image_5;
};
RetrievalHits retrieval_hits(const torch::Tensor& image_embeddings, const torch::Tensor& text_embeddings,
                             const torch::Tensor& captions);

// Alignment agreement per image ([S], float64 0/1): whether the caption nearest to the
// compressed image embedding is the one nearest to the uncompressed embedding (equal captions
// count as the same), among `text_embeddings` [S, embed] with `captions` [S, L].
torch::Tensor nearest_caption_agreement(const torch::Tensor& reference, const torch::Tensor& compressed,
                                        const torch::Tensor& text_embeddings, const torch::Tensor& captions);

// Mean of `right` ([Q], 1 for a right answer, 0 otherwise) over the queries of each group
// ([Q] group ids 0..names.size()-1), for the groups present, in id order: {name, accuracy}.
std::vector<std::pair<std::string, double>> grouped_accuracy(const torch::Tensor& right, const torch::Tensor& groups,
                                                             const std::vector<std::string>& names);

}  // namespace bcfeat
