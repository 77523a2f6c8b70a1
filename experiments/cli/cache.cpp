// `bcfeat cache build|info`: compressed feature caches (datasets/feature_cache.h).
//
//   bcfeat cache build CONFIG [key.path=value ...] [--output FILE]
//       The config of a vqa_eval or clip_eval run (one point, one tap): its model's image
//       encoder runs over the split, the tapped tokens of each image are compressed by the
//       config's compressor (fitted first when eval.calibration_scenes > 0) and stored. FILE
//       defaults to the config's features.cache. A killed build resumes where it stopped.
//   bcfeat cache info FILE
//       The description, the sizes, and every record's CRC checked.
#include <iostream>

#include <fmt/format.h>

#include "bcfeat/datasets/feature_cache.h"
#include "bcfeat/experiments/experiment.h"
#include "bcfeat/framework/config.h"
#include "bcfeat/framework/error.h"
#include "bcfeat/framework/sweep.h"
#include "cli.h"

namespace bcfeat {

namespace {

int cache_build(Args& args) {
  const std::string config_path = args.positional("CONFIG");
  std::vector<std::string> overrides;
  while (args.has_positional()) overrides.push_back(args.positional("override"));
  const std::string output = args.option("--output", "");
  args.finish();
  ConfigTree tree = load_config_file(config_path);
  for (const auto& assignment : overrides) apply_override(tree, assignment);
  const std::vector<SweepPoint> points = take_sweep(tree);
  if (points.size() != 1) {
    throw_input_error("cache build: '{}' sweeps {} runs; a cache holds one compressor's features (fix the swept keys "
                      "with key=value overrides)",
                      config_path, points.size());
  }
  tree.merge(points[0].overrides);
  const auto resolved = resolve_experiment(tree, /*validate=*/false);
  if (!resolved->experiment->build_feature_cache(output, std::cout)) {
    throw_input_error("cache build: experiment '{}' has no image features to cache (vqa_eval and clip_eval do)",
                      resolved->common.experiment);
  }
  return 0;
}

int cache_info(Args& args) {
  const std::string path = args.positional("FILE");
  args.finish();
  const FeatureCache cache(path);
  int64_t stream_bytes = 0;
  for (int64_t i = 0; i < cache.records(); ++i) stream_bytes += static_cast<int64_t>(cache.record(i).bytes.size());
  const auto& shape = cache.description().at("shape");
  const double values = static_cast<double>(cache.records()) * shape[1].get<double>() * shape[2].get<double>();
  fmt::print("{}\n", path);
  fmt::print("  records        {} (every CRC-32 checked)\n", cache.records());
  fmt::print("  file bytes     {}\n", cache.file_bytes());
  fmt::print("  stream bytes   {} ({:.1f} per image, {:.4f} bits per value)\n", stream_bytes,
             cache.records() > 0 ? static_cast<double>(stream_bytes) / static_cast<double>(cache.records()) : 0.0,
             values > 0 ? 8.0 * static_cast<double>(stream_bytes) / values : 0.0);
  fmt::print("  shared bytes   {}\n", cache.shared_state().size());
  fmt::print("  fp16 bytes     {:.0f} (the same features in fp16; {:.2f}x the file)\n", 2.0 * values,
             cache.file_bytes() > 0 ? 2.0 * values / static_cast<double>(cache.file_bytes()) : 0.0);
  fmt::print("  description    {}\n", cache.description().dump(2));
  return 0;
}

}  // namespace

int command_cache(Args& args) {
  const std::string what = args.positional("build|info");
  if (what == "build") return cache_build(args);
  if (what == "info") return cache_info(args);
  throw_input_error("bcfeat cache: unknown action '{}'{}; valid: build, info", what, did_you_mean(what, {"build", "info"}));
}

}  // namespace bcfeat
