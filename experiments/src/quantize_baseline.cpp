// quantize_baseline: one compressor from the registry (scalar quantizers, block-compressed
// textures) on a feature tensor.
//
// Reads features (file or synthetic), compresses them with the configured compressor,
// decompresses, and reports the exact rate (side information included) and distortion.
#include <chrono>
#include <filesystem>

#include "bcfeat/datasets/features.h"
#include "bcfeat/experiments/experiment.h"
#include "bcfeat/framework/compressor.h"
#include "bcfeat/framework/error.h"
#include "bcfeat/framework/metrics.h"
#include "bcfeat/framework/tensor_io.h"

namespace bcfeat {

namespace {

class QuantizeBaseline : public Experiment {
 public:
  void declare(ParamSet& params) override {
    features_.declare(params);
    compression_.declare(params);
    params.add("save_reconstruction", &save_reconstruction_,
               "write the decompressed features to <run>/reconstructed.npy (float32)");
  }

  void validate() const override {
    check_feature_source(features_);
    make_compressor(compression_);
  }

  nlohmann::json run(uint64_t seed, RunContext& context) override {
    using Clock = std::chrono::steady_clock;
    const torch::Tensor features = load_features(features_, seed);
    context.log << fmt::format("features [{}] from {}\n", fmt::join(features.sizes(), ", "),
                               features_.source == "file" ? features_.path : "the synthetic generator");
    const auto compressor = make_compressor(compression_);
    const auto t0 = Clock::now();
    const Compressed compressed = compressor->compress(features);
    const auto t1 = Clock::now();
    const torch::Tensor reconstructed = compressor->decompress(compressed);
    const auto t2 = Clock::now();

    nlohmann::json metrics = rate_metrics(static_cast<int64_t>(compressed.bytes.size()), compressed.side_bytes,
                                          features.numel());
    metrics.update(distortion_metrics(features, reconstructed));
    metrics["shape"] = features.sizes().vec();
    metrics["encode_ms"] = std::chrono::duration<double, std::milli>(t1 - t0).count();
    metrics["decode_ms"] = std::chrono::duration<double, std::milli>(t2 - t1).count();
    metrics["timing_device"] = compression_.method == "texture" ? "cpu (all threads)" : "cpu (1 thread)";
    context.log << fmt::format("{} bytes ({} side), {:.4f} bits/value, psnr {:.2f} dB\n", compressed.bytes.size(),
                               compressed.side_bytes, metrics["bits_per_value"].get<double>(),
                               metrics["psnr_db"].is_number() ? metrics["psnr_db"].get<double>() : 0.0);
    if (save_reconstruction_) {
      write_npy((std::filesystem::path(context.run_dir) / "reconstructed.npy").string(), reconstructed);
    }
    return metrics;
  }

 private:
  FeatureOptions features_;
  CompressionOptions compression_;
  bool save_reconstruction_ = false;
};

}  // namespace

ExperimentEntry quantize_baseline_entry() {
  return {"quantize_baseline", "any compressor (fp16/bf16/int/fp8, BC textures) on a feature tensor: exact rate and distortion",
          [] { return std::make_unique<QuantizeBaseline>(); }};
}

}  // namespace bcfeat
