// GPU suite: CUDA encoders == CPU encoders, CUDA decoder == texture units == CPU decoder,
// and the CUDA decoder against the stored texture-unit vectors. Exits 77 (CTest: skipped)
// when no CUDA device is usable.
// Catch2 2.x: this file provides main().
#define CATCH_CONFIG_RUNNER
#include <cstdio>

#include "bcfeat/kernels/codec.h"
#include "bcfeat/kernels/cuda_device.h"
#include "catch.h"
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
}  // namespace

TEST_CASE("CUDA encoders produce the CPU's blocks for every format and quality") {
  for (const auto& format : format_table()) {
    // 256×192 = 3072 blocks per image: enough near-ties that any difference in floating-point
    // rounding between host and device shows up as a different block.
    for (auto [width, height] : {std::pair<int, int>{256, 192}, {13, 7}}) {
      for (bool smooth : {true, false}) {
        const auto pixels = make_test_image(width, height, smooth, format.domain, 11, format.id == FormatId::kBC1);
        for (Quality quality : {Quality::kFast, Quality::kNormal, Quality::kHigh}) {
          INFO("format " << format.name << " " << width << "x" << height << " quality " << quality_name(quality));
          CHECK(encode_image_cuda(format, pixels.data(), width, height, 4, quality) ==
                encode_image_cpu(format, pixels.data(), width, height, 4, quality));
        }
      }
    }
  }
}

TEST_CASE("CUDA, texture-unit and CPU decoders agree bit for bit") {
  for (const auto& format : format_table()) {
    const TextureVectors vectors = load_texture_vectors(format.name);
    REQUIRE(vectors.loaded);
    INFO("format " << format.name);
    const int width = 64 * 4, height = static_cast<int>(vectors.count / 64) * 4;
    const auto cpu = decode_image_cpu(format, vectors.blocks.data(), width, height);
    CHECK(bits_equal(decode_image_cuda(format, vectors.blocks.data(), width, height), cpu));
    if (format.texture_decodable) CHECK(bits_equal(decode_image_texture(format, vectors.blocks.data(), width, height), cpu));
    // Odd sizes take the edge path of the kernels.
    const auto odd_cpu = decode_image_cpu(format, vectors.blocks.data(), 250, 70);
    CHECK(bits_equal(decode_image_cuda(format, vectors.blocks.data(), 250, 70), odd_cpu));
  }
}

int main(int argc, char** argv) {
  if (cuda_device_count() == 0) {
    std::printf("no CUDA device: GPU suite skipped\n");
    return 77;
  }
  std::printf("device: %s\n", cuda_device_name(0).c_str());
  return Catch::Session().run(argc, argv);
}
