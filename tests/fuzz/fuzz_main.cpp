// bcfeat_fuzz: the fuzz targets without libFuzzer, for every build.
//
//   bcfeat_fuzz seeds DIR               writes a seed corpus per target under DIR/<target>/, made by
//                                       bcfeat's own writers (files, blocks, streams, caches, configs)
//   bcfeat_fuzz replay TARGET PATH...   runs TARGET once on every file (directories: their files)
//
// The replay is how the committed regression inputs (tests/fuzz/regressions/<target>/) run in
// the normal test suite; the libFuzzer binaries of the sanitizer build (fuzz_<target>) run the
// same functions with coverage-guided mutation.
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <torch/torch.h>


#include "bcfeat/datasets/feature_cache.h"
#include "bcfeat/datasets/features.h"
#include "bcfeat/framework/compressor.h"
#include "bcfeat/framework/config.h"
#include "bcfeat/framework/params.h"
#include "bcfeat/framework/tensor_io.h"
#include "bcfeat/kernels/codec.h"
#include "bcfeat/kernels/format.h"

#define BCFEAT_FUZZ_TARGETS(X) X(block_file) X(block_decode) X(tensor_file) X(config) X(stream) X(feature_cache)
#define BCFEAT_DECLARE(name) extern "C" int fuzz_##name(const uint8_t* data, size_t size);
BCFEAT_FUZZ_TARGETS(BCFEAT_DECLARE)

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

namespace {

using Target = int (*)(const uint8_t*, size_t);
const std::map<std::string, Target>& targets() {
#define BCFEAT_ENTRY(name) {#name, fuzz_##name},
  static const std::map<std::string, Target> table = {BCFEAT_FUZZ_TARGETS(BCFEAT_ENTRY)};
#undef BCFEAT_ENTRY
  return table;
}

Bytes read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), {});
}

void write_bytes(const fs::path& path, const Bytes& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

// A smooth random image (what the encoders see in practice), values in the format's domain.
std::vector<float> test_image(const bcfeat::FormatInfo& format, int width, int height, uint32_t seed) {
  std::vector<float> pixels(size_t(width) * height * format.channels);
  uint32_t state = seed * 2654435761u + 1;
  for (size_t i = 0; i < pixels.size(); ++i) {
    state = state * 1664525u + 1013904223u;
    const float noise = float(state >> 8) / float(1 << 24);
    const size_t texel = i / format.channels;
    const float ramp = float(texel % width + texel / width) / float(width + height);
    float value = 0.7f * ramp + 0.3f * noise;
    if (format.domain == bcfeat::ValueDomain::kSnorm) value = 2 * value - 1;
    if (format.domain == bcfeat::ValueDomain::kHalf) value = 8 * value - 4;
    if (format.domain == bcfeat::ValueDomain::kUnsignedHalf) value = 4 * value;
    pixels[i] = value;
  }
  return pixels;
}

void make_seeds(const fs::path& dir) {
  using namespace bcfeat;
  int count = 0;
  auto seed = [&](const std::string& target, const std::string& name, const Bytes& bytes) {
    write_bytes(dir / target / name, bytes);
    ++count;
  };
  const auto& formats = format_table();
  for (size_t f = 0; f < formats.size(); ++f) {
    const FormatInfo& format = formats[f];
    if (!format.has_encoder(Backend::kCpu) || format.qualities.empty()) continue;
    CodecSettings fastest;  // the format's quickest level
    fastest.quality = format.qualities.front().quality;
    fastest.threads = 1;
    const int width = 2 * format.block_width + 1, height = 2 * format.block_height;  // a partial column
    const std::vector<float> pixels = test_image(format, width, height, uint32_t(f));
    const Bytes blocks = encode_image(format, Backend::kCpu, pixels.data(), width, height, format.channels, fastest);
    seed("block_file", format.name, write_block_file({&format, width, height, blocks}));
    Bytes head = {uint8_t(f), uint8_t(3 - 1 + 8)};  // 3 blocks wide, crop one column
    head.insert(head.end(), blocks.begin(), blocks.begin() + std::min<size_t>(blocks.size(), 6 * format.bytes_per_block));
    seed("block_decode", format.name, head);
  }
  // Tensor files written by bcfeat's writers, in each dtype they take.
  const fs::path scratch = fs::temp_directory_path() / fmt::format("bcfeat_seeds_{}", ::getpid());
  fs::create_directories(scratch);
  const torch::Tensor values = torch::rand({3, 5, 4});
  for (const char* dtype : {"float32", "float16"}) {
    write_npy((scratch / "t.npy").string(), values, dtype);
    Bytes npy = {0};
    const Bytes file = read_bytes(scratch / "t.npy");
    npy.insert(npy.end(), file.begin(), file.end());
    seed("tensor_file", fmt::format("npy_{}", dtype), npy);
  }
  write_safetensors((scratch / "t.safetensors").string(), {{"features", values}, {"other", values[0]}});
  Bytes safetensors = {1};
  const Bytes file = read_bytes(scratch / "t.safetensors");
  safetensors.insert(safetensors.end(), file.begin(), file.end());
  seed("tensor_file", "safetensors", safetensors);
  // Streams of every compressor setting, on features [1, 16, 32].
  FeatureOptions feature_options;
  feature_options.batch = 1;
  feature_options.tokens_hw = {4, 4};
  feature_options.dim = 32;
  const torch::Tensor features = synthetic_features(feature_options, 7);
  int variant = 0;
  Compressed first;
  for (const CompressorEntry& entry : compressor_registry()) {
    for (const auto& settings : entry.test_variants) {
      Compressed stream;
      try {
        stream = make_compressor(compression_options(entry.name, settings))->compress(features);
      } catch (const InputError&) {  // a setting for another shape (compression.tokens_hw)
        ++variant;
        continue;
      }
      if (first.bytes.empty()) first = stream;
      Bytes bytes = {uint8_t(variant), 0, 15, 31};
      bytes.insert(bytes.end(), stream.bytes.begin(), stream.bytes.end());
      seed("stream", fmt::format("{:03d}_{}", variant, entry.name), bytes);
      ++variant;
    }
  }
  // A complete two-record cache.
  {
    const std::string path = (scratch / "cache.bfc").string();
    FeatureCacheWriter writer(path, {{"shape", {1, 16, 32}}, {"compression", {{"method", "fp16"}}}}, {1, 2, 3});
    writer.append(0, first);
    writer.append(1, first);
    writer.finish();
    seed("feature_cache", "two_records", read_bytes(path));
  }
  // The configs bcfeat ships.
  for (const auto& entry : fs::recursive_directory_iterator(fs::path(BCFEAT_SOURCE_DIR) / "configs")) {
    if (entry.path().extension() == ".yaml") seed("config", entry.path().filename().string(), read_bytes(entry.path()));
  }
  fs::remove_all(scratch);
  std::printf("%d seeds in %s\n", count, dir.c_str());
}

int replay(const std::string& name, const std::vector<std::string>& paths) {
  const auto found = targets().find(name);
  if (found == targets().end()) {
    std::fprintf(stderr, "unknown fuzz target '%s'\n", name.c_str());
    return 2;
  }
  int inputs = 0;
  auto run = [&](const fs::path& path) {
    const Bytes bytes = read_bytes(path);
    found->second(bytes.data(), bytes.size());
    ++inputs;
  };
  for (const auto& path : paths) {
    if (fs::is_directory(path)) {
      std::vector<fs::path> files;
      for (const auto& entry : fs::directory_iterator(path)) {
        if (entry.is_regular_file()) files.push_back(entry.path());
      }
      std::sort(files.begin(), files.end());
      for (const auto& file : files) run(file);
    } else if (fs::exists(path)) {
      run(path);
    }
  }
  std::printf("%s: %d inputs, no finding\n", name.c_str(), inputs);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 3 && std::strcmp(argv[1], "seeds") == 0) {
    make_seeds(argv[2]);
    return 0;
  }
  if (argc >= 3 && std::strcmp(argv[1], "replay") == 0) return replay(argv[2], {argv + 3, argv + argc});
  std::fprintf(stderr, "usage: bcfeat_fuzz seeds DIR | bcfeat_fuzz replay TARGET PATH...\n");
  return 2;
}
