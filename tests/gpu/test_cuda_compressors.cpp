// GPU suite for the framework: the texture, scalar (fp16, bf16, int, fp8) and codebook compressors
// with device = cuda (and texture) write the same stream as on the CPU and decode it to the same
// tensor, from host buffers and from CUDA tensors (whose streams stay on the GPU), and feature
// cache records served to the GPU decode to the CPU's values. Exits 77
// (CTest: skipped) when no CUDA device is usable.
#define CATCH_CONFIG_RUNNER
#include <cstdio>

#include "bcfeat/datasets/features.h"
#include "bcfeat/framework/compressor.h"
#include "bcfeat/framework/config.h"
#include "bcfeat/framework/error.h"
#include "bcfeat/framework/models/feature_tap.h"
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

namespace {

// Options from `key=value` settings, as a config would give them.
CompressionOptions options_from(const std::string& method, const std::string& device,
                                const std::vector<std::string>& settings) {
  CompressionOptions options;
  ParamSet params;
  options.declare(params);
  ConfigTree tree;
  apply_override(tree, "compression.method=" + method);
  apply_override(tree, "compression.device=" + device);
  for (const auto& setting : settings) apply_override(tree, "compression." + setting);
  params.apply(tree);
  return options;
}

}  // namespace

TEST_CASE("device tensors: the GPU compresses to the CPU's bytes, keeps them on the GPU, and decodes the CPU's values") {
  FeatureOptions features;
  features.batch = 3;
  features.tokens_hw = {9, 14};
  features.dim = 21;
  features.outlier_channels = 2;
  const torch::Tensor x = synthetic_features(features, 13);
  const torch::Tensor x_gpu = x.to(torch::kCUDA);
  struct Case {
    std::string method;
    std::vector<std::string> devices;
    std::vector<std::string> settings;
  };
  std::vector<Case> cases;
  for (const auto& format : format_table()) {
    std::vector<std::string> devices{"cuda"};
    if (format.texture_decodable()) devices.push_back("texture");
    const std::string f = std::string("format=") + format.name;
    const bool signed_half = format.domain == ValueDomain::kHalf;  // (the features have negative values)
    cases.push_back({"texture", devices, {f, "tokens_hw=[9, 14]", "quality=fast"}});
    cases.push_back({"texture", devices, {f, "layout=channel", "quality=fast", "value_map=per_texture"}});
    cases.push_back({"texture", devices, {f, "layout=token_channel", "quality=fast", "outlier_channels=3"}});
    if (signed_half) {
      cases.push_back({"texture", devices, {f, "tokens_hw=[9, 14]", "quality=fast", "value_scale=scale"}});
      cases.push_back({"texture", devices, {f, "tokens_hw=[9, 14]", "quality=fast", "value_scale=direct"}});
    }
  }
  for (const char* f : {"bc4_snorm", "bc7", "astc_6x6"}) {
    const std::vector<std::string> devices = std::string(f) == "astc_6x6" ? std::vector<std::string>{"cuda"}
                                                                           : std::vector<std::string>{"cuda", "texture"};
    cases.push_back({"texture", devices,
                     {std::string("format=") + f, "tokens_hw=[4, 31]", "keep_tokens=[0, 5]", "rotation=hadamard",
                      "channel_order=correlation", "clip_percentile=1.5"}});
    cases.push_back({"texture", devices, {std::string("format=") + f, "layout=channel", "channel_order=variance"}});
  }
  for (const char* bits : {"2", "4", "8"}) {
    for (const char* axis : {"token", "channel"}) {
      cases.push_back({"int", {"cuda"}, {std::string("bits=") + bits, std::string("axis=") + axis, "group_size=16"}});
    }
  }
  cases.push_back({"fp8", {"cuda"}, {"fp8_format=e4m3", "group_size=8"}});
  cases.push_back({"fp16", {"cuda"}, {}});
  cases.push_back({"bf16", {"cuda"}, {}});
  cases.push_back({"codebook", {"cuda"}, {"codebook=pq", "codebook_size=16", "index_format=bc4_unorm", "tokens_hw=[9, 14]"}});
  cases.push_back({"lossless", {"cpu"}, {}});
  for (const auto& c : cases) {
    const auto cpu = make_compressor(options_from(c.method, "cpu", c.settings));
    const Compressed a = cpu->compress(x);
    const torch::Tensor reference = cpu->decompress(a);
    for (const auto& device : c.devices) {
      INFO(c.method << " on " << device << ": " << join(c.settings, " "));
      const auto gpu = make_compressor(options_from(c.method, device, c.settings));
      const Compressed b = gpu->compress(x_gpu);
      REQUIRE(b.on_device());
      CHECK(b.side_bytes == a.side_bytes);
      CHECK(b.to_host().bytes == a.bytes);
      const torch::Tensor y = gpu->decompress(b);
      CHECK(y.is_cuda());
      CHECK(torch::equal(y.cpu(), reference));
      CHECK(torch::equal(gpu->decompress(b, torch::kFloat16).cpu(), reference.to(torch::kFloat16)));
      CHECK(torch::equal(gpu->decompress(b, torch::kBFloat16).cpu(), reference.to(torch::kBFloat16)));
      // The host stream on the same compressor: the same values on the CPU.
      CHECK(torch::equal(gpu->decompress(a), reference));
    }
  }
}

TEST_CASE("device tensors: whole-block ASTC textures, encoded on the host as one image, are the CPU's bytes") {
  FeatureOptions features;
  features.batch = 2;
  features.tokens_hw = {8, 12};
  features.dim = 9;
  features.outlier_channels = 0;
  const torch::Tensor x = synthetic_features(features, 17);
  for (const char* format : {"astc_4x4", "astc_6x6"}) {
    INFO(format);
    const std::vector<std::string> settings{std::string("format=") + format, "tokens_hw=[8, 12]", "quality=fast"};
    const Compressed a = make_compressor(options_from("texture", "cpu", settings))->compress(x);
    const auto gpu = make_compressor(options_from("texture", "cuda", settings));
    const Compressed b = gpu->compress(x.to(torch::kCUDA));
    CHECK(b.to_host().bytes == a.bytes);
    CHECK(torch::equal(gpu->decompress(b).cpu(), make_compressor(options_from("texture", "cpu", settings))->decompress(a)));
  }
}

TEST_CASE("feature cache records: served to the GPU from pinned memory, decoded to the CPU's values") {
  FeatureOptions features;
  features.batch = 5;
  features.tokens_hw = {6, 8};
  features.dim = 24;
  features.outlier_channels = 1;
  const torch::Tensor x = synthetic_features(features, 23);
  for (const char* device : {"cpu", "cuda", "texture"}) {
    for (const char* format : {"bc1", "bc4_snorm", "bc7"}) {
      INFO(device << " " << format);
      const std::vector<std::string> settings{std::string("format=") + format, "tokens_hw=[6, 8]"};
      const auto cpu = make_compressor(options_from("texture", "cpu", settings));
      std::vector<Compressed> records;  // one stream per image, on the host, as a cache holds them
      std::vector<torch::Tensor> expected;
      for (int64_t i = 0; i < x.size(0); ++i) {
        records.push_back(cpu->compress(x.slice(0, i, i + 1).contiguous()));
        expected.push_back(cpu->decompress(records.back()));
      }
      FeatureTap tap(make_compressor(options_from("texture", device, settings)), {1});
      const torch::Tensor served = tap.decode(records, x, torch::Device(torch::kCUDA));
      CHECK(served.is_cuda());
      CHECK(torch::equal(served.cpu(), torch::cat(expected)));
      const nlohmann::json metrics = tap.metrics(x.size(0));
      CHECK(metrics.at("transfer_ms").get<double>() >= 0);
      int64_t bytes = 0;
      for (const auto& r : records) bytes += r.size();
      CHECK(metrics.at("feature_bytes_per_image").get<double>() * static_cast<double>(x.size(0)) == Approx(bytes));
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
