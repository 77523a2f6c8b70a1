#include "bcfeat/framework/allocation.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "bcfeat/framework/error.h"
#include "bcfeat/framework/random.h"

#include <torch/nn/functional.h>

namespace bcfeat {

namespace {

int64_t ceil_log2(int64_t n) {
  int64_t bits = 0;
  while ((int64_t(1) << bits) < n) ++bits;
  return bits;
}

// Rounds to fp16 and back (what a stored fp16 value restores to).
torch::Tensor through_half(const torch::Tensor& x) { return x.to(torch::kHalf).to(torch::kFloat32); }

}  // namespace

void AllocationOptions::declare(ParamSet& params) {
  params.add("allocation.importance", &importance,
             "token importance for tiered allocation (none = every token by the tap's compressor): attention "
             "(attention each token receives in the model), gradient (abs(dloss/dtoken) x abs(token), the model's own "
             "answer as target), query (the question's attention on the visual tokens), norm (token L2 norm), "
             "random, uniform (spatially even)")
      .one_of(importance_names());
  params.add("allocation.tiers", &tiers,
             "tiers from most to least faithful: compressor words (fp16, int4, bc7, bc6h_sf16, bc1, astc_12x12, ...), "
             "pool (unit mean), merge (contextual tokens), prune (dropped)");
  params.add("allocation.fractions", &fractions, "share of each image's units per tier (sums to 1), by importance rank")
      .range(0.0, 1.0);
  params.add("allocation.target_bits_per_value", &target_bits_per_value,
             "rate control: the tier assignment that meets this many bits per tapped value (every byte counted); 0 = "
             "use fractions")
      .range(0.0, 64.0);
  params.add("allocation.unit", &unit, "what a tier decision covers: one token or a 2x2 / 4x4 patch of the token grid")
      .one_of({"token", "2x2", "4x4"});
  params.add("allocation.merge_tokens", &merge_tokens, "merge tier: contextual tokens per image").range(1, 65535);
}

const std::vector<std::string>& importance_names() {
  static const std::vector<std::string> names = {"none", "attention", "gradient", "query", "norm", "random", "uniform"};
  return names;
}

bool builtin_importance(const std::string& kind) { return kind == "norm" || kind == "random" || kind == "uniform"; }

torch::Tensor importance_scores(const std::string& kind, const torch::Tensor& tokens, int64_t grid_h, int64_t grid_w,
                                uint64_t seed) {
  const int64_t batch = tokens.size(0), count = tokens.size(1);
  if (kind == "norm") return tokens.to(torch::kFloat32).norm(2, 2).to(torch::kCPU);
  if (kind == "random") {
    SeededRandom random(seed);
    torch::Tensor out = torch::empty({batch, count}, torch::kFloat32);
    float* p = out.data_ptr<float>();
    for (int64_t i = 0; i < out.numel(); ++i) p[i] = static_cast<float>(random.uniform());
    return out;
  }
  if (kind == "uniform") {
    if (grid_h * grid_w != count) throw_input_error("importance uniform: {} tokens are not a {}x{} grid", count, grid_h, grid_w);
    std::vector<float> row(count);
    for (int64_t t = 0; t < count; ++t) {
      const int64_t x = t % grid_w, y = t / grid_w;
      int64_t level = 0;
      while (level < 20 && x % (int64_t(2) << level) == 0 && y % (int64_t(2) << level) == 0) ++level;
      row[t] = static_cast<float>(level) - static_cast<float>(t) / static_cast<float>(count);
    }
    return torch::tensor(row).unsqueeze(0).expand({batch, count}).contiguous();
  }
  throw std::logic_error("importance '" + kind + "' is computed by the model");
}

TieredCompressor::TieredCompressor(const AllocationOptions& options, const CompressionOptions& base, int64_t grid_h,
                                   int64_t grid_w, int64_t dim)
    : options_(options), dim_(dim), tokens_(grid_h * grid_w) {
  if (options_.tiers.empty()) throw_input_error("allocation.tiers: name at least one tier (e.g. [bc7, bc1, prune])");
  for (const auto& word : options_.tiers) {
    Tier tier;
    if (word == "prune") {
      tier.kind = Kind::kPrune;
    } else if (word == "pool") {
      tier.kind = Kind::kPool;
    } else if (word == "merge") {
      tier.kind = Kind::kMerge;
    } else {
      tier.kind = Kind::kCompressor;
      CompressionOptions tier_options = named_compression(word, base, "allocation.tiers");
      if (tier_options.method == "texture") {
        tier_options.set("layout", std::string("token_channel"));
        tier_options.set("tokens_hw", std::vector<int>{});
        tier_options.set("keep_tokens", std::vector<int>{});
      }
      if (tier_options.method == "codebook") {
        throw_input_error("allocation.tiers: '{}' needs a fitted codebook; tiers take fixed-rate compressors, lossless, "
                          "pool, merge or prune",
                          word);
      }
      tier.compressor = make_compressor(tier_options);
    }
    tiers_.push_back(tier);
  }
  map_bits_ = static_cast<int>(ceil_log2(static_cast<int64_t>(tiers_.size())));
  if (options_.target_bits_per_value > 0) {
    if (!options_.fractions.empty()) {
      throw_input_error("allocation: give either fractions or target_bits_per_value, not both");
    }
    for (size_t t = 0; t < tiers_.size(); ++t) {
      if (tiers_[t].compressor && !tiers_[t].compressor->stream_bytes({1, 4, dim})) {
        throw_input_error("allocation.target_bits_per_value: tier '{}' has no fixed rate to control", options_.tiers[t]);
      }
    }
  } else {
    if (options_.fractions.size() != options_.tiers.size()) {
      throw_input_error("allocation.fractions: {} fractions for {} tiers (or set allocation.target_bits_per_value)",
                        options_.fractions.size(), options_.tiers.size());
    }
    const double sum = std::accumulate(options_.fractions.begin(), options_.fractions.end(), 0.0);
    if (std::abs(sum - 1.0) > 1e-6) throw_input_error("allocation.fractions add up to {}, not 1", sum);
  }
  // Units on the grid, raster order; tokens of a unit in raster order.
  const int64_t side = options_.unit == "token" ? 1 : options_.unit == "2x2" ? 2 : 4;
  for (int64_t uy = 0; uy < grid_h; uy += side) {
    for (int64_t ux = 0; ux < grid_w; ux += side) {
      std::vector<int64_t> members;
      for (int64_t y = uy; y < std::min(grid_h, uy + side); ++y) {
        for (int64_t x = ux; x < std::min(grid_w, ux + side); ++x) members.push_back(y * grid_w + x);
      }
      unit_tokens_.push_back(members);
    }
  }
}

int64_t TieredCompressor::Output::bytes() const {
  return std::accumulate(tier_bytes.begin(), tier_bytes.end(), int64_t(0)) + map_bytes;
}

int64_t TieredCompressor::Output::side_bytes() const {
  return std::accumulate(tier_side.begin(), tier_side.end(), int64_t(0)) + map_bytes;
}

int64_t TieredCompressor::tier_cost(size_t tier, const std::vector<int64_t>& tokens_per_image,
                                    const std::vector<int64_t>& units_per_image, bool per_image) const {
  const Tier& t = tiers_[tier];
  const int64_t tokens = std::accumulate(tokens_per_image.begin(), tokens_per_image.end(), int64_t(0));
  const int64_t units = std::accumulate(units_per_image.begin(), units_per_image.end(), int64_t(0));
  switch (t.kind) {
    case Kind::kPrune:
      return 0;
    case Kind::kPool:
      return units * 2 * dim_;
    case Kind::kMerge: {
      int64_t bytes = 0;
      for (int64_t n : tokens_per_image) bytes += std::min<int64_t>(n, options_.merge_tokens) * (2 * dim_ + 2);
      return bytes;
    }
    case Kind::kCompressor:
      break;
  }
  if (!per_image) return tokens > 0 ? t.compressor->stream_bytes({1, tokens, dim_}).value_or(0) : 0;
  int64_t bytes = 0;
  for (int64_t n : tokens_per_image) bytes += n > 0 ? t.compressor->stream_bytes({1, n, dim_}).value_or(0) : 0;
  return bytes;
}

int64_t TieredCompressor::cost(const Assignment& tier_of, bool per_image) const {
  const size_t images = tier_of.size();
  int64_t bytes = static_cast<int64_t>(images) * ((units() * map_bits_ + 7) / 8);
  for (size_t t = 0; t < tiers_.size(); ++t) {
    std::vector<int64_t> tokens(images, 0), units_in(images, 0);
    for (size_t i = 0; i < images; ++i) {
      for (int64_t u = 0; u < units(); ++u) {
        if (tier_of[i][u] != static_cast<int>(t)) continue;
        tokens[i] += static_cast<int64_t>(unit_tokens_[u].size());
        ++units_in[i];
      }
    }
    bytes += tier_cost(t, tokens, units_in, per_image);
  }
  return bytes;
}

TieredCompressor::Assignment TieredCompressor::by_fractions(const std::vector<std::vector<int>>& ranked) const {
  Assignment tier_of(ranked.size(), std::vector<int>(units(), 0));
  for (size_t i = 0; i < ranked.size(); ++i) {
    double cumulative = 0;
    int64_t begin = 0;
    for (size_t t = 0; t < tiers_.size(); ++t) {
      cumulative += options_.fractions[t];
      const int64_t end = t + 1 == tiers_.size() ? units() : std::llround(cumulative * static_cast<double>(units()));
      for (int64_t p = begin; p < std::min(end, units()); ++p) tier_of[i][ranked[i][p]] = static_cast<int>(t);
      begin = std::max(begin, end);
    }
  }
  return tier_of;
}

TieredCompressor::Assignment TieredCompressor::by_rate(const std::vector<std::vector<int>>& ranked, int64_t budget,
                                                       bool per_image) const {
  const int64_t images = static_cast<int64_t>(ranked.size());
  auto all_in = [&](int tier) { return Assignment(images, std::vector<int>(units(), tier)); };
  const int last = static_cast<int>(tiers_.size()) - 1;
  std::vector<int64_t> costs;
  for (int t = 0; t <= last; ++t) {
    costs.push_back(cost(all_in(t), per_image));
    if (t > 0 && costs[t] > costs[t - 1]) {
      throw_input_error("allocation.tiers: '{}' costs more than '{}' before it; rate control needs tiers from most to "
                        "least bytes",
                        options_.tiers[t], options_.tiers[t - 1]);
    }
  }
  if (budget >= costs[0]) return all_in(0);
  if (budget <= costs[last]) return all_in(last);
  int j = 0;
  while (costs[j + 1] > budget) ++j;  // costs[j] > budget >= costs[j + 1]
  // Units in promotion order: smallest per-image rank first, then image.
  std::vector<std::pair<int64_t, int64_t>> order;  // (image, rank position)
  for (int64_t p = 0; p < units(); ++p) {
    for (int64_t i = 0; i < images; ++i) order.push_back({i, p});
  }
  auto assign = [&](int64_t k) {
    Assignment tier_of = all_in(j + 1);
    for (int64_t n = 0; n < k; ++n) tier_of[order[n].first][ranked[order[n].first][order[n].second]] = j;
    return tier_of;
  };
  int64_t low = 0, high = static_cast<int64_t>(order.size());  // cost(low) <= budget < cost(high)
  while (high - low > 1) {
    const int64_t mid = (low + high) / 2;
    (cost(assign(mid), per_image) <= budget ? low : high) = mid;
  }
  return assign(low);
}

TieredCompressor::Output TieredCompressor::apply(const torch::Tensor& features, const torch::Tensor& scores,
                                                 bool per_image, std::optional<int64_t> budget_bytes) const {
  const int64_t batch = features.size(0), count = features.size(1), dim = features.size(2);
  if (count != tokens_ || dim != dim_) {
    throw_input_error("allocation: tokens [{}, {}] where the grid gives [{}, {}]", count, dim, tokens_, dim_);
  }
  // Unit scores (mean of their tokens) and each image's units by decreasing score.
  const torch::Tensor s = scores.to(torch::kCPU, torch::kDouble).contiguous();
  const double* ps = s.data_ptr<double>();
  std::vector<std::vector<int>> ranked(batch);
  for (int64_t i = 0; i < batch; ++i) {
    std::vector<double> unit_score(units(), 0.0);
    for (int64_t u = 0; u < units(); ++u) {
      for (int64_t t : unit_tokens_[u]) unit_score[u] += ps[i * count + t];
      unit_score[u] /= static_cast<double>(unit_tokens_[u].size());
    }
    ranked[i].resize(units());
    std::iota(ranked[i].begin(), ranked[i].end(), 0);
    std::stable_sort(ranked[i].begin(), ranked[i].end(), [&](int a, int b) { return unit_score[a] > unit_score[b]; });
  }
  const int64_t budget = budget_bytes.value_or(static_cast<int64_t>(
      std::floor(options_.target_bits_per_value * static_cast<double>(batch * count * dim) / 8.0)));
  const Assignment tier_of = options_.target_bits_per_value > 0 ? by_rate(ranked, budget, per_image) : by_fractions(ranked);

  Output out;
  const auto device = features.device();
  const torch::Tensor flat = features.reshape({batch * count, dim});
  torch::Tensor restored = torch::zeros({batch * count, dim}, features.options());
  std::vector<uint8_t> dropped(batch * count, 0);
  out.tier_tokens.assign(tiers_.size(), 0);
  out.tier_bytes.assign(tiers_.size(), 0);
  out.tier_side.assign(tiers_.size(), 0);
  out.map_bytes = batch * ((units() * map_bits_ + 7) / 8);
  auto index_on_device = [&](const std::vector<int64_t>& index) {
    return torch::tensor(index, torch::dtype(torch::kLong)).to(device);
  };
  for (size_t t = 0; t < tiers_.size(); ++t) {
    const Tier& tier = tiers_[t];
    // The tier's tokens per image (flat indices), unit after unit in raster order.
    std::vector<std::vector<int64_t>> members(batch);
    std::vector<std::vector<int64_t>> unit_members;  // pool: each unit's flat indices
    for (int64_t i = 0; i < batch; ++i) {
      for (int64_t u = 0; u < units(); ++u) {
        if (tier_of[i][u] != static_cast<int>(t)) continue;
        std::vector<int64_t> unit;
        for (int64_t token : unit_tokens_[u]) unit.push_back(i * count + token);
        members[i].insert(members[i].end(), unit.begin(), unit.end());
        unit_members.push_back(unit);
      }
      out.tier_tokens[t] += static_cast<int64_t>(members[i].size());
    }
    if (tier.kind == Kind::kPrune) {
      for (const auto& m : members) {
        for (int64_t index : m) dropped[index] = 1;
      }
    } else if (tier.kind == Kind::kPool) {
      for (const auto& unit : unit_members) {
        const torch::Tensor index = index_on_device(unit);
        const torch::Tensor mean = through_half(flat.index_select(0, index).mean(0, true));
        restored.index_copy_(0, index, mean.expand({static_cast<int64_t>(unit.size()), dim}).contiguous());
        out.tier_bytes[t] += 2 * dim;
      }
    } else if (tier.kind == Kind::kMerge) {
      for (const auto& m : members) {
        const int64_t n = static_cast<int64_t>(m.size());
        if (n == 0) continue;
        const int64_t seeds = std::min<int64_t>(n, options_.merge_tokens);
        const torch::Tensor x = flat.index_select(0, index_on_device(m));  // [n, D]
        std::vector<int64_t> seed_rows;
        for (int64_t k = 0; k < seeds; ++k) seed_rows.push_back((2 * k + 1) * n / (2 * seeds));
        const torch::Tensor centres = x.index_select(0, index_on_device(seed_rows));
        const torch::Tensor unit_x = torch::nn::functional::normalize(x, torch::nn::functional::NormalizeFuncOptions().dim(1));
        const torch::Tensor unit_c =
            torch::nn::functional::normalize(centres, torch::nn::functional::NormalizeFuncOptions().dim(1));
        const torch::Tensor group = unit_x.matmul(unit_c.t()).argmax(1);  // [n]
        for (int64_t k = 0; k < seeds; ++k) {
          const torch::Tensor in_group = group.eq(k);
          const torch::Tensor mean = in_group.any().item<bool>() ? x.index({in_group}).mean(0, true) : centres.slice(0, k, k + 1);
          restored.index_copy_(0, index_on_device({m[seed_rows[k]]}), through_half(mean));
        }
        for (int64_t r = 0; r < n; ++r) {
          if (std::find(seed_rows.begin(), seed_rows.end(), r) == seed_rows.end()) dropped[m[r]] = 1;
        }
        out.tier_bytes[t] += seeds * (2 * dim + 2);
        out.tier_side[t] += seeds * 2;
      }
    } else {
      std::vector<std::vector<int64_t>> streams;
      if (per_image) {
        streams = members;
      } else {
        streams.emplace_back();
        for (const auto& m : members) streams.back().insert(streams.back().end(), m.begin(), m.end());
      }
      for (const auto& stream_members : streams) {
        const int64_t n = static_cast<int64_t>(stream_members.size());
        if (n == 0) continue;
        const torch::Tensor index = index_on_device(stream_members);
        const torch::Tensor part = flat.index_select(0, index).reshape({1, n, dim}).contiguous();
        const Compressed stream = tier.compressor->compress(part);
        const auto expected = tier.compressor->stream_bytes({1, n, dim});
        if (expected && *expected != stream.size()) {
          throw std::logic_error(fmt::format("allocation: tier '{}' wrote {} bytes where its rate gives {}",
                                             options_.tiers[t], stream.size(), *expected));
        }
        restored.index_copy_(0, index, tier.compressor->decompress(stream).reshape({n, dim}).to(features.dtype()));
        out.tier_bytes[t] += stream.size();
        out.tier_side[t] += stream.side_bytes;
      }
    }
  }
  out.restored = restored.reshape({batch, count, dim});
  out.dropped = torch::tensor(std::vector<int64_t>(dropped.begin(), dropped.end()), torch::dtype(torch::kLong))
                    .to(torch::kBool)
                    .reshape({batch, count})
                    .to(device);
  return out;
}

}  // namespace bcfeat
