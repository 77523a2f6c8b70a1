// ASTC: bcfeat's decoder against ARM's libastcenc decoder (the golden source), bit for bit
// as half floats, for every 2D block size × profile, on random block encodings (valid and
// error blocks) and on images libastcenc encoded at every preset; the .astc container.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "astc_cuda_layout.h"
#include "astc_codec.h"
#include "blocks/astc.h"
#include "catch.h"
#include "kernels/astc_test_blocks.h"

using namespace bcfeat;

namespace {

const Profile kProfiles[] = {Profile::kLdr, Profile::kHdr};

// Index of the first texel where two decodes differ, or -1.
int64_t first_difference(const std::vector<uint16_t>& a, const std::vector<uint16_t>& b) {
  if (a.size() != b.size()) return 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i] != b[i]) return static_cast<int64_t>(i);
  }
  return -1;
}

// A smooth multi-frequency RGBA image with noise; HDR values reach a few hundred.
std::vector<float> test_image(int width, int height, Profile profile, std::mt19937_64& rng) {
  std::normal_distribution<float> noise(0.0f, 1.0f);
  std::vector<float> pixels(static_cast<size_t>(width) * height * 4);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      for (int c = 0; c < 4; ++c) {
        float v = 0.5f + 0.4f * std::sin(0.11f * x * (c + 1) + 0.07f * y * (3 - c)) + 0.05f * noise(rng);
        v = std::fmin(1.0f, std::fmax(0.0f, v));
        if (profile == Profile::kHdr && c < 3) v = 300.0f * v * v;
        pixels[(static_cast<size_t>(y) * width + x) * 4 + c] = v;
      }
    }
  }
  return pixels;
}

}  // namespace

TEST_CASE("ASTC: 14 block sizes, rates, profiles and presets") {
  REQUIRE(astc_formats().size() == 14);
  const FormatInfo& astc_4x4 = *find_format("astc_4x4");
  CHECK(format_bits_per_texel(astc_4x4) == 8.0);
  CHECK(format_bits_per_texel(*find_format("astc_12x12")) == Approx(0.8889).epsilon(1e-3));
  CHECK(find_format("astc_7x7") == nullptr);
  CHECK(compressed_size(*find_format("astc_6x5"), 13, 11) == 3 * 3 * 16);  // partial blocks count
  CHECK(parse_profile(astc_4x4, "hdr") == Profile::kHdr);
  CHECK_THROWS_AS(parse_profile(astc_4x4, "srgb"), std::invalid_argument);
  CHECK(parse_quality(astc_4x4, "normal") == Quality::kNormal);
  CHECK(parse_quality(astc_4x4, "medium") == Quality::kNormal);
  CHECK(std::string(quality_name(astc_4x4, Quality::kNormal)) == "medium");
  CHECK(parse_quality(astc_4x4, "exhaustive") == Quality::kExhaustive);
  CHECK_THROWS_AS(parse_quality(astc_4x4, "ultra"), std::invalid_argument);
}

TEST_CASE("ASTC decoder equals libastcenc on random blocks, every block size and profile") {
  std::mt19937_64 rng(11);
  for (const FormatInfo* format : astc_formats()) {
    const FormatInfo& f = *format;
    for (Profile profile : kProfiles) {
      int errors = 0;
      const int bx = 40, by = 25;
      const std::vector<uint8_t> blocks = random_astc_blocks(f, profile, bx * by, rng, errors);
      const int width = bx * f.block_width, height = by * f.block_height;
      const auto ours = astc_decode_half_cpu(f, profile, blocks.data(), width, height);
      const auto reference = astc_decode_half_reference(f, profile, blocks.data(), width, height);
      INFO(f.name << " " << profile_name(profile) << ": " << errors << " error blocks, first difference at half "
                  << first_difference(ours, reference));
      CHECK(errors > 20);               // error blocks are exercised ...
      CHECK(errors <= bx * by / 10);     // ... and most blocks are valid encodings
      CHECK(first_difference(ours, reference) == -1);
    }
  }
}

TEST_CASE("ASTC header: the colour values take the largest range that fits before the weights") {
  // decode_astc_header's colour range and colour_end (the CUDA kernel reads the colour values
  // up to colour_end): the sequence at that range ends there, fits below the weights (and the
  // plane-2 channel bits), and the next range would not fit.
  using astc_detail::sequence_bits;
  std::mt19937_64 rng(23);
  for (const FormatInfo* format : astc_formats()) {
    const FormatInfo& f = *format;
    int errors = 0, checked = 0;
    const std::vector<uint8_t> blocks = random_astc_blocks(f, Profile::kLdr, 400, rng, errors);
    for (size_t i = 0; i < blocks.size(); i += 16) {
      astc_detail::Bits bits;
      std::memcpy(&bits.lo, &blocks[i], 8);
      std::memcpy(&bits.hi, &blocks[i + 8], 8);
      AstcHeader h;
      decode_astc_header(bits, f.block_width, f.block_height, false, h);
      if (h.is_constant) continue;
      INFO(f.name << " block " << i / 16 << ": " << h.colour_values << " values, range " << h.colour_range);
      // Below the weights: the plane-2 channel (2 bits) and, for several partitions whose
      // endpoint modes differ (bits 23-24 not 00), 3 * partitions - 4 high mode bits.
      const bool extra_cem = h.partitions > 1 && ((blocks[i + 2] >> 7) | ((blocks[i + 3] & 1) << 1)) != 0;
      const int limit = 128 - h.weight_bits - (h.dual ? 2 : 0) - (extra_cem ? 3 * h.partitions - 4 : 0);
      CHECK(h.colour_end == h.colour_start + sequence_bits(h.colour_values, h.colour_range));
      CHECK(h.colour_end <= limit);
      if (h.colour_range < 20) CHECK(h.colour_start + sequence_bits(h.colour_values, h.colour_range + 1) > limit);
      ++checked;
    }
    CHECK(checked > 300);
  }
}

TEST_CASE("ASTC decoder equals libastcenc on images it encoded at every preset") {
  std::mt19937_64 rng(12);
  const int width = 37, height = 29;  // partial blocks at every block size
  for (Profile profile : kProfiles) {
    const std::vector<float> image = test_image(width, height, profile, rng);
    for (const FormatInfo* format : astc_formats()) {
    const FormatInfo& f = *format;
      for (Quality preset : {Quality::kFastest, Quality::kFast, Quality::kNormal, Quality::kHigh, Quality::kVeryThorough,
                             Quality::kExhaustive}) {
        const std::vector<uint8_t> blocks = astc_encode(f, profile, image.data(), width, height, 4, preset);
        REQUIRE(static_cast<int64_t>(blocks.size()) == compressed_size(f, width, height));
        const auto ours = astc_decode_half_cpu(f, profile, blocks.data(), width, height);
        const auto reference = astc_decode_half_reference(f, profile, blocks.data(), width, height);
        INFO(f.name << " " << profile_name(profile) << " " << quality_name(f, preset));
        CHECK(first_difference(ours, reference) == -1);
      }
    }
  }
}

TEST_CASE("ASTC encode: error falls with rate, and the thorough preset is no worse than fastest") {
  std::mt19937_64 rng(13);
  const int width = 64, height = 48;
  const std::vector<float> image = test_image(width, height, Profile::kLdr, rng);
  auto rmse = [&](const char* name, Quality preset) {
    const FormatInfo& f = *find_format(name);
    const auto blocks = astc_encode(f, Profile::kLdr, image.data(), width, height, 4, preset);
    const auto decoded = astc_half_to_float(astc_decode_half_cpu(f, Profile::kLdr, blocks.data(), width, height));
    double sum = 0;
    for (size_t i = 0; i < decoded.size(); ++i) sum += (decoded[i] - image[i]) * (decoded[i] - image[i]);
    return std::sqrt(sum / decoded.size());
  };
  const double r4 = rmse("astc_4x4", Quality::kNormal), r8 = rmse("astc_8x8", Quality::kNormal),
               r12 = rmse("astc_12x12", Quality::kNormal);
  INFO("rmse 4x4 " << r4 << ", 8x8 " << r8 << ", 12x12 " << r12);
  CHECK(r4 < 0.05);
  CHECK(r4 < r8);
  CHECK(r8 < r12);
  CHECK(rmse("astc_6x6", Quality::kHigh) <= rmse("astc_6x6", Quality::kFastest));
}

TEST_CASE(".astc files: header layout, round trip, bad files") {
  BlockImage image;
  image.format = find_format("astc_10x6");
  image.width = 300;
  image.height = 70000 / 1000;  // 70
  image.blocks.assign(static_cast<size_t>(compressed_size(*image.format, image.width, image.height)), 0x5a);
  const std::vector<uint8_t> file = make_astc_file(image);
  REQUIRE(file.size() == 16 + image.blocks.size());
  // astcenc's header: magic 13 AB A1 5C, block 10 6 1, then 24-bit x, y, z.
  const uint8_t header[16] = {0x13, 0xab, 0xa1, 0x5c, 10, 6, 1, 0x2c, 0x01, 0x00, 70, 0, 0, 1, 0, 0};
  CHECK(memcmp(file.data(), header, 16) == 0);
  const BlockImage back = parse_astc_file(file, "x.astc");
  CHECK(back.format == image.format);
  CHECK(back.width == 300);
  CHECK(back.height == 70);
  CHECK(back.blocks == image.blocks);

  auto bad = [&](std::vector<uint8_t> bytes) { return parse_astc_file(bytes, "bad.astc"); };
  std::vector<uint8_t> wrong_magic = file;
  wrong_magic[0] = 0;
  CHECK_THROWS_WITH(bad(wrong_magic), message_contains("bad magic"));
  CHECK_THROWS_WITH(bad(std::vector<uint8_t>(file.begin(), file.begin() + 10)), message_contains("too short"));
  CHECK_THROWS_WITH(bad(std::vector<uint8_t>(file.begin(), file.end() - 1)), message_contains("needs"));
  std::vector<uint8_t> odd_block = file;
  odd_block[4] = 7;
  CHECK_THROWS_WITH(bad(odd_block), message_contains("block size 7x6"));
  std::vector<uint8_t> volume = file;
  volume[6] = 4;
  CHECK_THROWS_WITH(bad(volume), message_contains("3D"));
}

// The CUDA decoder's span (kernels/src/astc_cuda.cu) holds astc_cuda_layout::kGroupsMax groups
// a block and one 9-word record of its colour and weight words (the colour words 0..3 and a
// zero word, the weight words 0..2 and a zero word); both rest on bounds of the block layout,
// found here with decode_astc_header over every block mode, partition count and layout of
// endpoint-mode classes (the modes' low bits, the seed and the rest of the block change no count).
TEST_CASE("ASTC: the CUDA decoder's span room holds every legal block's groups and sequence bits") {
  using astc_detail::Range;
  using astc_detail::range_of;
  using astc_cuda_layout::kGroupsMax;
  using astc_cuda_layout::kSizes;
  // A sequence of `values` values of `range` as the decoder's groups: trit blocks of 5 values,
  // quint blocks of 3, or `plain` values; their count, and the bits of one.
  auto group_count = [](int range, int values, int plain) {
    const Range r = range_of(range);
    return r.kind == 1 ? (values + 4) / 5 : r.kind == 2 ? (values + 2) / 3 : (values + plain - 1) / plain;
  };
  auto group_bits = [](int range) {
    const Range r = range_of(range);
    return r.kind == 1 ? 5 * r.bits + 8 : 3 * r.bits + 7;  // (trits or quints only)
  };
  int colour_end_max = 0, weight_end_max = 0, weight_bits_max = 0;
  for (int size = 0; size < 14; ++size) {
    const int bw = kSizes[size][0], bh = kSizes[size][1];
    int most[2] = {0, 0}, legal = 0;
    for (uint64_t mode = 0; mode < 2048; ++mode) {
      for (uint64_t partitions = 1; partitions <= 4; ++partitions) {
        // The endpoint-mode field: one partition, the mode in bits 13-16 (its class in 15-16);
        // several, bits 23-24 0 and one mode for all in 25-28, or a class base + 1 in 23-24 and
        // one class step a partition from bit 25 (the steps' high mode bits below the weights,
        // left 0 here, pick modes within a class).
        std::vector<uint64_t> fields;
        for (uint64_t cls = 0; cls < 4; ++cls) fields.push_back(partitions == 1 ? cls << 15 : cls << 27);
        for (uint64_t base = 1; partitions > 1 && base < 4; ++base) {
          for (uint64_t steps = 0; steps < (1u << partitions); ++steps) fields.push_back((base | steps << 2) << 23);
        }
        for (const uint64_t field : fields) {
          const astc_detail::Bits bits = {mode | (partitions - 1) << 11 | field, 0};
          AstcHeader h;
          decode_astc_header(bits, bw, bh, false, h);
          if (h.is_constant) continue;
          ++legal;
          const int weights = h.grid_w * h.grid_h * (h.dual ? 2 : 1);
          for (int plain8 = 0; plain8 < 2; ++plain8) {
            const int plain = plain8 ? 8 : 5;
            most[plain8] = std::max(most[plain8], group_count(h.colour_range, h.colour_values, plain) +
                                                      group_count(h.weight_range, weights, plain));
          }
          // A trit or quint group reads the bits past its sequence's end as zeros: the colour
          // values' from the colour words and the zero word after them (bits below 160), the
          // weights' from their four words (below 128; the fourth zero, as no weight sequence
          // passes bit 96). (Plain groups do not use values past the end.)
          weight_bits_max = std::max(weight_bits_max, h.weight_bits);
          if (range_of(h.colour_range).kind != 0) {
            colour_end_max = std::max(colour_end_max, h.colour_start + group_count(h.colour_range, h.colour_values, 5) *
                                                                           group_bits(h.colour_range));
          }
          if (range_of(h.weight_range).kind != 0) {
            weight_end_max =
                std::max(weight_end_max, group_count(h.weight_range, weights, 5) * group_bits(h.weight_range));
          }
        }
      }
    }
    INFO(bw << "x" << bh << ": " << legal << " legal layouts, at most " << most[0] << " groups with 5 plain values a "
            << "group, " << most[1] << " with 8");
    CHECK(legal > 1000);
    CHECK(most[0] == kGroupsMax[size][0]);
    CHECK(most[1] == kGroupsMax[size][1]);
  }
  INFO("trit and quint groups end by bit " << colour_end_max << " (colour values), " << weight_end_max << " (weights)");
  CHECK(weight_bits_max <= 96);
  CHECK(colour_end_max <= 160);
  CHECK(weight_end_max <= 128);
}

// The CUDA decoder turns an interpolation into half bits with unorm16_interpolation_float and a
// truncating conversion to half; here that conversion is modelled in integers (normal halves
// keep the float's top 10 mantissa bits, subnormal ones count units of 2^-24) and the result
// compared with unorm16_to_half for every sum the interpolation can produce.
TEST_CASE("ASTC: the CUDA decoder's unorm16 → half through float is exact for every interpolation") {
  auto truncate_to_half = [](float f) -> uint32_t {
    if (f >= 1.0f) return f == 1.0f ? 0x3c00u : 0xffffffffu;
    if (f < 6.103515625e-05f) return static_cast<uint32_t>(f * 16777216.0f);  // below 2^-14
    uint32_t bits = 0;
    std::memcpy(&bits, &f, sizeof bits);
    return (bits >> 13) - (112u << 10);
  };
  int64_t wrong = 0, first_wrong = -1;
  for (uint32_t sum = 0; sum <= 0xffffu * 64 + 32; ++sum) {  // e0 (64 - w) + e1 w + 32
    const float f = astc_detail::unorm16_interpolation_float(0x4b000000u + sum, 1.0f / 4194304.0f,
                                                             1.0f + 1.0f / 65536.0f, 1.0f / 268435456.0f);
    if (truncate_to_half(f) != astc_detail::unorm16_to_half(sum >> 6)) {
      if (first_wrong < 0) first_wrong = sum;
      ++wrong;
    }
  }
  INFO("first wrong sum " << first_wrong);
  CHECK(wrong == 0);
}

// The CUDA decoder's LNS → half works on the interpolation itself (lns_interpolation_half); it
// must equal lns_to_half of the interpolated value for every sum, the bits below the value
// included.
TEST_CASE("ASTC: the CUDA decoder's LNS → half from the interpolation equals lns_to_half for every sum") {
  int64_t wrong = 0, first_wrong = -1;
  for (uint32_t sum = 0; sum <= 0xffffu * 64 + 32; ++sum) {
    if (astc_detail::lns_interpolation_half(0x4b000000u + sum) != astc_detail::lns_to_half(sum >> 6)) {
      if (first_wrong < 0) first_wrong = sum;
      ++wrong;
    }
  }
  INFO("first wrong sum " << first_wrong);
  CHECK(wrong == 0);
}

// The two-at-once form packs two interpolations in 16-bit halves; each half must be
// lns_to_half of its own sum whatever the other holds: every sum in one half against a spread
// of sums in the other (both ends of the range, the knees, random ones), both ways round.
TEST_CASE("ASTC: the CUDA decoder's LNS → half of two interpolations at once equals lns_to_half per half") {
  std::vector<uint32_t> others = {0, 31, 32, 64 * 511 + 32, 64 * 512 + 32, 64 * 1536 + 32, 64 * 0xf7ff + 32,
                                  0xffffu * 64 + 32};
  std::mt19937 rng(11);
  for (int i = 0; i < 8; ++i) others.push_back(rng() % (0xffffu * 64 + 33));
  int64_t wrong = 0;
  for (const uint32_t other : others) {
    const uint32_t y = 0x4b000000u + other, expect_y = astc_detail::lns_to_half(other >> 6);
    for (uint32_t sum = 0; sum <= 0xffffu * 64 + 32; ++sum) {
      const uint32_t x = 0x4b000000u + sum, expect = astc_detail::lns_to_half(sum >> 6);
      wrong += astc_detail::lns_interpolation_half2(x, y) != (expect | (expect_y << 16));
      wrong += astc_detail::lns_interpolation_half2(y, x) != (expect_y | (expect << 16));
    }
  }
  CHECK(wrong == 0);
}

// The texel loops without partitions interpolate LNS channels from a base and a slope made per
// column (lns_base, lns_slope: one IMAD a channel and texel, a second plane's weight through a
// second slope that is 0 but for the plane-2 channel) and pack two values with lns_pack2: for
// every first endpoint, against a spread of second ones, at every weight, both channels of a
// pair must be lns_to_half of the interpolation astc_texel makes, (e0 (64 - w) + e1 w + 32) >> 6.
// The loops convert without the clamp (lns_half2_below_max) and get only blocks whose LNS
// endpoints are all at most 0xF7FF (the kernel sends the others, kInfoLnsHigh, to a loop that
// clamps), so such pairs are checked that way and the others with the clamp (lns_half2).
TEST_CASE("ASTC: the CUDA decoder's LNS interpolation by base and slope equals lns_to_half of the interpolation") {
  std::vector<uint32_t> seconds = {0, 1, 0x7ff, 0x800, 0xf7ff, 0xf800, 0xfff0, 0xffff};
  std::mt19937 rng(12);
  for (int i = 0; i < 8; ++i) seconds.push_back(rng() & 0xffffu);
  const auto interpolated = [](uint32_t e0, uint32_t e1, uint32_t w) { return (e0 * (64 - w) + e1 * w + 32) >> 6; };
  int64_t wrong = 0, below_max_pairs = 0;
  for (uint32_t e0 = 0; e0 <= 0xffffu; ++e0) {
    for (const uint32_t e1 : seconds) {
      const uint32_t a = e0 | (e1 << 16), b = e1 | (e0 << 16);  // both ways round, a pair's two channels
      const uint32_t base_a = astc_detail::lns_base(a), slope_a = astc_detail::lns_slope(a);
      const uint32_t base_b = astc_detail::lns_base(b), slope_b = astc_detail::lns_slope(b);
      const bool below_max = e0 <= 0xf7ffu && e1 <= 0xf7ffu;
      for (uint32_t w = 0; w <= 64; ++w) {
        const uint32_t expect = astc_detail::lns_to_half(interpolated(e0, e1, w)) |
                                (static_cast<uint32_t>(astc_detail::lns_to_half(interpolated(e1, e0, w))) << 16);
        // As the kernel writes it, slope w + base + slope2 w2: a one-plane channel (slope2 0, w2
        // whatever the second plane holds), and the plane-2 channel (slope 0, its weight in w2).
        const uint32_t other = 64 - w, no_slope = 0;
        const uint32_t x = slope_a * w + base_a + no_slope * other, y = no_slope * other + base_b + slope_b * w;
        const uint32_t v = astc_detail::lns_pack2(x, y);
        wrong += (below_max ? astc_detail::lns_half2_below_max(v) : astc_detail::lns_half2(v)) != expect;
      }
      below_max_pairs += below_max;
    }
  }
  CHECK(wrong == 0);
  CHECK(below_max_pairs > 0xf000 * 4);  // (both conversions are exercised)
}
