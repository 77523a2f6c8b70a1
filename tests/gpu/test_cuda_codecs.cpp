// GPU suite: CUDA encoders == CPU encoders, CUDA decoder == texture units == CPU decoder,
// the CUDA decoder against the stored texture-unit vectors, and the CUDA ASTC decoder ==
// bcfeat's CPU ASTC decoder == libastcenc. Exits 77 (CTest: skipped)
// when no CUDA device is usable.
// Catch2 2.x: this file provides main().
#define CATCH_CONFIG_RUNNER
#include <algorithm>
#include <cstdio>

#include <sstream>
#include <stdexcept>

#include <random>

#include "astc_codec.h"
#include "bcfeat/kernels/codec.h"
#include "bcfeat/kernels/cuda_device.h"
#include "blocks/block_codec.h"
#include "catch.h"
#include "kernels/astc_test_blocks.h"
#include "kernels/test_images.h"
#include "kernels/texture_vectors.h"

#if __has_include(<catch2/catch_session.hpp>)
#include <catch2/catch_session.hpp>
#endif

using namespace bcfeat;

namespace {
bool bits_equal(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (float_bits(a[i]) != float_bits(b[i])) return false;
  }
  return true;
}
// For a failing comparison: the first block that differs, both encodings in hex and the
// squared error each decodes to against the source texels (which one found the better block).
std::string first_difference(const FormatInfo& format, const std::vector<float>& pixels, int width, int height,
                             const std::vector<uint8_t>& cuda, const std::vector<uint8_t>& cpu) {
  const BlockGrid grid = block_grid(format, width, height);
  for (int64_t b = 0; b < grid.blocks(); ++b) {
    const uint8_t* x = &cuda[b * format.bytes_per_block];
    const uint8_t* y = &cpu[b * format.bytes_per_block];
    if (std::equal(x, x + format.bytes_per_block, y)) continue;
    const int bx = static_cast<int>(b % grid.blocks_x), by = static_cast<int>(b / grid.blocks_x);
    float source[16][4], decoded_cuda[16][4], decoded_cpu[16][4];
    for (int i = 0; i < 16; ++i) {
      const int px = std::min(bx * 4 + i % 4, width - 1), py = std::min(by * 4 + i / 4, height - 1);
      for (int c = 0; c < 4; ++c) source[i][c] = pixels[(static_cast<size_t>(py) * width + px) * 4 + c];
    }
    decode_block(format.id, x, decoded_cuda);
    decode_block(format.id, y, decoded_cpu);
    double error_cuda = 0, error_cpu = 0;
    for (int i = 0; i < 16; ++i) {
      for (int c = 0; c < format.channels; ++c) {
        error_cuda += (decoded_cuda[i][c] - source[i][c]) * (decoded_cuda[i][c] - source[i][c]);
        error_cpu += (decoded_cpu[i][c] - source[i][c]) * (decoded_cpu[i][c] - source[i][c]);
      }
    }
    std::ostringstream out;
    out << "block " << b << " of " << grid.blocks() << ": cuda";
    for (int k = 0; k < format.bytes_per_block; ++k) out << ' ' << static_cast<int>(x[k]);
    out << " (error " << error_cuda << "), cpu";
    for (int k = 0; k < format.bytes_per_block; ++k) out << ' ' << static_cast<int>(y[k]);
    out << " (error " << error_cpu << "); source texel 0: " << source[0][0] << ' ' << source[0][1] << ' ' << source[0][2];
    return out.str();
  }
  return "sizes differ";
}

}  // namespace

TEST_CASE("CUDA encoders produce the CPU's blocks for every format and quality") {
  for (const auto& format : format_table()) {
    if (!format.has_encoder(Backend::kCuda)) continue;
    // 256×192 = 3072 blocks per image: enough near-ties that any difference in floating-point
    // rounding between host and device shows up as a different block.
    for (auto [width, height] : {std::pair<int, int>{256, 192}, {13, 7}}) {
      for (bool smooth : {true, false}) {
        const auto pixels = make_test_image(width, height, smooth, format.domain, 11, format.value_channels < 4);
        for (Quality quality : {Quality::kFast, Quality::kNormal, Quality::kHigh}) {
          INFO("format " << format.name << " " << width << "x" << height << " quality " << quality_name(format, quality));
          const CodecSettings settings{quality, Profile::kLdr, 0};
          const auto cuda = encode_image(format, Backend::kCuda, pixels.data(), width, height, 4, settings);
          const auto cpu = encode_image(format, Backend::kCpu, pixels.data(), width, height, 4, settings);
          if (cuda != cpu) UNSCOPED_INFO(first_difference(format, pixels, width, height, cuda, cpu));
          CHECK(cuda == cpu);
        }
      }
    }
  }
}

TEST_CASE("CUDA, texture-unit and CPU decoders agree bit for bit") {
  for (const auto& format : format_table()) {
    if (!format.texture_decodable()) continue;  // the vectors were recorded from the texture units
    const TextureVectors vectors = load_texture_vectors(format.name);
    REQUIRE(vectors.loaded);
    INFO("format " << format.name);
    const int width = 64 * 4, height = static_cast<int>(vectors.count / 64) * 4;
    const uint8_t* blocks = vectors.blocks.data();
    const auto cpu = decode_image(format, Backend::kCpu, blocks, width, height);
    CHECK(bits_equal(decode_image(format, Backend::kCuda, blocks, width, height), cpu));
    CHECK(bits_equal(decode_image(format, Backend::kTexture, blocks, width, height), cpu));
    // Odd sizes take the edge path of the kernels.
    const auto odd_cpu = decode_image(format, Backend::kCpu, blocks, 250, 70);
    CHECK(bits_equal(decode_image(format, Backend::kCuda, blocks, 250, 70), odd_cpu));
  }
}

TEST_CASE("CUDA ASTC decoder equals the CPU decoder and libastcenc, every block size and profile") {
  std::mt19937_64 rng(21);
  // Two images: RGBA, an odd width (one texel column a lane), and RGB with alpha 1, an even
  // width (two columns a lane; HDR blocks of RGB take the fixed-alpha texel loops there).
  // Partial blocks in every format (93 rows; 156 columns are whole 4-, 6- and 12-wide blocks).
  for (const bool rgb : {false, true}) {
    const int width = rgb ? 156 : 157, height = 93;
    std::vector<float> image(static_cast<size_t>(width) * height * 4);
    for (size_t i = 0; i < image.size(); ++i) {
      const size_t p = i / 4;
      image[i] = 0.5f + 0.4f * std::sin(0.07f * (p % width) * (i % 4 + 1) + 0.05f * (p / width)) +
                 0.03f * static_cast<float>(rng() % 1000) / 1000.0f;
      if (rgb && i % 4 == 3) image[i] = 1.0f;
    }
    for (const FormatInfo* format : astc_formats()) {
      const FormatInfo& f = *format;
      for (Profile profile : {Profile::kLdr, Profile::kHdr}) {
        std::vector<float> source = image;
        if (profile == Profile::kHdr) {
          for (size_t i = 0; i < source.size(); ++i) {
            if (!rgb || i % 4 != 3) source[i] = 50.0f * source[i] * source[i];
          }
        }
        const auto encoded = astc_encode(f, profile, source.data(), width, height, 4, Quality::kFast);
        // Random 128-bit words too: mostly error blocks and odd modes.
        const int bx = 64, by = 16;
        std::vector<uint8_t> random(16 * bx * by);
        for (size_t i = 0; i < random.size(); i += 8) {
          const uint64_t r = rng();
          memcpy(&random[i], &r, 8);
        }
        INFO(f.name << " " << profile_name(profile) << " width " << width);
        const auto cuda = astc_decode_half_cuda(f, profile, encoded.data(), width, height);
        CHECK(cuda == astc_decode_half_cpu(f, profile, encoded.data(), width, height));
        CHECK(cuda == astc_decode_half_reference(f, profile, encoded.data(), width, height));
        const int rw = bx * f.block_width, rh = by * f.block_height;
        const auto cuda_random = astc_decode_half_cuda(f, profile, random.data(), rw, rh);
        CHECK(cuda_random == astc_decode_half_reference(f, profile, random.data(), rw, rh));
      }
    }
  }
}

TEST_CASE("CUDA ASTC decoder equals libastcenc on random valid blocks, every block size and profile") {
  // Blocks libastcenc decodes to a colour (and up to a tenth error blocks): every block mode,
  // partition count, endpoint mode and integer-sequence range, which images encoded at one
  // preset do not reach.
  std::mt19937_64 rng(23);
  for (const FormatInfo* format : astc_formats()) {
      const FormatInfo& f = *format;
    for (Profile profile : {Profile::kLdr, Profile::kHdr}) {
      int errors = 0;
      const int bx = 40, by = 25;
      const std::vector<uint8_t> blocks = random_astc_blocks(f, profile, bx * by, rng, errors);
      // Partial blocks too, in an odd and an even image width (the kernel takes two texel
      // columns a lane where the block and image widths are even).
      for (const int trim : {3, 2}) {
        const int width = bx * f.block_width - trim, height = by * f.block_height - 2;
        INFO(f.name << " " << profile_name(profile) << " width " << width << ": " << errors << " error blocks");
        CHECK(astc_decode_half_cuda(f, profile, blocks.data(), width, height) ==
              astc_decode_half_reference(f, profile, blocks.data(), width, height));
      }
    }
  }
}

TEST_CASE("CUDA ASTC decoder refuses images wider than 2^24 texels") {
  // Its texel rows are addressed in 32-bit byte offsets; an .astc file holds at most 2^24 - 1.
  const FormatInfo& f = *astc_formats().front();
  const int width = (1 << 24) + 1;
  const std::vector<uint8_t> blocks(static_cast<size_t>(compressed_size(f, width, 1)), 0);
  CHECK_THROWS_AS(astc_decode_half_cuda(f, Profile::kLdr, blocks.data(), width, 1), std::invalid_argument);
  const std::vector<uint16_t> widest = astc_decode_half_cuda(f, Profile::kLdr, blocks.data(), width - 1, 1);
  CHECK(widest.size() == static_cast<size_t>(width - 1) * 4);
}

int main(int argc, char** argv) {
  if (cuda_device_count() == 0) {
    std::printf("no CUDA device: GPU suite skipped\n");
    return 77;
  }
  std::printf("device: %s\n", cuda_device_name(0).c_str());
  return Catch::Session().run(argc, argv);
}
