// rate_distortion: one compressor from the registry (scalar quantizers, codebooks,
// block-compressed textures) on a feature tensor; a sweep over compressors and their
// options traces rate–distortion curves.
//
// Reads features (file or synthetic). With split.calibration_images = k > 0 the first k
// images [0, k) form the calibration split, on which the compressor fits what it shares
// across a dataset (codebooks, per_dataset texture maps; with compression.state the state
// file gives that state and the calibration images are only held out); the remaining images are the
// evaluation split, the only ones compressed and measured. The rate counts every stream
// byte plus the shared state once (amortised over the evaluation split), so
// bits_per_value = 8·(stream + shared bytes) / values evaluated.
//
// quantize_baseline is the same experiment without a calibration split (kept for configs
// written before rate_distortion existed).
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

class RateDistortion : public Experiment {
 public:
  explicit RateDistortion(bool with_split) : with_split_(with_split) {}

  void declare(ParamSet& params) override {
    features_.declare(params);
    compression_.declare(params);
    if (with_split_) {
      params.add("split.calibration_images", &calibration_images_,
                 "images [0, k) of the features fit shared side information (codebooks, per_dataset maps); "
                 "the rest are evaluated (0 = no calibration: each tensor carries its own)")
          .range(0, 1 << 30);
    }
    params.add("save_reconstruction", &save_reconstruction_,
               "write the decompressed features to <run>/reconstructed.npy (float32)");
  }

  void validate() const override {
    check_feature_source(features_);
    if (features_.source == "synthetic" && calibration_images_ >= features_.batch) {
      throw_input_error("split.calibration_images = {} leaves no evaluation images (features.batch = {})",
                        calibration_images_, features_.batch);
    }
    make_compressor(compression_);
  }

  nlohmann::json run(uint64_t seed, RunContext& context) override {
    using Clock = std::chrono::steady_clock;
    const torch::Tensor all = load_features(features_, seed);
    context.log << fmt::format("features [{}] from {}\n", fmt::join(all.sizes(), ", "),
                               features_.source == "file" ? features_.path : "the synthetic generator");
    if (calibration_images_ >= all.size(0)) {
      throw_input_error("split.calibration_images = {} leaves no evaluation images (the features have B = {})",
                        calibration_images_, all.size(0));
    }
    const auto compressor = make_compressor(compression_);
    const auto fit_start = Clock::now();
    // A state file's shared state is used as it is; the calibration images stay held out.
    if (calibration_images_ > 0 && compression_.state.empty()) {
      compressor->fit(all.slice(0, 0, calibration_images_).contiguous());
    }
    const double fit_ms = std::chrono::duration<double, std::milli>(Clock::now() - fit_start).count();
    const torch::Tensor features = all.slice(0, calibration_images_, all.size(0)).contiguous();
    const auto t0 = Clock::now();
    const Compressed compressed = compressor->compress(features);
    const auto t1 = Clock::now();
    const torch::Tensor reconstructed = compressor->decompress(compressed);
    const auto t2 = Clock::now();

    const int64_t shared = compressor->shared_bytes();
    nlohmann::json metrics = rate_metrics(compressed.size() + shared,
                                          compressed.side_bytes + shared, features.numel());
    metrics["shared_bytes"] = shared;
    metrics["calibration_images"] = calibration_images_;
    metrics["fit_ms"] = fit_ms;
    metrics.update(distortion_metrics(features, reconstructed));
    metrics["shape"] = features.sizes().vec();
    metrics["encode_ms"] = std::chrono::duration<double, std::milli>(t1 - t0).count();
    metrics["decode_ms"] = std::chrono::duration<double, std::milli>(t2 - t1).count();
    metrics["timing_device"] = compressor->timing_device();
    context.log << fmt::format("{} bytes ({} side), {:.4f} bits/value, psnr {:.2f} dB\n", compressed.size(),
                               compressed.side_bytes, metrics["bits_per_value"].get<double>(),
                               metrics["psnr_db"].is_number() ? metrics["psnr_db"].get<double>() : 0.0);
    if (save_reconstruction_) {
      write_npy((std::filesystem::path(context.run_dir) / "reconstructed.npy").string(), reconstructed);
    }
    return metrics;
  }

 private:
  bool with_split_;
  FeatureOptions features_;
  CompressionOptions compression_;
  int calibration_images_ = 0;
  bool save_reconstruction_ = false;
};

}  // namespace

ExperimentEntry rate_distortion_entry() {
  return {"rate_distortion",
          "any compressor on features with a calibration/evaluation split: exact rate (shared state amortised) and distortion",
          [] { return std::make_unique<RateDistortion>(true); }};
}

ExperimentEntry quantize_baseline_entry() {
  return {"quantize_baseline", "rate_distortion without a calibration split (each tensor carries its own side information)",
          [] { return std::make_unique<RateDistortion>(false); }};
}

}  // namespace bcfeat
