#include "bcfeat/framework/models/feature_tap.h"

#include <torch/cuda.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <numeric>

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

FeatureTap::FeatureTap(std::vector<TapCompressor> taps, bool per_image)
    : taps_(std::move(taps)), counts_(std::max<size_t>(taps_.size(), 1)), per_image_(per_image) {}

FeatureTap::FeatureTap(std::shared_ptr<Compressor> compressor, std::vector<int> taps, bool per_image)
    : per_image_(per_image) {
  if (taps.empty()) taps.push_back(0);  // a caller that applies the compressor itself
  for (int layer : taps) taps_.push_back({layer, compressor, ""});
  counts_.resize(taps_.size());
}

std::vector<int> FeatureTap::taps() const {
  std::vector<int> out;
  for (const auto& tap : taps_) out.push_back(tap.layer);
  return out;
}

void FeatureTap::count(size_t index, const Compressed& stream, const torch::Tensor& features,
                       const torch::Tensor& restored) {
  Counts& c = counts_.at(index);
  c.bytes += stream.size();
  c.side += stream.side_bytes;
  c.values += features.numel();
  const torch::Tensor reference = features.to(restored.device(), torch::kFloat32);
  c.squared_error += (restored - reference).pow(2).sum().item<double>();
  c.energy += reference.pow(2).sum().item<double>();
}

void FeatureTap::allocate(size_t index, std::shared_ptr<const TieredCompressor> tiers, TokenScorer score) {
  Allocation a;
  a.index = index;
  a.tier_tokens.assign(tiers->tiers().size(), 0);
  a.tier_bytes.assign(tiers->tiers().size(), 0);
  a.tiers = std::move(tiers);
  a.score = std::move(score);
  allocation_ = std::move(a);
}

torch::Tensor FeatureTap::apply(const torch::Tensor& tokens, size_t index) {
  if (allocation_ && allocation_->index == index) {
    Allocation& a = *allocation_;
    const torch::Tensor features = tokens.to(torch::kFloat32).contiguous();
    const bool cuda = features.is_cuda();
    const auto t0 = synchronized_now(cuda);
    const torch::Tensor scores = a.score(taps_.at(index).layer, features);
    // The running budget: the target over every value so far, less what earlier batches spent.
    Counts& c = counts_.at(index);
    const double target = a.tiers->options().target_bits_per_value;
    const int64_t budget =
        static_cast<int64_t>(std::floor(target * static_cast<double>(c.values + features.numel()) / 8.0)) - c.bytes;
    const TieredCompressor::Output out = a.tiers->apply(features, scores, per_image_, std::max<int64_t>(budget, 0));
    a.ms += milliseconds(t0, synchronized_now(cuda));
    c.bytes += out.bytes();
    c.side += out.side_bytes();
    c.values += features.numel();
    c.squared_error += (out.restored - features).pow(2).sum().item<double>();
    c.energy += features.pow(2).sum().item<double>();
    for (size_t t = 0; t < out.tier_tokens.size(); ++t) {
      a.tier_tokens[t] += out.tier_tokens[t];
      a.tier_bytes[t] += out.tier_bytes[t];
    }
    a.map_bytes += out.map_bytes;
    a.images += features.size(0);
    const int64_t dropped = out.dropped.sum().item<int64_t>();
    a.dropped += dropped;
    dropped_ = dropped > 0 ? out.dropped : torch::Tensor();
    return out.restored.to(tokens.device(), tokens.dtype());
  }
  const Compressor& compressor = *taps_.at(index).compressor;
  // [B, N, E] on the model's device: a compressor on the GPU keeps the stream there.
  const torch::Tensor features = tokens.to(torch::kFloat32).contiguous();
  const bool cuda = features.is_cuda();
  std::vector<torch::Tensor> parts;
  const int64_t step = per_image_ ? 1 : features.size(0);
  for (int64_t start = 0; start < features.size(0); start += step) {
    const torch::Tensor part = features.slice(0, start, start + step).contiguous();
    const auto t0 = synchronized_now(cuda);
    const Compressed compressed = compressor.compress(part);
    const auto t1 = synchronized_now(cuda);
    parts.push_back(compressor.decompress(compressed));
    encode_ms_ += milliseconds(t0, t1);
    decode_ms_ += milliseconds(t1, synchronized_now(cuda));
    count(index, compressed, part, parts.back());
  }
  const torch::Tensor restored = parts.size() == 1 ? parts[0] : torch::cat(parts);
  return restored.to(tokens.device(), tokens.dtype());
}

VisualTap FeatureTap::tap() {
  return [this](int layer, const torch::Tensor& tokens) {
    for (size_t i = 0; i < taps_.size(); ++i) {
      if (taps_[i].layer == layer) return apply(tokens.permute({1, 0, 2}), i).permute({1, 0, 2});
    }
    return tokens;
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
  for (const auto& stream : ready) parts.push_back(taps_.at(0).compressor->decompress(stream));
  const torch::Tensor restored = torch::cat(parts);
  const auto t2 = synchronized_now(cuda);
  transfer_ms_ += milliseconds(t0, t1);
  decode_ms_ += milliseconds(t1, t2);
  for (size_t i = 0; i < streams.size(); ++i) {
    count(0, streams[i], originals.slice(0, static_cast<int64_t>(i), static_cast<int64_t>(i) + 1),
          restored.slice(0, static_cast<int64_t>(i), static_cast<int64_t>(i) + 1));
  }
  return restored;
}

nlohmann::json FeatureTap::counts_metrics(const Counts& c, int64_t shared, int64_t images) const {
  nlohmann::json metrics = rate_metrics(c.bytes + shared, c.side + shared, std::max<int64_t>(c.values, 1));
  metrics["shared_bytes"] = shared;
  // Memory of the tapped features per image: what is stored, and what fp16 would take.
  metrics["feature_bytes_per_image"] = static_cast<double>(c.bytes) / static_cast<double>(images);
  metrics["feature_fp16_bytes_per_image"] = 2.0 * static_cast<double>(c.values) / static_cast<double>(images);
  metrics["feature_rel_l2"] = c.energy > 0 ? std::sqrt(c.squared_error / c.energy) : 0.0;
  metrics["feature_mse"] = c.values > 0 ? c.squared_error / static_cast<double>(c.values) : 0.0;
  return metrics;
}

nlohmann::json FeatureTap::metrics(int64_t images) const {
  // Shared state once per distinct compressor; a tap owns it when no other tap uses it.
  std::vector<int64_t> own_shared(taps_.size(), 0);
  int64_t shared = 0;
  for (size_t i = 0; i < taps_.size(); ++i) {
    bool first = true;
    int users = 0;
    for (size_t j = 0; j < taps_.size(); ++j) {
      if (taps_[j].compressor != taps_[i].compressor) continue;
      ++users;
      if (j < i) first = false;
    }
    if (!first) continue;
    const int64_t bytes = taps_[i].compressor->shared_bytes();
    shared += bytes;
    if (users == 1) own_shared[i] = bytes;
  }
  Counts total;
  for (const Counts& c : counts_) {
    total.bytes += c.bytes;
    total.side += c.side;
    total.values += c.values;
    total.squared_error += c.squared_error;
    total.energy += c.energy;
  }
  nlohmann::json metrics = counts_metrics(total, shared, images);
  metrics["encode_ms"] = encode_ms_;
  metrics["decode_ms"] = decode_ms_;
  if (decoded_streams_) metrics["transfer_ms"] = transfer_ms_;
  if (allocation_) {
    const Allocation& a = *allocation_;
    const int64_t tokens = std::accumulate(a.tier_tokens.begin(), a.tier_tokens.end(), int64_t(0));
    nlohmann::json share = nlohmann::json::array();
    for (int64_t n : a.tier_tokens) share.push_back(tokens > 0 ? static_cast<double>(n) / static_cast<double>(tokens) : 0.0);
    metrics["allocation"] = {{"tiers", a.tiers->tiers()},
                             {"tier_tokens", a.tier_tokens},
                             {"tier_token_share", share},
                             {"tier_bytes", a.tier_bytes},
                             {"map_bytes", a.map_bytes},
                             {"units_per_image", a.tiers->units()},
                             {"map_bits_per_unit", a.tiers->map_bits()},
                             {"dropped_token_share",
                              tokens > 0 ? static_cast<double>(a.dropped) / static_cast<double>(tokens) : 0.0}};
    metrics["allocation_ms"] = a.ms;
  }
  if (taps_.size() > 1) {
    nlohmann::json per_tap = nlohmann::json::object();
    for (size_t i = 0; i < taps_.size(); ++i) {
      nlohmann::json tap = counts_metrics(counts_[i], own_shared[i], images);
      if (!taps_[i].name.empty()) tap["compressor"] = taps_[i].name;
      per_tap[std::to_string(taps_[i].layer)] = tap;
    }
    metrics["per_tap"] = per_tap;
  }
  return metrics;
}

}  // namespace bcfeat
