#include "bcfeat/framework/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

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

}  // namespace bcfeat
