// Block codecs, looped over the format registry: decoders against the GPU texture units,
// round trips, constant blocks, quality levels, odd sizes, DDS files, libsquish.
#include <squish.h>

#include <cmath>
#include <cstring>
#include <random>

#include "bcfeat/kernels/block_codec.h"
#include "bcfeat/kernels/codec.h"
#include "bcfeat/kernels/dds.h"
#include "bcfeat/kernels/float_formats.h"
#include "catch.h"
#include "kernels/test_images.h"
#include "kernels/texture_vectors.h"

using namespace bcfeat;

namespace {

double image_mse(const FormatInfo& format, const std::vector<float>& pixels, const std::vector<float>& decoded, int width,
                 int height) {
  double sum = 0.0;
  for (int i = 0; i < width * height; ++i) {
    for (int c = 0; c < format.channels; ++c) {
      const double d = pixels[i * 4 + c] - decoded[i * format.channels + c];
      sum += d * d;
    }
  }
  return sum / (static_cast<double>(width) * height * format.channels);
}

}  // namespace

TEST_CASE("every decoder returns what the texture units return, bit for bit") {
  for (const auto& format : format_table()) {
    if (!format.texture_decodable) continue;
    INFO("format " << format.name);
    const TextureVectors vectors = load_texture_vectors(format.name);
    REQUIRE(vectors.loaded);
    REQUIRE(vectors.bytes_per_block == static_cast<uint32_t>(format.bytes_per_block));
    int mismatches = 0;
    for (uint32_t b = 0; b < vectors.count; ++b) {
      float texels[16][4];
      decode_block(format.id, &vectors.blocks[b * vectors.bytes_per_block], texels);
      for (int i = 0; i < 16; ++i) {
        for (int c = 0; c < format.channels; ++c) {
          const float expected = vectors.texels[(b * 16 + i) * 4 + c];
          if (float_bits(texels[i][c]) != float_bits(expected)) {
            if (++mismatches <= 5) {
              UNSCOPED_INFO("block " << b << " texel " << i << " channel " << c << ": got " << texels[i][c]
                                     << " want " << expected);
            }
          }
        }
      }
    }
    CHECK(mismatches == 0);
  }
}

TEST_CASE("the whole-image CPU decoder matches the block decoder on the vectors") {
  for (const auto& format : format_table()) {
    const TextureVectors vectors = load_texture_vectors(format.name);
    REQUIRE(vectors.loaded);
    INFO("format " << format.name);
    // 1152 blocks as a 64 × 18 block image, as the vector program laid them out.
    const int width = 64 * 4, height = static_cast<int>(vectors.count / 64) * 4;
    const std::vector<float> pixels = decode_image_cpu(format, vectors.blocks.data(), width, height, 2);
    bool same = true;
    for (uint32_t b = 0; b < vectors.count && same; ++b) {
      const int bx = b % 64, by = b / 64;
      for (int i = 0; i < 16; ++i) {
        const int x = bx * 4 + i % 4, y = by * 4 + i / 4;
        for (int c = 0; c < format.channels; ++c) {
          same = same && float_bits(pixels[(static_cast<size_t>(y) * width + x) * format.channels + c]) ==
                             float_bits(vectors.texels[(b * 16 + i) * 4 + c]);
        }
      }
    }
    CHECK(same);
  }
}

TEST_CASE("round trips stay within each format's error bound, and quality levels order") {
  const int width = 64, height = 48;
  for (const auto& format : format_table()) {
    for (bool smooth : {true, false}) {
      const std::vector<float> pixels = make_test_image(width, height, smooth, format.domain, 3, format.id == FormatId::kBC1);
      double previous = 1e30;
      for (Quality quality : {Quality::kFast, Quality::kNormal, Quality::kHigh}) {
        INFO("format " << format.name << " smooth " << smooth << " quality " << quality_name(quality));
        const auto blocks = encode_image_cpu(format, pixels.data(), width, height, 4, quality, 2);
        REQUIRE(static_cast<int64_t>(blocks.size()) == compressed_size(format, width, height));
        const auto decoded = decode_image_cpu(format, blocks.data(), width, height, 2);
        const double mse = image_mse(format, pixels, decoded, width, height);
        const double range = test_domain_range(format.domain);
        const double psnr = 10.0 * std::log10(range * range / mse);
        // Bounds: smooth content compresses well in every format; uniform noise is the
        // worst case (4-level palettes: ~17 dB for RGB formats, 8 levels: ~24 dB for BC4/5;
        // BC7's 16-level mode and partitions: ~22 dB). BC6H's test range is HDR (2^-5..2^5,
        // or ±16) and its palettes are spaced evenly in the logarithm-like half bits; SF16
        // interpolates sign and magnitude, so a palette across zero crowds its entries near
        // 0 (uniform noise in ±16: 13.0 / 13.3 / 14.2 dB measured for fast / normal / high).
        const bool single = format.channels <= 2;
        double floor_db = smooth ? (single ? 38.0 : 30.0) : (single ? 20.0 : 13.0);
        if (value_domain_is_float(format.domain) && !smooth) floor_db = 12.0;
        CHECK(psnr > floor_db);
        CHECK(mse <= previous * 1.0001);  // each level at least as good as the one before
        previous = mse;
      }
    }
  }
}

// A constant colour each format can represent exactly.
void representable_colour(const FormatInfo& format, float colour[4]) {
  if (value_domain_is_float(format.domain)) {  // half floats: any finite half is reachable
    const float values[4] = {0.75f, format.domain == ValueDomain::kHalf ? -2.5f : 2.5f, 1000.0f, 1.0f};
    for (int c = 0; c < 4; ++c) colour[c] = values[c];
    return;
  }
  // 8-bit code 77 (colour 565: red 9 → expand5 = 74, green 19 → 77, blue 30 → 247).
  const float rgba[4] = {74.0f / 255.0f, 77.0f / 255.0f, 247.0f / 255.0f, 1.0f};
  // Snorm endpoints decode to (258·|a| + (|a| >> 6)) / 32767, not a / 127.
  const float single = format.domain == ValueDomain::kSnorm ? -(258.0f * 77 + 1) / 32767.0f : 77.0f / 255.0f;
  for (int c = 0; c < 4; ++c) colour[c] = format.channels >= 3 ? rgba[c] : single;
}

TEST_CASE("constant blocks of representable values are exact") {
  for (const auto& format : format_table()) {
    INFO("format " << format.name);
    float colour[4];
    representable_colour(format, colour);
    float texels[16][4];
    for (int i = 0; i < 16; ++i) {
      for (int c = 0; c < 4; ++c) texels[i][c] = colour[c];
    }
    for (Quality quality : {Quality::kFast, Quality::kNormal, Quality::kHigh}) {
      uint8_t block[16];
      encode_block(format.id, texels, quality, block);
      float decoded[16][4];
      decode_block(format.id, block, decoded);
      for (int i = 0; i < 16; ++i) {
        for (int c = 0; c < format.channels; ++c) REQUIRE(decoded[i][c] == texels[i][c]);
      }
    }
  }
}

TEST_CASE("BC6H blocks of one value are exact at every level, for any finite half") {
  // Fast and normal try mode 13 (16-bit endpoints) only on such blocks; it represents every
  // finite half (UF16: every non-negative one), and no other mode does.
  std::mt19937 random(6);
  for (bool is_signed : {false, true}) {
    const FormatId format = is_signed ? FormatId::kBC6HSf16 : FormatId::kBC6HUf16;
    for (int trial = 0; trial < 40; ++trial) {
      float texels[16][4];
      for (int c = 0; c < 4; ++c) {
        uint16_t bits = static_cast<uint16_t>(random() % 0x7C00u);  // finite magnitudes
        if (is_signed && (random() & 1u)) bits |= 0x8000u;
        const float value = c < 3 ? half_bits_to_float(bits) : 1.0f;
        for (int i = 0; i < 16; ++i) texels[i][c] = value;
      }
      for (Quality quality : {Quality::kFast, Quality::kNormal, Quality::kHigh}) {
        INFO("signed " << is_signed << " trial " << trial << " quality " << quality_name(quality));
        uint8_t block[16];
        encode_block(format, texels, quality, block);
        float decoded[16][4];
        decode_block(format, block, decoded);
        for (int c = 0; c < 3; ++c) REQUIRE(decoded[5][c] == texels[5][c]);
      }
    }
  }
}

TEST_CASE("BC1 keeps transparent texels transparent and opaque ones opaque") {
  float texels[16][4];
  for (int i = 0; i < 16; ++i) {
    texels[i][0] = i / 15.0f;
    texels[i][1] = 0.5f;
    texels[i][2] = 1.0f - i / 15.0f;
    texels[i][3] = (i % 5 == 0) ? 0.0f : 1.0f;
  }
  for (Quality quality : {Quality::kFast, Quality::kNormal, Quality::kHigh}) {
    uint8_t block[8];
    encode_block(FormatId::kBC1, texels, quality, block);
    float decoded[16][4];
    decode_block(FormatId::kBC1, block, decoded);
    for (int i = 0; i < 16; ++i) CHECK(decoded[i][3] == texels[i][3]);
  }
}

TEST_CASE("odd image sizes are padded by edge replication and cropped on decode") {
  for (const auto& format : format_table()) {
    INFO("format " << format.name);
    for (auto [width, height] : {std::pair<int, int>{1, 1}, {5, 7}, {13, 4}, {4, 9}}) {
      const std::vector<float> pixels = make_test_image(width, height, true, format.domain, 5, format.id == FormatId::kBC1);
      const auto blocks = encode_image_cpu(format, pixels.data(), width, height, 4, Quality::kNormal, 1);
      CHECK(static_cast<int>(blocks.size()) == ((width + 3) / 4) * ((height + 3) / 4) * format.bytes_per_block);
      const auto decoded = decode_image_cpu(format, blocks.data(), width, height, 1);
      REQUIRE(decoded.size() == static_cast<size_t>(width) * height * format.channels);
      const double range = test_domain_range(format.domain);
      CHECK(image_mse(format, pixels, decoded, width, height) / (range * range) < 1e-3);
    }
  }
}

TEST_CASE("CPU encoding does not depend on the thread count") {
  const std::vector<float> pixels = make_test_image(40, 36, false, ValueDomain::kUnorm, 9);
  for (const auto& format : format_table()) {
    INFO("format " << format.name);
    CHECK(encode_image_cpu(format, pixels.data(), 40, 36, 4, Quality::kHigh, 1) ==
          encode_image_cpu(format, pixels.data(), 40, 36, 4, Quality::kHigh, 3));
  }
}

TEST_CASE("DDS files round-trip and bad files give clear errors") {
  for (const auto& format : format_table()) {
    BlockImage image{&format, 9, 6, std::vector<uint8_t>(compressed_size(format, 9, 6))};
    for (size_t i = 0; i < image.blocks.size(); ++i) image.blocks[i] = static_cast<uint8_t>(i * 7);
    const std::vector<uint8_t> file = make_dds(image);
    CHECK(file.size() == 148 + image.blocks.size());
    const BlockImage back = parse_dds(file, "x.dds");
    CHECK(back.format == &format);
    CHECK(back.width == 9);
    CHECK(back.height == 6);
    CHECK(back.blocks == image.blocks);
    std::vector<uint8_t> truncated(file.begin(), file.end() - 1);
    CHECK_THROWS_WITH(parse_dds(truncated, "t.dds"), message_contains("truncated data"));
    std::vector<uint8_t> bad_magic = file;
    bad_magic[0] = 'X';
    CHECK_THROWS_WITH(parse_dds(bad_magic, "m.dds"), message_contains("not a DDS file"));
    std::vector<uint8_t> bad_dxgi = file;
    bad_dxgi[128] = 99;  // BC7_UNORM_SRGB: not one of ours
    CHECK_THROWS_WITH(parse_dds(bad_dxgi, "d.dds"), message_contains("unsupported DXGI format 99"));
    std::vector<uint8_t> bad_header = file;
    bad_header[4] = 100;
    CHECK_THROWS_AS(parse_dds(bad_header, "h.dds"), FormatError);
  }
  CHECK_THROWS_AS(parse_dds({'D', 'D'}, "short.dds"), FormatError);
}

TEST_CASE("libsquish decodes our BC1-BC3 blocks to within the hardware's known deviation") {
  // libsquish decodes with the textbook formulas; the texture units weight the 6-bit green
  // third by 80/256 instead of 1/3, which alone moves a value by up to (1/3 − 80/256)·255 ≈ 5.3.
  const struct {
    const char* name;
    int flags;
  } cases[] = {{"bc1", squish::kDxt1}, {"bc2", squish::kDxt3}, {"bc3", squish::kDxt5}};
  for (const auto& test : cases) {
    INFO("format " << test.name);
    const TextureVectors vectors = load_texture_vectors(test.name);
    REQUIRE(vectors.loaded);
    const FormatInfo& format = *find_format(test.name);
    int worst = 0;
    for (uint32_t b = 0; b < vectors.count; ++b) {
      const uint8_t* block = &vectors.blocks[b * vectors.bytes_per_block];
      squish::u8 rgba[64];
      squish::Decompress(rgba, block, test.flags);
      float ours[16][4];
      decode_block(format.id, block, ours);
      for (int i = 0; i < 16; ++i) {
        for (int c = 0; c < 4; ++c) {
          worst = std::max(worst, std::abs(static_cast<int>(std::lround(ours[i][c] * 255.0f)) - rgba[i * 4 + c]));
        }
      }
    }
    CHECK(worst <= 6);
    CHECK(worst >= 1);  // the hardware really does differ from the textbook
  }
}
