#include "bcfeat/framework/models/feature_tap.h"

#include <torch/cuda.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "bcfeat/framework/metrics.h"

namespace bcfeat {

using Clock = std::chrono::steady_clock;

VisualTap FeatureTap::tap() {
  return [this](int layer, const torch::Tensor& tokens) {
    if (std::find(taps_.begin(), taps_.end(), layer) == taps_.end()) return tokens;
    // [B, N, E] on the model's device: a compressor on the GPU keeps the stream there.
    const torch::Tensor features = tokens.permute({1, 0, 2}).to(torch::kFloat32).contiguous();
    // GPU work is asynchronous: the clock reads after the device has finished.
    const auto now = [&features] {
      if (features.is_cuda()) torch::cuda::synchronize();
      return Clock::now();
    };
    const auto t0 = now();
    const Compressed compressed = compressor_->compress(features);
    const auto t1 = now();
    const torch::Tensor restored = compressor_->decompress(compressed);
    encode_ms_ += std::chrono::duration<double, std::milli>(t1 - t0).count();
    decode_ms_ += std::chrono::duration<double, std::milli>(now() - t1).count();
    bytes_ += compressed.size();
    side_ += compressed.side_bytes;
    values_ += features.numel();
    squared_error_ += (restored - features).pow(2).sum().item<double>();
    energy_ += features.pow(2).sum().item<double>();
    return restored.permute({1, 0, 2}).to(tokens.device(), tokens.dtype());
  };
}

nlohmann::json FeatureTap::metrics(int64_t images) const {
  const int64_t shared = compressor_->shared_bytes();
  nlohmann::json metrics = rate_metrics(bytes_ + shared, side_ + shared, std::max<int64_t>(values_, 1));
  metrics["shared_bytes"] = shared;
  // Memory of the tapped features per image: what is stored, and what fp16 would take.
  metrics["feature_bytes_per_image"] = static_cast<double>(bytes_) / static_cast<double>(images);
  metrics["feature_fp16_bytes_per_image"] = 2.0 * static_cast<double>(values_) / static_cast<double>(images);
  metrics["feature_rel_l2"] = energy_ > 0 ? std::sqrt(squared_error_ / energy_) : 0.0;
  metrics["feature_mse"] = values_ > 0 ? squared_error_ / static_cast<double>(values_) : 0.0;
  metrics["encode_ms"] = encode_ms_;
  metrics["decode_ms"] = decode_ms_;
  return metrics;
}

}  // namespace bcfeat
