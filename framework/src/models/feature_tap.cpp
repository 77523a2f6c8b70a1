#include "bcfeat/framework/models/feature_tap.h"

#include <torch/cuda.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>

#include "bcfeat/framework/metrics.h"

namespace bcfeat {

using Clock = std::chrono::steady_clock;

namespace {

// The clock after the device has finished (GPU work is asynchronous).
Clock::time_point synchronized_now(bool cuda) {
  if (cuda) torch::cuda::synchronize();
  return Clock::now();
}

double milliseconds(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

}  // namespace

void FeatureTap::count(const Compressed& stream, const torch::Tensor& features, const torch::Tensor& restored) {
  bytes_ += stream.size();
  side_ += stream.side_bytes;
  values_ += features.numel();
  const torch::Tensor reference = features.to(restored.device(), torch::kFloat32);
  squared_error_ += (restored - reference).pow(2).sum().item<double>();
  energy_ += reference.pow(2).sum().item<double>();
}

torch::Tensor FeatureTap::apply(const torch::Tensor& tokens) {
  // [B, N, E] on the model's device: a compressor on the GPU keeps the stream there.
  const torch::Tensor features = tokens.to(torch::kFloat32).contiguous();
  const bool cuda = features.is_cuda();
  std::vector<torch::Tensor> parts;
  const int64_t step = per_image_ ? 1 : features.size(0);
  for (int64_t start = 0; start < features.size(0); start += step) {
    const torch::Tensor part = features.slice(0, start, start + step).contiguous();
    const auto t0 = synchronized_now(cuda);
    const Compressed compressed = compressor_->compress(part);
    const auto t1 = synchronized_now(cuda);
    parts.push_back(compressor_->decompress(compressed));
    encode_ms_ += milliseconds(t0, t1);
    decode_ms_ += milliseconds(t1, synchronized_now(cuda));
    count(compressed, part, parts.back());
  }
  const torch::Tensor restored = parts.size() == 1 ? parts[0] : torch::cat(parts);
  return restored.to(tokens.device(), tokens.dtype());
}

VisualTap FeatureTap::tap() {
  return [this](int layer, const torch::Tensor& tokens) {
    if (std::find(taps_.begin(), taps_.end(), layer) == taps_.end()) return tokens;
    return apply(tokens.permute({1, 0, 2})).permute({1, 0, 2});
  };
}

torch::Tensor FeatureTap::decode(const std::vector<Compressed>& streams, const torch::Tensor& originals,
                                 torch::Device device) {
  decoded_streams_ = true;
  const bool cuda = device.is_cuda();
  std::vector<Compressed> ready = streams;
  const auto t0 = synchronized_now(cuda);
  if (cuda) {
    // One pinned buffer, each record at a 16-byte boundary, one copy to the device.
    std::vector<int64_t> offsets;
    int64_t total = 0;
    for (const auto& stream : streams) {
      offsets.push_back(total);
      total += (stream.size() + 15) / 16 * 16;
    }
    torch::Tensor pinned = torch::empty({std::max<int64_t>(total, 1)}, torch::dtype(torch::kUInt8).pinned_memory(true));
    for (size_t i = 0; i < streams.size(); ++i) {
      std::memcpy(pinned.data_ptr<uint8_t>() + offsets[i], streams[i].bytes.data(), streams[i].bytes.size());
    }
    const torch::Tensor on_device = pinned.to(device, /*non_blocking=*/true);
    for (size_t i = 0; i < streams.size(); ++i) {
      ready[i].bytes.clear();
      ready[i].device_bytes = on_device.narrow(0, offsets[i], streams[i].size());
    }
  }
  const auto t1 = synchronized_now(cuda);
  std::vector<torch::Tensor> parts;
  for (const auto& stream : ready) parts.push_back(compressor_->decompress(stream));
  const torch::Tensor restored = torch::cat(parts);
  const auto t2 = synchronized_now(cuda);
  transfer_ms_ += milliseconds(t0, t1);
  decode_ms_ += milliseconds(t1, t2);
  for (size_t i = 0; i < streams.size(); ++i) {
    count(streams[i], originals.slice(0, static_cast<int64_t>(i), static_cast<int64_t>(i) + 1),
          restored.slice(0, static_cast<int64_t>(i), static_cast<int64_t>(i) + 1));
  }
  return restored;
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
  if (decoded_streams_) metrics["transfer_ms"] = transfer_ms_;
  return metrics;
}

}  // namespace bcfeat
