// The fused compressed-K/V attention kernels (kv_attention.h) against the CPU reference, for
// every codec, both CUDA backends, fp16 and bf16, the shape classes of the decode regime and
// padding keys; and the CUDA decode of K/V against the CPU decode, bit for bit.
//
// Bound: the kernel and the reference read the same K, V and q, rounded to the activation
// type. The reference sums in double; the kernel in float32 (over at most a few thousand keys:
// relative error well below 2^-12), with __expf (a few float ulps) and the online rescaling,
// then rounds to the activation type, as the reference does. Two ulps of the activation type
// at the largest |V| of the row's head cover the rounding of both results plus the float32
// sums: |fused − reference| ≤ 2^-9·max|V| (fp16), 2^-6·max|V| (bf16).
#if BCFEAT_WITH_CUDA
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "bcfeat/kernels/cuda_device.h"
#include "bcfeat/kernels/float_formats.h"
#include "bcfeat/kernels/kv_attention.h"
#include "catch.h"

using namespace bcfeat;

namespace {

template <class T>
struct Device {
  T* data = nullptr;
  explicit Device(size_t count) { REQUIRE(cudaMalloc(&data, std::max<size_t>(count, 1) * sizeof(T)) == cudaSuccess); }
  ~Device() { cudaFree(data); }
};

uint16_t to_bits(float v, bool half) { return half ? float_to_half_bits(v) : float_to_bfloat16_bits(v); }
float from_bits(uint16_t b, bool half) { return half ? half_bits_to_float(b) : bfloat16_bits_to_float(b); }

std::vector<float> random_values(size_t count, float scale, uint32_t seed, int outlier_every = 0) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, scale);
  std::vector<float> x(count);
  for (size_t i = 0; i < count; ++i) x[i] = normal(rng) * (outlier_every && i % outlier_every == 3 ? 6.0f : 1.0f);
  return x;
}

struct Case {
  int batch, heads, tokens, dim, queries;
  bool padding, half;
};

const Case kCases[] = {
    {1, 8, 196, 64, 1, false, true},    // one sequence, many heads, ViT-B/16 tokens
    {3, 4, 577, 128, 5, true, true},    // a ragged batch: padding keys, tokens not a multiple of 4
    {2, 2, 1100, 128, 64, false, false},  // a chunk of 64 queries, bf16
    {2, 3, 250, 96, 3, true, false},      // head dim 96 (not a power of two)
};

}  // namespace

TEST_CASE("fused compressed-K/V attention equals the reference on the same K/V, every codec and backend") {
  const char* codecs[] = {"bc1", "bc3", "bc4_unorm", "bc5_unorm", "bc6h_sf16", "bc7", "int4", "int8", "int8_g32"};
  for (const Case& c : kCases) {
    const KvShape shape{c.batch, c.heads, c.tokens, c.dim};
    const auto kx = random_values(static_cast<size_t>(shape.values()), 1.0f, 1, 37);
    const auto vx = random_values(static_cast<size_t>(shape.values()), 0.5f, 2);
    const size_t q_count = static_cast<size_t>(shape.pairs() * c.queries * c.dim);
    const auto qx = random_values(q_count, 1.0f, 3);
    std::vector<uint16_t> q_bits(q_count);
    for (size_t i = 0; i < q_count; ++i) q_bits[i] = to_bits(qx[i], c.half);
    std::vector<uint8_t> padding(static_cast<size_t>(c.batch) * c.tokens, 0);
    if (c.padding) {
      for (int b = 0; b < c.batch; ++b) {
        for (int t = c.tokens - 13 * b - 1; t < c.tokens; ++t) padding[static_cast<size_t>(b) * c.tokens + t] = 1;
      }
      padding[5] = 1;  // one in the middle
    }
    Device<uint16_t> q(q_count), out(q_count);
    Device<uint8_t> pad(padding.size());
    REQUIRE(cudaMemcpy(q.data, q_bits.data(), q_count * 2, cudaMemcpyHostToDevice) == cudaSuccess);
    REQUIRE(cudaMemcpy(pad.data, padding.data(), padding.size(), cudaMemcpyHostToDevice) == cudaSuccess);
    for (const char* name : codecs) {
      const KvCodec codec = parse_kv_codec(name);
      if (codec.int_bits == 4 && c.dim % 8 != 0) continue;
      const CompressedKv k = compress_kv(kx.data(), shape, KvRole::kKeys, codec);
      const CompressedKv v = compress_kv(vx.data(), shape, KvRole::kValues, codec);
      // The reference from the activation-rounded q (the kernel reads those bits).
      std::vector<float> q_rounded(q_count);
      for (size_t i = 0; i < q_count; ++i) q_rounded[i] = from_bits(q_bits[i], c.half);
      const std::vector<float> expected =
          attention_reference(q_rounded.data(), c.queries, k, v, c.padding ? padding.data() : nullptr, 0.0f, c.half);
      const std::vector<float> values = decode_kv(v);
      const bool block = codec.format != nullptr;
      const DeviceKv dk(k, block), dv(v, block);
      for (Backend backend : {Backend::kCuda, Backend::kTexture}) {
        if (backend == Backend::kTexture && !block) continue;
        for (int splits : {1, 0}) {
          INFO(name << " " << (backend == Backend::kCuda ? "cuda" : "texture") << " splits " << splits << " shape ["
                    << c.batch << "," << c.heads << "," << c.tokens << "," << c.dim << "] queries " << c.queries
                    << (c.half ? " fp16" : " bf16"));
          KvAttentionParams p;
          p.batch = c.batch;
          p.heads = c.heads;
          p.queries = c.queries;
          p.dim = c.dim;
          p.tokens = c.tokens;
          p.type = c.half ? ElementType::kFloat16 : ElementType::kBFloat16;
          p.q = q.data;
          p.out = out.data;
          p.padding = c.padding ? pad.data : nullptr;
          p.keys = &dk;
          p.values = &dv;
          p.splits = splits;
          REQUIRE(cudaMemset(out.data, 0xff, q_count * 2) == cudaSuccess);
          kv_attention(p, backend, nullptr);
          REQUIRE(cudaDeviceSynchronize() == cudaSuccess);
          std::vector<uint16_t> got(q_count);
          REQUIRE(cudaMemcpy(got.data(), out.data, q_count * 2, cudaMemcpyDeviceToHost) == cudaSuccess);
          double worst = 0.0;
          for (int64_t pair = 0; pair < shape.pairs(); ++pair) {
            float largest = 0.0f;
            for (int64_t i = pair * c.tokens * c.dim; i < (pair + 1) * c.tokens * c.dim; ++i) {
              largest = std::max(largest, std::fabs(values[static_cast<size_t>(i)]));
            }
            const double bound = std::ldexp(static_cast<double>(largest), c.half ? -9 : -6);
            for (int64_t i = pair * c.queries * c.dim; i < (pair + 1) * c.queries * c.dim; ++i) {
              const double error = std::fabs(from_bits(got[static_cast<size_t>(i)], c.half) - expected[static_cast<size_t>(i)]);
              worst = std::max(worst, std::isnan(error) ? INFINITY : error / bound);
            }
          }
          CHECK(worst <= 1.0);
        }
      }
    }
  }
}

TEST_CASE("CUDA K/V decode equals the CPU decode rounded to the activation type, bit for bit") {
  const KvShape shape{2, 3, 130, 64};
  const auto x = random_values(static_cast<size_t>(shape.values()), 1.0f, 7, 11);
  for (const std::string& name : kv_codec_names()) {
    if (name.find("_gN") != std::string::npos) continue;
    for (KvRole role : {KvRole::kKeys, KvRole::kValues}) {
      for (bool half : {true, false}) {
        INFO(name << (role == KvRole::kKeys ? " keys" : " values") << (half ? " fp16" : " bf16"));
        const CompressedKv kv = compress_kv(x.data(), shape, role, parse_kv_codec(name));
        const std::vector<float> cpu = decode_kv(kv);
        const DeviceKv device(kv, false);
        Device<uint16_t> out(cpu.size());
        decode_kv_device(device, half ? ElementType::kFloat16 : ElementType::kBFloat16, out.data, nullptr);
        std::vector<uint16_t> got(cpu.size());
        REQUIRE(cudaMemcpy(got.data(), out.data, got.size() * 2, cudaMemcpyDeviceToHost) == cudaSuccess);
        int64_t mismatches = 0;
        for (size_t i = 0; i < cpu.size(); ++i) mismatches += got[i] != to_bits(cpu[i], half);
        CHECK(mismatches == 0);
      }
    }
  }
}

TEST_CASE("the fused kernel refuses requests it has no kernel for") {
  const KvShape shape{1, 1, 16, 16};
  const std::vector<float> x(static_cast<size_t>(shape.values()), 0.5f);
  const CompressedKv k = compress_kv(x.data(), shape, KvRole::kKeys, parse_kv_codec("int8"));
  const CompressedKv v = compress_kv(x.data(), shape, KvRole::kValues, parse_kv_codec("int8"));
  const DeviceKv dk(k, false), dv(v, false);
  Device<uint16_t> q(16), out(16);
  KvAttentionParams p;
  p.batch = p.heads = p.queries = 1;
  p.dim = p.tokens = 16;
  p.q = q.data;
  p.out = out.data;
  p.keys = &dk;
  p.values = &dv;
  CHECK_THROWS_WITH(kv_attention(p, Backend::kTexture, nullptr), message_contains("texture"));
  p.queries = 65;
  CHECK_THROWS_WITH(kv_attention(p, Backend::kCuda, nullptr), message_contains("1 to 64 queries"));
  p.queries = 1;
  p.keys = &dv;
  CHECK_THROWS_WITH(kv_attention(p, Backend::kCuda, nullptr), message_contains("swapped"));
}
#endif
