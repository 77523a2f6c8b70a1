// The CPU reference of compressed-K/V attention (kv_attention.h) against PyTorch's attention on
// the same decoded K/V: scaled_dot_product_attention where this LibTorch has it (2.x), else
// softmax(q·Kᵀ·scale + mask)·V written with PyTorch's own operators, in float64 either way.
#include <cmath>
#include <random>
#include <vector>

#include <torch/torch.h>
#include <torch/version.h>

#include "bcfeat/kernels/float_formats.h"
#include "bcfeat/kernels/kv_attention.h"
#include "catch.h"

using namespace bcfeat;

namespace {

torch::Tensor torch_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                              const torch::Tensor& keep) {  // keep [B, 1, 1, N] bool
#if TORCH_VERSION_MAJOR >= 2
  return at::scaled_dot_product_attention(q, k, v, keep);
#else
  const torch::Tensor scores = q.matmul(k.transpose(-2, -1)) / std::sqrt(static_cast<double>(q.size(-1)));
  return torch::softmax(scores.masked_fill(keep.logical_not(), -INFINITY), -1).matmul(v);
#endif
}

}  // namespace

TEST_CASE("kv reference attention equals PyTorch's attention on the decoded K/V, with padding keys") {
  const KvShape s{2, 3, 45, 32};
  const int queries = 4;
  std::mt19937 rng(21);
  std::normal_distribution<float> normal;
  std::vector<float> kx(static_cast<size_t>(s.values())), vx(kx.size()), qx(static_cast<size_t>(s.pairs() * queries * s.dim));
  for (auto& x : kx) x = normal(rng);
  for (auto& x : vx) x = normal(rng);
  for (auto& x : qx) x = half_bits_to_float(float_to_half_bits(normal(rng)));
  std::vector<uint8_t> padding(static_cast<size_t>(s.batch * s.tokens), 0);
  for (int t = 30; t < s.tokens; ++t) padding[static_cast<size_t>(s.tokens + t)] = 1;  // image 1: 30 keys
  for (const char* name : {"bc4_unorm", "bc7", "bc6h_sf16", "int4", "int8"}) {
    INFO(name);
    const KvCodec codec = parse_kv_codec(name);
    const CompressedKv k = compress_kv(kx.data(), s, KvRole::kKeys, codec);
    const CompressedKv v = compress_kv(vx.data(), s, KvRole::kValues, codec);
    const std::vector<float> out = attention_reference(qx.data(), queries, k, v, padding.data(), 0.0f, true);
    auto to_tensor = [&](std::vector<float> x, int64_t rows) {
      for (auto& value : x) value = half_bits_to_float(float_to_half_bits(value));  // as the kernels stage them
      return torch::from_blob(x.data(), {s.batch, s.heads, rows, s.dim}, torch::kFloat32).to(torch::kFloat64).clone();
    };
    const torch::Tensor keep =
        torch::from_blob(padding.data(), {s.batch, 1, 1, s.tokens}, torch::kUInt8).eq(0).clone();
    const torch::Tensor expected = torch_attention(to_tensor(qx, queries), to_tensor(decode_kv(k), s.tokens),
                                                   to_tensor(decode_kv(v), s.tokens), keep)
                                       .to(torch::kFloat16)
                                       .to(torch::kFloat32);
    const torch::Tensor got = torch::from_blob(const_cast<float*>(out.data()), expected.sizes(), torch::kFloat32);
    // Both round a float64 result to fp16: they may differ by one ulp where the two float64
    // sums straddle a rounding boundary.
    const double ulp = std::ldexp(1.0, -10) * expected.abs().max().item<double>();
    CHECK((got - expected).abs().max().item<double>() <= ulp);
    CHECK(torch::equal(got.isfinite(), torch::ones_like(got, torch::kBool)));
  }
}
