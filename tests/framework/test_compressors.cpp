// Every registered compressor: round trip within its error bound, exact byte counts,
// constant inputs, odd shapes, bad input.
#include <algorithm>
#include <cmath>

#include "bcfeat/datasets/features.h"
#include "bcfeat/framework/compressor.h"
#include "bcfeat/framework/config.h"
#include "bcfeat/framework/error.h"
#include "bcfeat/framework/metrics.h"
#include "bcfeat/kernels/float_formats.h"
#include "catch.h"

using namespace bcfeat;

namespace {

// Synthetic features; `outliers` < 0: 2 outlier channels when D >= 8, else none.
torch::Tensor features(int batch, int tokens_h, int tokens_w, int dim, uint64_t seed = 1, int outliers = -1,
                       double outlier_scale = 30.0) {
  FeatureOptions options;
  options.batch = batch;
  options.tokens_hw = {tokens_h, tokens_w};
  options.dim = dim;
  options.outlier_channels = outliers >= 0 ? outliers : (dim >= 8 ? 2 : 0);
  options.outlier_scale = outlier_scale;
  return synthetic_features(options, seed);
}

// Every test variant of every registered compressor.
std::vector<CompressionOptions> all_variants() {
  std::vector<CompressionOptions> out;
  for (const auto& entry : compressor_registry()) {
    for (const auto& settings : entry.test_variants) out.push_back(compression_options(entry.name, settings));
  }
  return out;
}

}  // namespace

TEST_CASE("registry: every compressor round-trips within its declared bound on odd shapes") {
  const torch::Tensor x = features(2, 5, 7, 37);  // N = 35 tokens, D = 37: nothing divides evenly
  const float* values = x.data_ptr<float>();
  const int64_t batch = x.size(0), tokens = x.size(1), dim = x.size(2);
  const double tensor_amax = x.abs().max().item<double>();
  for (const auto& entry : compressor_registry()) {
    REQUIRE(!entry.test_variants.empty());
    for (const auto& settings : entry.test_variants) {
      const CompressionOptions options = compression_options(entry.name, settings);
      INFO("method " << entry.name << " " << join(settings, " "));
      const auto compressor = make_compressor(options);
      const Compressed compressed = compressor->compress(x);
      const torch::Tensor y = compressor->decompress(compressed);
      REQUIRE(y.sizes() == x.sizes());
      const float* out = y.data_ptr<float>();
      const BoundScope scope = entry.error_bound.scope(options);
      // The statistics of each group of the scope (a token's channels or a channel's tokens:
      // the whole axis bounds every group inside it), then every value against its bound.
      const int64_t groups = scope == BoundScope::kChannel ? batch * dim : batch * tokens;
      const int64_t members = scope == BoundScope::kChannel ? tokens : dim;
      auto index = [&](int64_t group, int64_t member) {
        return scope == BoundScope::kChannel ? ((group / dim) * tokens + member) * dim + group % dim
                                             : group * dim + member;
      };
      for (int64_t g = 0; g < groups; ++g) {
        double lo = 1e30, hi = -1e30, amax = 0;
        for (int64_t m = 0; m < members; ++m) {
          const double v = values[index(g, m)];
          lo = std::min(lo, v);
          hi = std::max(hi, v);
          amax = std::max(amax, std::fabs(v));
        }
        const double bound = scope == BoundScope::kTensor ? entry.error_bound.bound(options, 0, 0, tensor_amax)
                                                          : entry.error_bound.bound(options, lo, hi, amax);
        for (int64_t m = 0; m < members; ++m) {
          const int64_t i = index(g, m);
          REQUIRE(std::fabs(out[i] - values[i]) <= bound);
        }
      }
    }
  }
}

TEST_CASE("registry: keys are declared where compressors are registered, shared keys once") {
  std::vector<std::string> names;
  for (const auto& key : compressor_keys()) {
    INFO("compression." << key.name);
    CHECK(std::find(names.begin(), names.end(), key.name) == names.end());
    names.push_back(key.name);
    CHECK(!key.owners.empty());
    CHECK(!key.doc.empty());
  }
  const auto owners = [](const std::string& name) {
    for (const auto& key : compressor_keys()) {
      if (key.name == name) return key.owners;
    }
    return std::vector<std::string>{};
  };
  CHECK(owners("group_size") == std::vector<std::string>{"int", "fp8"});
  CHECK(owners("tokens_hw") == std::vector<std::string>{"texture", "codebook"});
  CHECK(owners("zstd_level") == std::vector<std::string>{"lossless"});
  // Every key has its default in a fresh CompressionOptions, and reading it as another type fails.
  CompressionOptions options;
  CHECK(options.get<int>("bits") == 8);
  CHECK(options.get<std::string>("format") == "bc4_snorm");
  CHECK_THROWS_AS(options.get<std::string>("bits"), std::logic_error);
  CHECK_THROWS_AS(options.set("no_such_key", 1), std::logic_error);
}

TEST_CASE("byte counts match hand-computed sizes") {
  const torch::Tensor x = features(2, 5, 7, 37);  // 2·35·37 = 2590 values
  CompressionOptions options;
  options.method = "int";
  options.set("bits", 3);
  options.set("group_size", 16);  // per token: ceil(37/16) = 3 groups -> 70·3 = 210 groups
  Compressed c = make_compressor(options)->compress(x);
  CHECK(c.side_bytes == 210 * 4);
  CHECK(c.bytes.size() == 210 * 4 + (2590 * 3 + 7) / 8);
  options.set("axis", "channel");  // per channel: 2·37 channels × ceil(35/16) = 3 groups = 222
  c = make_compressor(options)->compress(x);
  CHECK(c.side_bytes == 222 * 4);
  options.method = "fp8";
  options.set("axis", "token");
  options.set("group_size", 0);  // one scale per token: 70
  c = make_compressor(options)->compress(x);
  CHECK(c.bytes.size() == 70 * 2 + 2590);
  options.method = "fp16";
  c = make_compressor(options)->compress(x);
  CHECK(c.bytes.size() == 2590 * 2);
  CHECK(c.side_bytes == 0);
  const nlohmann::json rate = rate_metrics(1295, 0, 2590);
  CHECK(rate["bits_per_value"].get<double>() == 4.0);
  CHECK(rate["compression_ratio"].get<double>() == 4.0);
}

TEST_CASE("constant inputs: exact for int, fp16, bf16, texture, codebook; within a 2^-4 relative step for fp8") {
  for (float value : {0.75f, -2.5f, 0.0f}) {
    const torch::Tensor x = torch::full({1, 4, 8}, value);
    for (auto options : all_variants()) {
      INFO("method " << options.method << " axis " << options.get<std::string>("axis") << " value " << value);
      if (options.method == "texture" || options.method == "codebook") options.set("tokens_hw", std::vector<int>{2, 2});
      const auto compressor = make_compressor(options);
      const torch::Tensor y = compressor->decompress(compressor->compress(x));
      if (options.method == "fp8") {
        CHECK((y - x).abs().max().item<float>() <= std::fabs(value) / 16);
      } else {
        CHECK(torch::equal(x, y));
      }
    }
  }
}

TEST_CASE("bad features are rejected at the boundary") {
  torch::Tensor x = torch::zeros({1, 4, 8});
  x.index_put_({0, 2, 5}, NAN);
  try {
    prepare_features(x, "test features");
    FAIL("NaN accepted");
  } catch (const InputError& e) {
    CHECK(std::string(e.what()).find("[0, 2, 5]") != std::string::npos);
  }
  CHECK_THROWS_AS(prepare_features(torch::zeros({4}), "test"), InputError);
  CHECK_THROWS_AS(prepare_features(torch::zeros({1, 0, 3}), "test"), InputError);
  CHECK_THROWS_AS(prepare_features(torch::zeros({1, 2, 3, 4}), "test"), InputError);
  CHECK(prepare_features(torch::zeros({5, 3}), "test").sizes() == torch::IntArrayRef({1, 5, 3}));
  CompressionOptions options;
  options.method = "fp16";
  CHECK_THROWS_AS(make_compressor(options)->compress(torch::full({1, 1, 2}, 1e6f)), InputError);
  options.method = "nope";
  CHECK_THROWS_AS(make_compressor(options), InputError);
}

TEST_CASE("synthetic features are deterministic, heavy-tailed and spatially correlated") {
  const torch::Tensor a = features(1, 16, 16, 64, 7);
  const torch::Tensor b = features(1, 16, 16, 64, 7);
  const torch::Tensor c = features(1, 16, 16, 64, 8);
  CHECK(torch::equal(a, b));
  CHECK_FALSE(torch::equal(a, c));
  // Neighbouring tokens are closer than distant ones.
  const torch::Tensor grid = a[0].reshape({16, 16, 64});
  const double near = (grid.slice(1, 1) - grid.slice(1, 0, 15)).pow(2).mean().item<double>();
  const double far = (grid.slice(1, 8) - grid.slice(1, 0, 8)).pow(2).mean().item<double>();
  CHECK(near < 0.6 * far);
  // Outlier channels dominate the range.
  const torch::Tensor channel_amax = a[0].abs().amax(0);
  CHECK(channel_amax.max().item<double>() > 5 * channel_amax.median().item<double>());
}

TEST_CASE("texture compressor: exact stream size, smooth features compress well") {
  const torch::Tensor x = features(2, 16, 12, 10, 4, 0);
  CompressionOptions options;
  options.method = "texture";
  options.set("tokens_hw", std::vector<int>{16, 12});
  options.set("quality", "high");
  struct Case {
    const char* format;
    int slots, bytes_per_block;
  } cases[] = {{"bc1", 3, 8}, {"bc3", 4, 16}, {"bc4_snorm", 1, 8}, {"bc5_unorm", 2, 16}};
  for (const auto& test : cases) {
    for (const char* map : {"per_channel", "per_texture"}) {
      INFO("format " << test.format << " map " << map);
      options.set("format", test.format);
      options.set("value_map", map);
      const auto compressor = make_compressor(options);
      const Compressed c = compressor->compress(x);
      const int64_t groups = (10 + test.slots - 1) / test.slots;
      const int64_t blocks_per_texture = 4 * 3;  // 16×12 texels
      const int64_t ranges = std::string(map) == "per_channel" ? 10 : 2 * 10;
      CHECK(c.side_bytes == 4 * ranges);
      CHECK(static_cast<int64_t>(c.bytes.size()) == 4 * ranges + 2 * groups * blocks_per_texture * test.bytes_per_block);
      const torch::Tensor y = compressor->decompress(c);
      const double rel = ((y - x).pow(2).sum() / x.pow(2).sum()).sqrt().item<double>();
      // BC4/BC5 code each channel on its own; BC1/BC3 put 3-4 channels on one colour line
      // per block, which uncorrelated feature channels fit poorly.
      CHECK(rel < (test.slots <= 2 ? 0.1 : 0.45));
    }
  }
  // Other layouts, hand-computed sizes for bc4 (8 bytes per 4×4 block), 2 images, D = 10:
  options.set("format", "bc4_unorm");
  options.set("value_map", "per_channel");
  options.set("layout", "token_channel");  // 10 × 192 texels → 3 × 48 blocks per image
  CHECK(make_compressor(options)->compress(x).bytes.size() == 40u + 2 * 3 * 48 * 8);
  options.set("layout", "channel");  // 10 groups → tile 4 × 4 (√10 → 4; ceil(10/4) = 3 → 4 rows): one block per token
  const auto channel = make_compressor(options);
  const Compressed folded = channel->compress(x);
  CHECK(folded.bytes.size() == 40u + 2 * 192 * 8);
  const double folded_rel = ((channel->decompress(folded) - x).pow(2).sum() / x.pow(2).sum()).sqrt().item<double>();
  CHECK(folded_rel < 0.2);
  options.set("layout", "spatial");
  options.set("tokens_hw", std::vector<int>{});
  CHECK_THROWS_AS(make_compressor(options)->compress(x), InputError);  // 192 tokens: not square
  options.set("tokens_hw", std::vector<int>{8, 8});
  CHECK_THROWS_AS(make_compressor(options)->compress(x), InputError);  // 64 != 192
}

TEST_CASE("texture compressor with ASTC: block sizes set the rate, exact stream size, HDR profile") {
  const torch::Tensor x = features(2, 16, 12, 10, 4, 0);
  CompressionOptions options;
  options.method = "texture";
  options.set("tokens_hw", std::vector<int>{16, 12});
  options.set("value_map", "per_channel");
  double previous_rel = 0;
  // 3 groups of 4 channels (the last holds 2) per image; 16x12 texels per texture.
  struct Case {
    const char* format;
    int64_t blocks_per_texture;
  } cases[] = {{"astc_4x4", 4 * 3}, {"astc_6x6", 3 * 2}, {"astc_8x8", 2 * 2}, {"astc_12x12", 2 * 1}};
  for (const auto& test : cases) {
    INFO("format " << test.format);
    options.set("format", test.format);
    const auto compressor = make_compressor(options);
    const Compressed c = compressor->compress(x);
    CHECK(c.side_bytes == 4 * 10);
    CHECK(static_cast<int64_t>(c.bytes.size()) == 4 * 10 + 2 * 3 * test.blocks_per_texture * 16);
    const torch::Tensor y = compressor->decompress(c);
    const double rel = ((y - x).pow(2).sum() / x.pow(2).sum()).sqrt().item<double>();
    CHECK(rel < 0.6);
    CHECK(rel > previous_rel);  // fewer bits, more error
    previous_rel = rel;
  }
  // HDR profile: values as half floats (value_scale scale: per-channel fp16 scale, counted).
  options.set("format", "astc_4x4");
  options.set("profile", "hdr");
  options.set("value_scale", "scale");
  const torch::Tensor positive = x.abs() + 0.5;
  const auto hdr = make_compressor(options);
  const Compressed h = hdr->compress(positive);
  CHECK(h.side_bytes == 2 * 10);
  const double hdr_rel = ((hdr->decompress(h) - positive).pow(2).sum() / positive.pow(2).sum()).sqrt().item<double>();
  CHECK(hdr_rel < 0.25);
  CHECK_THROWS_AS(hdr->compress(x), InputError);  // negative values need the affine map
  options.set("profile", "ldr");
  CHECK_THROWS_AS(make_compressor(options), InputError);  // value_scale scale needs a half-float profile
  options.set("value_scale", "affine");
  options.set("quality", "exhaustive");  // libastcenc presets are accepted for ASTC ...
  CHECK_NOTHROW(make_compressor(options));
  options.set("format", "bc1");
  CHECK_THROWS_AS(make_compressor(options), InputError);  // ... but not for BC formats
}

TEST_CASE("texture compressor keeps listed tokens exactly (fp16) and packs the rest") {
  torch::Tensor x = features(2, 1, 65, 6, 5, 0);  // a CLS token + an 8×8 grid
  x.index_put_({torch::indexing::Slice(), 0}, 40.0f);  // an outlying CLS token
  CompressionOptions options;
  options.method = "texture";
  options.set("format", "bc4_snorm");
  options.set("keep_tokens", std::vector<int>{0});
  const auto compressor = make_compressor(options);
  const Compressed c = compressor->compress(x);
  // 2·1·6 fp16 kept values + 6 fp16 ranges + 2 images × 6 groups × 4 blocks × 8 bytes.
  CHECK(c.side_bytes == 2 * 12 + 4 * 6);
  CHECK(c.bytes.size() == 2u * 12 + 4 * 6 + 2 * 6 * 4 * 8);
  const torch::Tensor y = compressor->decompress(c);
  CHECK(torch::equal(y.select(1, 0), x.select(1, 0)));
  const torch::Tensor rest = torch::arange(1, 65);
  const double rel = ((y.index_select(1, rest) - x.index_select(1, rest)).pow(2).sum() /
                      x.index_select(1, rest).pow(2).sum()).sqrt().item<double>();
  CHECK(rel < 0.1);
  options.set("keep_tokens", std::vector<int>{0, 0});
  CHECK_THROWS_AS(make_compressor(options)->compress(x), InputError);
  options.set("keep_tokens", std::vector<int>{65});
  CHECK_THROWS_AS(make_compressor(options)->compress(x), InputError);
}

TEST_CASE("lossless returns exactly the fp16 values and beats raw fp16 on smooth features") {
  const torch::Tensor x = features(2, 8, 8, 32, 6, 4);
  CompressionOptions options;
  options.method = "fp16";
  const auto half = make_compressor(options);
  options.method = "lossless";
  const auto lossless = make_compressor(options);
  const Compressed c = lossless->compress(x);
  CHECK(torch::equal(lossless->decompress(c), half->decompress(half->compress(x))));
  CHECK(c.bytes.size() < 2u * x.numel());
  // Constant data compresses to almost nothing.
  CHECK(lossless->compress(torch::full({1, 64, 64}, 0.5f)).bytes.size() < 100u);
}

TEST_CASE("texture compressor stores the widest-range channels as fp16") {
  const torch::Tensor x = features(1, 8, 8, 12, 8, 2, 200.0);  // the generator's massive-activation channels
  CompressionOptions options;
  options.method = "texture";
  options.set("format", "bc4_snorm");
  options.set("value_map", "per_texture");
  const auto plain = make_compressor(options);
  options.set("outlier_channels", 2);
  const auto split = make_compressor(options);
  const Compressed c = split->compress(x);
  // 2 u16 indices + 64·2 fp16 values + 10 ranges + 10 textures × 4 blocks × 8 bytes.
  CHECK(c.side_bytes == 4 + 64 * 2 * 2 + 10 * 4);
  CHECK(c.bytes.size() == static_cast<size_t>(c.side_bytes) + 10 * 4 * 8);
  const torch::Tensor y = split->decompress(c);
  // The generator puts its outliers at channels (2k+1)·D/4 = 3 and 9; those come back as fp16.
  for (int64_t d : {3, 9}) {
    CHECK(torch::allclose(y.select(2, d), x.select(2, d), 1e-3, 1e-2));
  }
  const double split_error = (y - x).pow(2).mean().item<double>();
  const double plain_error = (plain->decompress(plain->compress(x)) - x).pow(2).mean().item<double>();
  CHECK(split_error < plain_error);
  options.set("outlier_channels", 12);
  CHECK_THROWS_AS(make_compressor(options)->compress(x), InputError);
}

TEST_CASE("texture value maps can clip at percentiles") {
  // One channel, 100 tokens: values 0..98 and one spike of 1000.
  torch::Tensor x = torch::arange(100, torch::kFloat32).reshape({1, 100, 1});
  x.index_put_({0, 99, 0}, 1000.0f);
  CompressionOptions options;
  options.method = "texture";
  options.set("format", "bc4_unorm");
  options.set("tokens_hw", std::vector<int>{10, 10});
  options.set("quality", "high");
  options.set("clip_percentile", 1.0);  // nearest rank 1 and 98 of 0..99: values 1 and 98
  const auto clipped = make_compressor(options);
  const torch::Tensor y = clipped->decompress(clipped->compress(x));
  CHECK(y.max().item<float>() <= 98.0f * 1.001f);
  CHECK(y.min().item<float>() >= 0.999f);
  options.set("clip_percentile", 0.0);
  const auto full = make_compressor(options);
  const torch::Tensor z = full->decompress(full->compress(x));
  CHECK(z.max().item<float>() > 900.0f);  // min/max map keeps the spike
  // Without the spike's range, the other 99 values are reproduced more closely.
  const torch::Tensor body = torch::arange(1, 99);
  CHECK((y.index_select(1, body) - x.index_select(1, body)).abs().max().item<float>() <
        (z.index_select(1, body) - x.index_select(1, body)).abs().max().item<float>());
}

TEST_CASE("texture channel order by variance: permutation stored, round trip unchanged in quality") {
  const torch::Tensor x = features(2, 8, 8, 9, 9, 1);
  CompressionOptions options;
  options.method = "texture";
  options.set("format", "bc1");
  options.set("outlier_channels", 1);
  options.set("layout", "token_channel");
  const auto identity = make_compressor(options);
  options.set("channel_order", "variance");
  const auto sorted = make_compressor(options);
  const Compressed a = identity->compress(x), b = sorted->compress(x);
  CHECK(b.bytes.size() == a.bytes.size() + 2 * 8);  // 8 remaining channels, u16 each
  CHECK(b.side_bytes == a.side_bytes + 2 * 8);
  const torch::Tensor ya = identity->decompress(a), yb = sorted->decompress(b);
  const double ea = (ya - x).pow(2).mean().item<double>(), eb = (yb - x).pow(2).mean().item<double>();
  CHECK(eb < 2.0 * ea);
  CHECK(ea < 2.0 * eb);
  // The stored permutation lists the inlier channels by decreasing variance.
  const int64_t offset = 2;  // after the outlier index (the outlier values follow the side information)
  std::vector<int64_t> order;
  for (int k = 0; k < 8; ++k) order.push_back(b.bytes[offset + 2 * k] | (b.bytes[offset + 2 * k + 1] << 8));
  std::vector<int64_t> sorted_copy = order;
  std::sort(sorted_copy.begin(), sorted_copy.end());
  CHECK(sorted_copy == std::vector<int64_t>({0, 1, 2, 3, 4, 5, 6, 7}));
  const torch::Tensor inliers = x.index_select(2, torch::tensor(std::vector<int64_t>{0, 1, 2, 3, 5, 6, 7, 8}));
  const torch::Tensor variance = inliers.reshape({-1, 8}).var(0, false);
  for (int k = 0; k + 1 < 8; ++k) CHECK(variance[order[k]].item<double>() >= variance[order[k + 1]].item<double>());
}

TEST_CASE("texture PCA rotation: matrix stored in fp16, inverse exact on the stored matrix") {
  const torch::Tensor x = features(2, 8, 8, 16, 10, 0);
  CompressionOptions options;
  options.method = "texture";
  options.set("format", "bc4_snorm");
  options.set("quality", "high");
  const auto plain = make_compressor(options);
  options.set("rotation", "pca");
  options.set("channel_order", "variance");
  const auto rotated = make_compressor(options);
  const Compressed a = plain->compress(x), b = rotated->compress(x);
  CHECK(b.side_bytes == a.side_bytes + 2 * 16 * 16 + 2 * 16);
  CHECK(b.bytes.size() == a.bytes.size() + 2 * 16 * 16 + 2 * 16);
  const double ea = (plain->decompress(a) - x).pow(2).mean().item<double>();
  const double eb = (rotated->decompress(b) - x).pow(2).mean().item<double>();
  CHECK(eb < 3.0 * ea);
  // A lossless inner codec isolates the rotation: with constant features every rotated
  // channel is constant, so the texture path is exact and only fp16/float rounding remains.
  const torch::Tensor constant = torch::full({1, 16, 4}, 0.25f) + torch::arange(4, torch::kFloat32) * 0.125f;
  const auto round_trip = rotated->decompress(rotated->compress(constant));
  CHECK(torch::allclose(round_trip, constant, 1e-3, 1e-3));
}

TEST_CASE("codebook: hand-computed sizes, nearest-level decoding, error falls with K, shared codebooks") {
  const torch::Tensor x = features(2, 5, 7, 37, 3);  // 70 tokens, D = 37
  CompressionOptions options;
  options.method = "codebook";
  options.set("codebook", "vector");
  options.set("codebook_size", 16);
  options.set("subvector", 4);  // S = ceil(37 / 4) = 10 sub-vectors per token
  Compressed c = make_compressor(options)->compress(x);
  CHECK(c.side_bytes == 16 * 4 * 2);
  CHECK(c.bytes.size() == 16 * 4 * 2 + (70 * 10 * 4 + 7) / 8);
  options.set("codebook", "pq");  // one codebook per subspace
  c = make_compressor(options)->compress(x);
  CHECK(c.side_bytes == 10 * 16 * 4 * 2);
  CHECK(c.bytes.size() == 10 * 16 * 4 * 2 + (70 * 10 * 4 + 7) / 8);
  options.set("codebook", "scalar");
  options.set("codebook_size", 5);  // 3 bits per value
  c = make_compressor(options)->compress(x);
  CHECK(c.bytes.size() == 5 * 2 + (2590 * 3 + 7) / 8);

  // Scalar: every value decodes to the nearest of the stored levels.
  options.set("codebook_size", 8);
  const auto scalar = make_compressor(options);
  c = scalar->compress(x);
  const torch::Tensor y = scalar->decompress(c);
  std::vector<float> levels;
  for (int k = 0; k < 8; ++k) levels.push_back(half_bits_to_float(static_cast<uint16_t>(c.bytes[2 * k] | (c.bytes[2 * k + 1] << 8))));
  CHECK(std::is_sorted(levels.begin(), levels.end()));
  const float* xv = x.data_ptr<float>();
  const float* yv = y.data_ptr<float>();
  for (int64_t i = 0; i < x.numel(); ++i) {
    for (float level : levels) REQUIRE(std::fabs(xv[i] - yv[i]) <= std::fabs(xv[i] - level) + 1e-6f);
  }

  // More entries, less error (k-means on the same data).
  double previous = 1e30;
  for (int k : {4, 16, 64}) {
    options.set("codebook", "pq");
    options.set("codebook_size", k);
    const auto compressor = make_compressor(options);
    const double mse = (compressor->decompress(compressor->compress(x)) - x).pow(2).mean().item<double>();
    CHECK(mse < previous);
    previous = mse;
  }

  // Fitted on calibration features: the codebooks leave the stream and become shared state.
  options.set("codebook", "vector");
  options.set("codebook_size", 16);
  const auto fitted = make_compressor(options);
  fitted->fit(features(3, 5, 7, 37, 4));
  c = fitted->compress(x);
  CHECK(fitted->shared_bytes() == 16 * 4 * 2);
  CHECK(c.side_bytes == 0);
  CHECK(c.bytes.size() == static_cast<size_t>((70 * 10 * 4 + 7) / 8));
  const double fitted_mse = (fitted->decompress(c) - x).pow(2).mean().item<double>();
  CHECK(fitted_mse < x.pow(2).mean().item<double>());
  CHECK_THROWS_AS(fitted->compress(features(1, 5, 7, 36, 4)), InputError);
  CompressionOptions lossless;
  lossless.method = "lossless";
  lossless.device = "cuda";  // zstd runs on the CPU only
  CHECK_THROWS_AS(make_compressor(lossless), InputError);

  // Index maps as textures: the inner texture stream replaces the packed indices.
  options.set("index_format", "bc4_unorm");
  options.set("tokens_hw", std::vector<int>{5, 7});
  options.set("codebook_size", 256);
  c = make_compressor(options)->compress(x);
  // 2 images × 10 subspace maps of 5×7 tokens = 2×2 blocks of 8 bytes each; fp16 (min, max) per map channel.
  CHECK(c.bytes.size() == 256 * 4 * 2 + 10 * 4 + 2 * 10 * 4 * 8);
}

TEST_CASE("texture: Hadamard rotation, correlation order, BC6H value scales, per-dataset maps") {
  const torch::Tensor x = features(2, 8, 8, 24, 12, 0);
  CompressionOptions options;
  options.method = "texture";
  options.set("format", "bc5_snorm");
  options.set("layout", "token_channel");
  const auto plain = make_compressor(options);
  const Compressed a = plain->compress(x);
  const double ea = (plain->decompress(a) - x).pow(2).mean().item<double>();

  // Hadamard: a 4-byte seed more; orthonormal, so a constant-per-channel tensor survives.
  options.set("rotation", "hadamard");
  const auto rotated = make_compressor(options);
  const Compressed h = rotated->compress(x);
  CHECK(h.bytes.size() == a.bytes.size() + 4);
  CHECK((rotated->decompress(h) - x).pow(2).mean().item<double>() < 4.0 * ea);
  const torch::Tensor constant = torch::zeros({1, 16, 24}) + torch::arange(24, torch::kFloat32) * 0.01f;
  CHECK(torch::allclose(rotated->decompress(rotated->compress(constant)), constant, 1e-3, 2e-3));

  // Correlation order: channels k + 8 and k + 16 are affine copies of channel k (k < 8).
  // Grouping each triple into one BC1 texel puts its colours on the grey line, which BC1
  // codes far better than three unrelated channels (the identity order).
  torch::Tensor triples = x.clone();
  triples.slice(2, 8, 16).copy_(x.slice(2, 0, 8) * 0.5 + 0.1);
  triples.slice(2, 16, 24).copy_(x.slice(2, 0, 8) * -2.0 + 0.3);
  options = CompressionOptions();
  options.method = "texture";
  options.set("format", "bc1");
  const auto identity = make_compressor(options);
  options.set("channel_order", "correlation");
  const auto grouped = make_compressor(options);
  const Compressed p = identity->compress(triples), q = grouped->compress(triples);
  CHECK(q.bytes.size() == p.bytes.size() + 2 * 24);
  const double ep = (identity->decompress(p) - triples).pow(2).mean().item<double>();
  const double eq = (grouped->decompress(q) - triples).pow(2).mean().item<double>();
  CHECK(eq < 0.5 * ep);
  std::vector<int64_t> order;
  for (int k = 0; k < 24; ++k) order.push_back(q.bytes[2 * k] | (q.bytes[2 * k + 1] << 8));
  for (int k = 0; k < 24; k += 3) {  // each texel holds one channel and its two copies
    CHECK(order[k] % 8 == order[k + 1] % 8);
    CHECK(order[k] % 8 == order[k + 2] % 8);
  }

  // BC6H: values direct (no map stored) or over a per-channel fp16 scale (2 bytes each).
  options = CompressionOptions();
  options.method = "texture";
  options.set("format", "bc6h_sf16");
  options.set("value_scale", "direct");
  const auto direct = make_compressor(options);
  const Compressed d = direct->compress(x);
  CHECK(d.side_bytes == 0);
  CHECK(d.bytes.size() == static_cast<size_t>(2 * 8 * 2 * 2 * 16));  // 2 images × 8 groups of 3 channels × 2×2 blocks
  const torch::Tensor yd = direct->decompress(d);
  // BC6H's precision is relative (half-float bits interpolated), so an affine map buys
  // nothing: direct values do at least as well within 1 dB, with no map stored.
  options.set("value_scale", "affine");
  const auto affine = make_compressor(options);
  const double psnr_direct = distortion_metrics(x, yd)["psnr_db"].get<double>();
  const double psnr_affine = distortion_metrics(x, affine->decompress(affine->compress(x)))["psnr_db"].get<double>();
  CHECK(psnr_direct > psnr_affine - 1.0);
  CHECK(psnr_direct > 20.0);
  options.set("value_scale", "scale");
  const Compressed sc = make_compressor(options)->compress(x);
  CHECK(sc.side_bytes == 2 * 24);
  options.set("format", "bc6h_uf16");
  CHECK_THROWS_AS(make_compressor(options)->compress(x), InputError);  // negative values
  options.set("format", "bc4_snorm");
  CHECK_THROWS_AS(make_compressor(options), InputError);  // scales are for half-float formats

  // Per-dataset scope: order and value maps fitted once on calibration images, shared.
  options = CompressionOptions();
  options.method = "texture";
  options.set("format", "bc4_snorm");
  options.set("channel_order", "variance");
  options.set("scope", "per_dataset");
  const auto shared = make_compressor(options);
  shared->fit(features(3, 8, 8, 24, 13, 0));
  CHECK(shared->shared_bytes() == 2 * 24 + 4 * 24);
  const Compressed s = shared->compress(x);
  CHECK(s.side_bytes == 0);
  CHECK(s.bytes.size() == static_cast<size_t>(2 * 24 * 4 * 8));  // blocks only
  const torch::Tensor ys = shared->decompress(s);
  CHECK(distortion_metrics(x, ys)["psnr_db"].get<double>() > 25.0);
  CHECK_THROWS_AS(shared->compress(features(1, 8, 8, 23, 13, 0)), InputError);
}

TEST_CASE("compression.device texture: block formats the texture units decode, and nothing else") {
  CompressionOptions options;
  options.method = "texture";
  options.device = "texture";
  options.set("format", "astc_4x4");
  CHECK_THROWS_WITH(make_compressor(options), message_contains("no data-centre GPU decodes ASTC in its texture units"));
  options.set("format", "bc7");
  CHECK_NOTHROW(make_compressor(options));  // the GPU is needed when it runs, not when it is made
  options.method = "int";
  CHECK_THROWS_WITH(make_compressor(options), message_contains("texture units"));
  options.method = "codebook";
  CHECK_THROWS_AS(make_compressor(options), InputError);
}
