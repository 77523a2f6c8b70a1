#include "bcfeat/framework/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <vector>

#include "bcfeat/framework/random.h"

namespace bcfeat {

nlohmann::json distortion_metrics(const torch::Tensor& reference_in, const torch::Tensor& reconstructed_in) {
  const torch::Tensor reference = reference_in.to(torch::kCPU, torch::kFloat32).contiguous();
  const torch::Tensor reconstructed = reconstructed_in.to(torch::kCPU, torch::kFloat32).contiguous();
  TORCH_CHECK(reference.sizes() == reconstructed.sizes(), "metric inputs differ in shape");
  const int64_t dim = reference.size(-1);
  const int64_t tokens = reference.numel() / dim;
  const float* x = reference.data_ptr<float>();
  const float* y = reconstructed.data_ptr<float>();

  double squared_error = 0.0, reference_energy = 0.0, max_abs = 0.0;
  double low = std::numeric_limits<double>::infinity(), high = -low;
  std::vector<double> cosines(tokens);
  for (int64_t t = 0; t < tokens; ++t) {
    double dot = 0.0, xx = 0.0, yy = 0.0;
    for (int64_t d = 0; d < dim; ++d) {
      const double a = x[t * dim + d], b = y[t * dim + d];
      const double error = a - b;
      squared_error += error * error;
      max_abs = std::max(max_abs, std::fabs(error));
      low = std::min(low, a);
      high = std::max(high, a);
      dot += a * b;
      xx += a * a;
      yy += b * b;
    }
    reference_energy += xx;
    if (xx == 0.0 && yy == 0.0) {
      cosines[t] = 1.0;
    } else if (xx == 0.0 || yy == 0.0) {
      cosines[t] = 0.0;
    } else {
      cosines[t] = dot / std::sqrt(xx * yy);
    }
  }
  const double count = static_cast<double>(reference.numel());
  const double mse = squared_error / count;
  const double range = high - low;
  double cosine_sum = 0.0;
  for (double c : cosines) cosine_sum += c;
  std::vector<double> sorted = cosines;
  std::sort(sorted.begin(), sorted.end());
  // 1st percentile by linear interpolation between order statistics (numpy's default).
  const double position = 0.01 * static_cast<double>(tokens - 1);
  const size_t below = static_cast<size_t>(std::floor(position));
  const size_t above = std::min(below + 1, sorted.size() - 1);
  const double p01 = sorted[below] + (position - below) * (sorted[above] - sorted[below]);

  const double inf = std::numeric_limits<double>::infinity();
  return {
      {"mse", mse},
      {"psnr_db", mse > 0.0 ? 10.0 * std::log10(range * range / mse) : inf},
      {"rel_l2", reference_energy > 0.0 ? std::sqrt(squared_error / reference_energy) : 0.0},
      {"cosine_mean", cosine_sum / static_cast<double>(tokens)},
      {"cosine_min", sorted.front()},
      {"cosine_p01", p01},
      {"max_abs_err", max_abs},
  };
}

nlohmann::json rate_metrics(int64_t total_bytes, int64_t side_bytes, int64_t value_count) {
  const double bits_per_value = 8.0 * static_cast<double>(total_bytes) / static_cast<double>(value_count);
  return {
      {"bytes", total_bytes},
      {"side_bytes", side_bytes},
      {"bits_per_value", bits_per_value},
      {"compression_ratio", 16.0 / bits_per_value},
  };
}

std::pair<double, double> paired_bootstrap_ci(const torch::Tensor& a, const torch::Tensor& b, int resamples, uint64_t seed) {
  const torch::Tensor da = a.to(torch::kDouble).contiguous(), db = b.to(torch::kDouble).contiguous();
  const double* pa = da.data_ptr<double>();
  const double* pb = db.data_ptr<double>();
  const int64_t n = da.numel();
  SeededRandom random(seed);
  std::vector<double> drops;
  for (int r = 0; r < resamples; ++r) {
    double sum = 0;
    for (int64_t k = 0; k < n; ++k) {
      const int64_t i = static_cast<int64_t>(random.next() % static_cast<uint64_t>(n));
      sum += pa[i] - pb[i];
    }
    drops.push_back(100.0 * sum / static_cast<double>(n));
  }
  std::sort(drops.begin(), drops.end());
  auto quantile = [&](double q) { return drops[static_cast<size_t>(std::llround(q * (drops.size() - 1)))]; };
  return {quantile(0.025), quantile(0.975)};
}

namespace {

// Caption ids [S]: equal captions share an id.
torch::Tensor caption_ids(const torch::Tensor& captions) {
  std::map<std::vector<int64_t>, int64_t> ids;
  const torch::Tensor c = captions.to(torch::kCPU, torch::kLong).contiguous();
  std::vector<int64_t> id(c.size(0));
  for (int64_t s = 0; s < c.size(0); ++s) {
    const int64_t* row = c[s].data_ptr<int64_t>();
    id[s] = ids.emplace(std::vector<int64_t>(row, row + c.size(1)), static_cast<int64_t>(ids.size())).first->second;
  }
  return torch::tensor(id, torch::kLong);
}

}  // namespace

RetrievalHits retrieval_hits(const torch::Tensor& image_embeddings, const torch::Tensor& text_embeddings,
                             const torch::Tensor& captions) {
  const torch::Tensor caption_id = caption_ids(captions);
  const torch::Tensor similarity = image_embeddings.to(torch::kCPU, torch::kDouble).matmul(text_embeddings.to(torch::kCPU, torch::kDouble).t());
  const int64_t k = std::min<int64_t>(5, similarity.size(0));
  auto hits = [&](const torch::Tensor& scores) {  // rows are queries
    const torch::Tensor top = std::get<1>(scores.topk(k, 1));  // [S, k]
    const torch::Tensor same = caption_id.index_select(0, top.flatten()).reshape(top.sizes()).eq(caption_id.unsqueeze(1));
    return std::make_pair(same.select(1, 0).to(torch::kDouble), same.any(1).to(torch::kDouble));
  };
  const auto i2t = hits(similarity), t2i = hits(similarity.t());
  return {i2t.first, i2t.second, t2i.first, t2i.second};
}

torch::Tensor nearest_caption_agreement(const torch::Tensor& reference, const torch::Tensor& compressed,
                                        const torch::Tensor& text_embeddings, const torch::Tensor& captions) {
  const torch::Tensor caption_id = caption_ids(captions);
  const torch::Tensor texts = text_embeddings.to(torch::kCPU, torch::kDouble).t();
  const torch::Tensor before = reference.to(torch::kCPU, torch::kDouble).matmul(texts).argmax(1);
  const torch::Tensor after = compressed.to(torch::kCPU, torch::kDouble).matmul(texts).argmax(1);
  return caption_id.index_select(0, before).eq(caption_id.index_select(0, after)).to(torch::kDouble);
}

std::vector<std::pair<std::string, double>> grouped_accuracy(const torch::Tensor& right, const torch::Tensor& groups,
                                                             const std::vector<std::string>& names) {
  std::vector<std::pair<std::string, double>> out;
  for (size_t g = 0; g < names.size(); ++g) {
    const torch::Tensor mask = groups.eq(static_cast<int64_t>(g));
    if (!mask.any().item<bool>()) continue;
    out.emplace_back(names[g], right.masked_select(mask).to(torch::kDouble).mean().item<double>());
  }
  return out;
}

double quantile(std::vector<double> values, double q) {
  if (values.empty()) throw std::invalid_argument("quantile of no values");
  std::sort(values.begin(), values.end());
  return values[static_cast<size_t>(std::llround(q * static_cast<double>(values.size() - 1)))];
}

}  // namespace bcfeat
