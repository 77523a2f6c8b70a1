// Compressed K/V storage (kv_attention.h) on the CPU: exact sizes, the layout read back through
// the whole-image codec, error bounds of the int quantisers, masking in the reference attention.
// (The reference attention is checked against PyTorch's SDPA in tests/framework, the CUDA
// kernels against the reference in tests/gpu.)
#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "bcfeat/kernels/codec.h"
#include "bcfeat/kernels/float_formats.h"
#include "bcfeat/kernels/kv_attention.h"
#include "catch.h"

using namespace bcfeat;

namespace {

// Keys with a few outlier channels and values that drift smoothly along the tokens.
std::vector<float> make_kv(const KvShape& s, KvRole role, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(s.values()));
  for (int64_t p = 0; p < s.pairs(); ++p) {
    for (int t = 0; t < s.tokens; ++t) {
      for (int d = 0; d < s.dim; ++d) {
        float v = 0.3f * normal(rng) + std::sin(0.05f * t * (1 + d % 5) + d);
        if (role == KvRole::kKeys && d % 17 == 3) v *= 8.0f;
        x[static_cast<size_t>((p * s.tokens + t) * s.dim + d)] = v;
      }
    }
  }
  return x;
}

const char* const kCodecs[] = {"bc1", "bc3", "bc4_unorm", "bc5_unorm", "bc6h_sf16", "bc7", "int4", "int8", "int4_g32"};

}  // namespace

TEST_CASE("kv layouts count every byte: blocks with padding, maps, codes and group scales") {
  const KvShape s{2, 3, 37, 64};  // 37 tokens: the last block row is padded to 40
  // bc4: 1 channel a texel -> 64 texels = 16 blocks across, 10 block rows, 8 bytes a block;
  // keys' maps per channel, values' per token, 2 fp16 each.
  KvLayout k = kv_layout(s, KvRole::kKeys, parse_kv_codec("bc4_unorm"));
  CHECK(k.data_bytes == 6 * 10 * 16 * 8);
  CHECK(k.side_bytes == 6 * 64 * 4);
  KvLayout v = kv_layout(s, KvRole::kValues, parse_kv_codec("bc4_unorm"));
  CHECK(v.side_bytes == 6 * 37 * 4);
  // bc1: 3 channels a texel -> 22 texels (one padding channel) = 6 blocks across.
  CHECK(kv_layout(s, KvRole::kKeys, parse_kv_codec("bc1")).data_bytes == 6 * 10 * 6 * 8);
  // bc7: 4 channels -> 16 texels = 4 blocks of 16 bytes; bc6h: 3 channels, no maps.
  CHECK(kv_layout(s, KvRole::kKeys, parse_kv_codec("bc7")).data_bytes == 6 * 10 * 4 * 16);
  KvLayout h = kv_layout(s, KvRole::kValues, parse_kv_codec("bc6h_sf16"));
  CHECK(h.data_bytes == 6 * 10 * 6 * 16);
  CHECK(h.side_bytes == 0);
  // int4: 32 bytes a token; keys in groups of 64 tokens (one group of 37), values in one group
  // of 64 channels per token.
  KvLayout i4 = kv_layout(s, KvRole::kKeys, parse_kv_codec("int4"));
  CHECK(i4.data_bytes == 6 * 37 * 32);
  CHECK(i4.side_bytes == 6 * 1 * 64 * 4);
  CHECK(kv_layout(s, KvRole::kValues, parse_kv_codec("int8")).side_bytes == 6 * 37 * 1 * 4);
  KvLayout g = kv_layout(KvShape{1, 1, 100, 64}, KvRole::kKeys, parse_kv_codec("int4_g32"));
  CHECK(g.side_bytes == 4 * 64 * 4);  // ceil(100 / 32) groups of tokens

  for (const char* name : kCodecs) {
    for (KvRole role : {KvRole::kKeys, KvRole::kValues}) {
      const auto x = make_kv(s, role, 3);
      const CompressedKv c = compress_kv(x.data(), s, role, parse_kv_codec(name));
      INFO(name);
      CHECK(static_cast<int64_t>(c.data.size()) == c.layout.data_bytes);
      CHECK(static_cast<int64_t>(c.side.size() * 2) == c.layout.side_bytes);
    }
  }
}

TEST_CASE("kv block layout: the whole-image decoder of the same blocks, mapped, gives decode_kv") {
  const KvShape s{2, 2, 30, 32};
  for (const char* name : {"bc1", "bc3", "bc4_unorm", "bc5_unorm", "bc6h_sf16", "bc7"}) {
    for (KvRole role : {KvRole::kKeys, KvRole::kValues}) {
      INFO(name << (role == KvRole::kKeys ? " keys" : " values"));
      const auto x = make_kv(s, role, 5);
      const CompressedKv c = compress_kv(x.data(), s, role, parse_kv_codec(name));
      const KvLayout& l = c.layout;
      // One tall image: pair p's texture in rows [p·padded_tokens, (p + 1)·padded_tokens).
      const std::vector<float> texels = decode_image(*l.codec.format, Backend::kCpu, c.data.data(), l.groups,
                                                     static_cast<int>(s.pairs() * l.padded_tokens));
      const std::vector<float> decoded = decode_kv(c);
      const int channels = l.codec.format->channels;
      int64_t mismatches = 0;
      double error = 0.0, range = 0.0;
      for (int64_t p = 0; p < s.pairs(); ++p) {
        for (int t = 0; t < s.tokens; ++t) {
          for (int d = 0; d < s.dim; ++d) {
            const int64_t row = p * l.padded_tokens + t;
            float expected = texels[static_cast<size_t>((row * l.groups + d / l.slots) * channels + d % l.slots)];
            if (l.map == MapKind::kAffine) {
              const int m = role == KvRole::kKeys ? d : t;
              const uint16_t* map = c.side.data() + (p * l.maps_per_pair() + m) * 2;
              expected = half_bits_to_float(map[0]) + expected * half_bits_to_float(map[1]);
            }
            const size_t at = static_cast<size_t>((p * s.tokens + t) * s.dim + d);
            mismatches += decoded[at] != expected;
            error += (decoded[at] - x[at]) * (decoded[at] - x[at]);
            range = std::max(range, static_cast<double>(std::fabs(x[at])));
          }
        }
      }
      CHECK(mismatches == 0);
      // And the blocks hold the values: RMSE well inside the data's range.
      CHECK(std::sqrt(error / static_cast<double>(s.values())) < 0.25 * range);
    }
  }
}

TEST_CASE("kv int quantisers: every value within half a step of its group's range") {
  const KvShape s{1, 2, 100, 64};
  for (const char* name : {"int4", "int8", "int4_g32", "int8_g16"}) {
    const KvCodec codec = parse_kv_codec(name);
    const int levels = (1 << codec.int_bits) - 1;
    for (KvRole role : {KvRole::kKeys, KvRole::kValues}) {
      INFO(name << (role == KvRole::kKeys ? " keys" : " values"));
      const auto x = make_kv(s, role, 9);
      const CompressedKv c = compress_kv(x.data(), s, role, codec);
      const std::vector<float> decoded = decode_kv(c);
      const int group = c.layout.group;
      double worst = 0.0;
      for (int64_t p = 0; p < s.pairs(); ++p) {
        for (int t = 0; t < s.tokens; ++t) {
          for (int d = 0; d < s.dim; ++d) {
            // The group's range, computed here from the data.
            const int t0 = role == KvRole::kKeys ? t / group * group : t;
            const int t1 = role == KvRole::kKeys ? std::min(s.tokens, t0 + group) : t + 1;
            const int d0 = role == KvRole::kKeys ? d : d / group * group;
            const int d1 = role == KvRole::kKeys ? d + 1 : std::min(s.dim, d0 + group);
            float lo = INFINITY, hi = -INFINITY;
            for (int u = t0; u < t1; ++u) {
              for (int e = d0; e < d1; ++e) {
                lo = std::min(lo, x[static_cast<size_t>((p * s.tokens + u) * s.dim + e)]);
                hi = std::max(hi, x[static_cast<size_t>((p * s.tokens + u) * s.dim + e)]);
              }
            }
            const size_t at = static_cast<size_t>((p * s.tokens + t) * s.dim + d);
            // Half a step, the step widened by fp16 rounding (≤ 2^-10 relative) and the
            // minimum's fp16 rounding toward −∞.
            const double bound = 0.5 * (hi - lo) / levels * 1.002 + std::ldexp(std::fabs(lo), -10) + 1e-6;
            worst = std::max(worst, std::fabs(decoded[at] - x[at]) / bound);
          }
        }
      }
      CHECK(worst <= 1.0);
    }
  }
}

TEST_CASE("kv reference attention: ignored keys have no weight, a row with none left is 0") {
  const KvShape s{2, 2, 21, 16};
  const auto kx = make_kv(s, KvRole::kKeys, 1), vx = make_kv(s, KvRole::kValues, 2);
  const CompressedKv k = compress_kv(kx.data(), s, KvRole::kKeys, parse_kv_codec("int8"));
  const CompressedKv v = compress_kv(vx.data(), s, KvRole::kValues, parse_kv_codec("int8"));
  const std::vector<float> values = decode_kv(v);
  std::vector<float> q(static_cast<size_t>(s.pairs() * 3 * s.dim));
  std::mt19937 rng(4);
  std::normal_distribution<float> normal;
  for (auto& x : q) x = normal(rng);
  // Image 0 keeps only key 7; image 1 keeps nothing.
  std::vector<uint8_t> padding(static_cast<size_t>(s.batch * s.tokens), 1);
  padding[7] = 0;
  const std::vector<float> out = attention_reference(q.data(), 3, k, v, padding.data(), 0.0f);
  for (int h = 0; h < s.heads; ++h) {
    for (int i = 0; i < 3; ++i) {
      for (int d = 0; d < s.dim; ++d) {
        const float key7 = values[static_cast<size_t>((h * s.tokens + 7) * s.dim + d)];
        CHECK(out[static_cast<size_t>(((0 * s.heads + h) * 3 + i) * s.dim + d)] ==
              half_bits_to_float(float_to_half_bits(key7)));
        CHECK(out[static_cast<size_t>(((1 * s.heads + h) * 3 + i) * s.dim + d)] == 0.0f);
      }
    }
  }
}

TEST_CASE("kv codecs and shapes that cannot be stored are refused with the reason") {
  CHECK_THROWS_WITH(parse_kv_codec("bc2"), message_contains("is not one of"));
  CHECK_THROWS_WITH(parse_kv_codec("int3"), message_contains("4 or 8 bits"));
  CHECK_THROWS_WITH(parse_kv_codec("int4_g0"), message_contains("positive whole number"));
  CHECK_THROWS_WITH(kv_layout(KvShape{1, 1, 8, 30}, KvRole::kKeys, parse_kv_codec("bc4_unorm")),
                    message_contains("multiple of 4"));
  std::vector<float> x(64, 0.0f);
  x[5] = NAN;
  CHECK_THROWS_WITH(compress_kv(x.data(), KvShape{1, 1, 4, 16}, KvRole::kKeys, parse_kv_codec("bc4_unorm")),
                    message_contains("not finite"));
  x[5] = 1e6f;
  CHECK_THROWS_WITH(compress_kv(x.data(), KvShape{1, 1, 4, 16}, KvRole::kKeys, parse_kv_codec("bc6h_sf16")),
                    message_contains("half-float range"));
}
