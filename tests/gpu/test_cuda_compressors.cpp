// GPU suite for the framework: the texture, scalar (fp16, bf16, int, fp8) and codebook compressors
// with device = cuda write the same stream as on the CPU and decode it to the same tensor. Exits 77
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
        options.set("format", format.name);
        options.set("layout", layout);
        options.set("quality", quality);
        options.set("tokens_hw", std::vector<int>{9, 14});
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

TEST_CASE("scalar and codebook compressors: CUDA stream and reconstruction equal the CPU's") {
  FeatureOptions features;
  features.batch = 3;
  features.tokens_hw = {7, 9};
  features.dim = 45;
  features.outlier_channels = 2;
  const torch::Tensor x = synthetic_features(features, 8);
  std::vector<CompressionOptions> variants;
  for (const char* method : {"fp16", "bf16"}) {
    CompressionOptions options;
    options.method = method;
    variants.push_back(options);
  }
  for (int bits : {2, 3, 4, 5, 8}) {
    for (const char* axis : {"token", "channel"}) {
      for (int group : {0, 7, 32}) {
        CompressionOptions options;
        options.method = "int";
        options.set("bits", bits);
        options.set("axis", axis);
        options.set("group_size", group);
        variants.push_back(options);
      }
    }
  }
  for (const char* format : {"e4m3", "e5m2"}) {
    for (const char* axis : {"token", "channel"}) {
      for (int group : {0, 16}) {
        CompressionOptions options;
        options.method = "fp8";
        options.set("fp8_format", format);
        options.set("axis", axis);
        options.set("group_size", group);
        variants.push_back(options);
      }
    }
  }
  for (const char* kind : {"scalar", "vector", "pq"}) {
    for (const char* index_format : {"none", "bc4_unorm"}) {
      CompressionOptions options;
      options.method = "codebook";
      options.set("codebook", kind);
      options.set("codebook_size", 32);
      options.set("subvector", 4);
      options.set("index_format", index_format);
      options.set("tokens_hw", std::vector<int>{7, 9});
      variants.push_back(options);
    }
  }
  for (CompressionOptions options : variants) {
    INFO("method " << options.method << " codebook " << options.get<std::string>("codebook") << " index_format " << options.get<std::string>("index_format")
                   << " bits " << options.get<int>("bits") << " axis " << options.get<std::string>("axis") << " group "
                   << options.get<int>("group_size") << " fp8 " << options.get<std::string>("fp8_format"));
    const auto cpu = make_compressor(options);
    options.device = "cuda";
    const auto cuda = make_compressor(options);
    if (options.method == "codebook") {  // trained on the CPU in both: the same codebooks
      cpu->fit(x);
      cuda->fit(x);
    }
    const Compressed a = cpu->compress(x), b = cuda->compress(x);
    CHECK(a.bytes == b.bytes);
    CHECK(a.side_bytes == b.side_bytes);
    // Timings name where they were taken.
    CHECK(cuda->timing_device().rfind("cuda: ", 0) == 0);
    CHECK(cpu->timing_device().rfind("cpu (", 0) == 0);
    // Each decoder on the other's stream: the same tensor, bit for bit.
    CHECK(torch::equal(cpu->decompress(a), cuda->decompress(a)));
    CHECK(torch::equal(cpu->decompress(b), cuda->decompress(b)));
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
