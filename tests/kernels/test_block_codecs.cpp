// The BC block code, looped over the BC rows of the format table: decoders against the GPU
// texture units, constant blocks, BC6H and BC1 special cases, libsquish. What every format
// must do on every backend is in test_codec_backends.cpp.
#include <squish.h>

#include <cmath>
#include <cstring>
#include <random>

#include "bcfeat/kernels/codec.h"
#include "bcfeat/kernels/float_formats.h"
#include "bc_codec.h"
#include "blocks/block_codec.h"
#include "catch.h"
#include "kernels/test_images.h"
#include "kernels/texture_vectors.h"

using namespace bcfeat;

namespace {

// The rows whose blocks the BC block code (blocks/block_codec.h) handles: those the BC CPU
// driver encodes.
std::vector<const FormatInfo*> bc_formats() {
  std::vector<const FormatInfo*> out;
  for (const auto& format : format_table()) {
    if (format.encode[static_cast<int>(Backend::kCpu)] == &bc_encode_cpu) out.push_back(&format);
  }
  return out;
}

// Texels of the block decoder that differ in any bit from the recorded texture-unit texels
// (the first five are reported).
int texture_mismatches(const FormatInfo& format, const TextureVectors& vectors) {
  int mismatches = 0;
  for (uint32_t b = 0; b < vectors.count; ++b) {
    float texels[16][4];
    decode_block(format.id, &vectors.blocks[b * vectors.bytes_per_block], texels);
    for (int i = 0; i < 16; ++i) {
      for (int c = 0; c < format.channels; ++c) {
        const float expected = vectors.texels[(b * 16 + i) * 4 + c];
        if (float_bits(texels[i][c]) != float_bits(expected) && ++mismatches <= 5) {
          UNSCOPED_INFO("block " << b << " texel " << i << " channel " << c << ": got " << texels[i][c] << " want "
                                 << expected);
        }
      }
    }
  }
  return mismatches;
}

}  // namespace

TEST_CASE("every decoder returns what the texture units return, bit for bit") {
  for (const auto& format : format_table()) {
    if (!format.texture_decodable()) continue;
    INFO("format " << format.name);
    const TextureVectors vectors = load_texture_vectors(format.name);
    REQUIRE(vectors.loaded);
    REQUIRE(vectors.bytes_per_block == static_cast<uint32_t>(format.bytes_per_block));
    CHECK(texture_mismatches(format, vectors) == 0);
  }
}

TEST_CASE("BC4/BC5 snorm blocks with a -128 endpoint decode as the texture units do") {
  // Every (e0, e1) pair with a -128 endpoint, every index (tests/gpu/make_snorm_vectors.py,
  // recorded on an H100). The texture units clamp -128 to -127 before choosing the mode, so
  // (-127, -128) is a 6-value block whose index 7 is +1.
  for (const char* name : {"bc4_snorm", "bc5_snorm"}) {
    INFO("format " << name);
    const FormatInfo& format = *find_format(name);
    const TextureVectors vectors = load_texture_vectors(std::string(name) + "_minus128");
    REQUIRE(vectors.loaded);
    REQUIRE(vectors.count == 512);
    CHECK(texture_mismatches(format, vectors) == 0);
  }
  // The block of the report: red endpoints 0x81 (-127) and 0x80 (-128).
  const uint8_t block[16] = {0x81, 0x80, 0x35, 0xee, 0xa4, 0x97, 0x9b, 0x6b,
                             0xc1, 0xc2, 0x23, 0x29, 0xd9, 0xd8, 0x9c, 0xf6};
  float texels[16][4];
  decode_block(find_format("bc5_snorm")->id, block, texels);
  CHECK(texels[3][0] == 1.0f);   // (row 0, column 3): index 7
  CHECK(texels[8][0] == 1.0f);   // (2, 0)
  CHECK(texels[13][0] == 1.0f);  // (3, 1)
  CHECK(texels[0][0] == -1.0f);
}

TEST_CASE("a BC6H signed value that interpolates to -1 decodes to +0, as the texture units return it") {
  // The block of the report (an H200's texture units): texel (row 3, column 0), blue, is +0.0.
  const uint8_t block[16] = {0xf0, 0x8b, 0x3f, 0x0e, 0x48, 0x28, 0x27, 0x8a,
                             0xf7, 0x4b, 0xf3, 0x6c, 0xe5, 0x8b, 0xca, 0x68};
  float texels[16][4];
  decode_block(find_format("bc6h_sf16")->id, block, texels);
  CHECK(texels[12][2] == 0.0f);
  CHECK_FALSE(std::signbit(texels[12][2]));
  // No texel of the block is a negative zero, and the whole-image decoder agrees.
  const std::vector<float> image = decode_image(*find_format("bc6h_sf16"), Backend::kCpu, block, 4, 4);
  for (int i = 0; i < 16; ++i) {
    for (int c = 0; c < 3; ++c) {
      CHECK_FALSE((texels[i][c] == 0.0f && std::signbit(texels[i][c])));
      CHECK(std::memcmp(&image[3 * i + c], &texels[i][c], 4) == 0);
    }
  }
}

TEST_CASE("sRGB BC1/BC2/BC3/BC7 decode to the linear values the texture units return, bit for bit") {
  // Random 64x64 images encoded as sRGB files and decoded by an H100's texture units
  // (tests/gpu/make_srgb_vectors.py); blocks laid out 16 per row.
  for (const char* name : {"bc1", "bc2", "bc3", "bc7"}) {
    INFO("format " << name);
    const FormatInfo& format = *find_format(name);
    const TextureVectors vectors = load_texture_vectors(std::string(name) + "_srgb");
    REQUIRE(vectors.loaded);
    REQUIRE(vectors.count == 256);
    CodecSettings settings;
    settings.srgb = true;
    const std::vector<float> linear = decode_image(format, Backend::kCpu, vectors.blocks.data(), 64, 64, settings);
    int mismatches = 0;
    for (uint32_t b = 0; b < vectors.count; ++b) {
      for (int t = 0; t < 16; ++t) {
        const int x = int(b % 16) * 4 + t % 4, y = int(b / 16) * 4 + t / 4;
        mismatches += std::memcmp(&linear[(size_t(y) * 64 + x) * 4], &vectors.texels[(size_t(b) * 16 + t) * 4], 16) != 0;
      }
    }
    CHECK(mismatches == 0);
  }
}

TEST_CASE("the whole-image CPU decoder matches the block decoder on the vectors") {
  for (const auto& format : format_table()) {
    if (!format.texture_decodable()) continue;
    const TextureVectors vectors = load_texture_vectors(format.name);
    REQUIRE(vectors.loaded);
    INFO("format " << format.name);
    // 1152 blocks as a 64 × 18 block image, as the vector program laid them out.
    const int width = 64 * 4, height = static_cast<int>(vectors.count / 64) * 4;
    const std::vector<float> pixels = decode_image(format, Backend::kCpu, vectors.blocks.data(), width, height, {Quality::kNormal, Profile::kLdr, 2});
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
  for (const FormatInfo* row : bc_formats()) {
    const FormatInfo& format = *row;
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
        INFO("signed " << is_signed << " trial " << trial << " quality " << static_cast<int>(quality));
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

TEST_CASE("DDS files round-trip and bad files give clear errors") {
  for (const FormatInfo* row : bc_formats()) {
    const FormatInfo& format = *row;
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
    bad_dxgi[128] = 28;  // R8G8B8A8_UNORM: not block-compressed
    CHECK_THROWS_WITH(parse_dds(bad_dxgi, "d.dds"), message_contains("unsupported DXGI format 28"));
    std::vector<uint8_t> bad_header = file;
    bad_header[4] = 100;
    CHECK_THROWS_AS(parse_dds(bad_header, "h.dds"), FormatError);
  }
  CHECK_THROWS_AS(parse_dds({'D', 'D'}, "short.dds"), FormatError);
}

TEST_CASE("DDS errors print the file's bytes escaped") {
  std::vector<uint8_t> fourcc = make_dds({find_format("bc1"), 4, 4, std::vector<uint8_t>(8)});
  fourcc.resize(128 + 8);
  const uint8_t code[4] = {'D', 'X', '1', 0x8c};
  std::memcpy(&fourcc[84], code, 4);
  CHECK_THROWS_WITH(parse_dds(fourcc, "f.dds"), message_contains("unknown DDS FourCC 'DX1\\x8c'"));
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
