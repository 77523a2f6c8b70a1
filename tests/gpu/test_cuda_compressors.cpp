// GPU suite for the framework: the texture compressor with device = cuda writes the same
// stream as on the CPU and decodes it to the same tensor, for every block format. Exits 77
// (CTest: skipped) when no CUDA device is usable.
#define CATCH_CONFIG_RUNNER
#include <cstdio>

#include "bcfeat/datasets/features.h"
#include "bcfeat/framework/compressor.h"
#include "bcfeat/kernels/cuda_device.h"
#include "bcfeat/kernels/format.h"
#include "catch.h"

#if __has_include(<catch2/catch_session.hpp>)
#include <catch2/catch_session.hpp>
#endif

using namespace bcfeat;

TEST_CASE("texture compressor: CUDA stream and reconstruction equal the CPU's for every format") {
  FeatureOptions features;
  features.batch = 2;
  features.tokens_hw = {9, 14};
  features.dim = 13;
  features.outlier_channels = 1;
  const torch::Tensor x = synthetic_features(features, 5);
  for (const auto& format : format_table()) {
    for (const char* layout : {"spatial", "channel"}) {
      for (const char* quality : {"fast", "normal"}) {
        INFO("format " << format.name << " layout " << layout << " quality " << quality);
        CompressionOptions options;
        options.method = "texture";
        options.format = format.name;
        options.layout = layout;
        options.quality = quality;
        options.tokens_hw = {9, 14};
        const auto cpu = make_compressor(options);
        options.device = "cuda";
        const auto cuda = make_compressor(options);
        const Compressed a = cpu->compress(x), b = cuda->compress(x);
        CHECK(a.bytes == b.bytes);
        CHECK(a.side_bytes == b.side_bytes);
        CHECK(torch::equal(cpu->decompress(a), cuda->decompress(b)));
      }
    }
  }
}

int main(int argc, char** argv) {
  if (cuda_device_count() == 0) {
    std::printf("no CUDA device: GPU compressor suite skipped\n");
    return 77;
  }
  std::printf("device: %s\n", cuda_device_name(0).c_str());
  return Catch::Session().run(argc, argv);
}
