// classify_eval: what compressing a pretrained image encoder's feature maps costs on real
// images (EfficientNet-Lite0 with its ImageNet weights).
//
// The feature maps after each stage named in `taps` (stage1 .. stage7, head; [B, h*w, C]
// token grids) go through the compressor and back, per image by default, and the network
// continues from the reconstruction. Two tasks (eval.task):
//
// imagenet       the ImageNet-1k head on real photographs (eval.images, eval.count of them
//                spread evenly over the sorted files): top1_agreement (% of images whose
//                top-1 class is the uncompressed one's) with a 95% bootstrap interval,
//                top5_agreement (% whose uncompressed top-1 is in the compressed top-5),
//                top5_overlap (mean % shared between the two top-5 sets), kl_mean / kl_p99
//                (KL(p_uncompressed || p_compressed) in nats over images).
// fashion_mnist  a linear probe: multinomial logistic regression on the uncompressed pooled
//                head features (the 1280 values the ImageNet classifier reads) of probe.train
//                training images, fitted by L-BFGS; scored on probe.test test images without
//                and with compression: probe_accuracy(_uncompressed), probe_accuracy_drop with
//                its 95% paired-bootstrap interval over images. The 28x28 grey images enter
//                the encoder upsampled to probe.image_size.
// Both: the rate and distortion of every tapped value (FeatureTap: every side byte, the
// compressor's shared state counted once), encode/decode time.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>

#include <fmt/format.h>

#include "bcfeat/datasets/fashion_mnist.h"
#include "bcfeat/datasets/features.h"
#include "bcfeat/datasets/photos.h"
#include "bcfeat/experiments/experiment.h"
#include "bcfeat/framework/device.h"
#include "bcfeat/framework/error.h"
#include "bcfeat/framework/metrics.h"
#include "bcfeat/framework/models/efficientnet.h"
#include "bcfeat/framework/models/feature_tap.h"
#include "bcfeat/framework/tensor_io.h"

namespace bcfeat {

namespace {

namespace fs = std::filesystem;

// A trained linear probe: standardised features -> 10 logits.
struct Probe {
  torch::Tensor mean, scale, weight, bias;
  double train_accuracy = 0;
  torch::Tensor logits(const torch::Tensor& pooled) const {
    return torch::addmm(bias, (pooled - mean) / scale, weight);
  }
};

// Multinomial logistic regression with an L2 penalty on the weights, full batch, L-BFGS with
// a strong Wolfe line search, in double precision (the same probe on every thread count).
Probe fit_probe(const torch::Tensor& pooled, const torch::Tensor& labels, double l2, int iterations) {
  Probe probe;
  const torch::Tensor x64 = pooled.to(torch::kDouble);
  probe.mean = x64.mean(0);
  probe.scale = x64.std(0).clamp_min(1e-6);
  const torch::Tensor x = (x64 - probe.mean) / probe.scale;
  torch::Tensor weight = torch::zeros({x.size(1), 10}, torch::kDouble).requires_grad_(true);
  torch::Tensor bias = torch::zeros({10}, torch::kDouble).requires_grad_(true);
  torch::optim::LBFGS optimizer({weight, bias}, torch::optim::LBFGSOptions(1.0)
                                                    .max_iter(iterations)
                                                    .history_size(20)
                                                    .tolerance_grad(1e-9)
                                                    .tolerance_change(1e-12)
                                                    .line_search_fn("strong_wolfe"));
  auto closure = [&] {
    optimizer.zero_grad();
    const torch::Tensor loss = torch::nn::functional::cross_entropy(torch::addmm(bias, x, weight), labels) +
                               l2 * weight.pow(2).sum();
    loss.backward();
    return loss;
  };
  optimizer.step(closure);
  probe.weight = weight.detach();
  probe.bias = bias.detach();
  probe.train_accuracy = 100.0 * probe.logits(x64).argmax(1).eq(labels).to(torch::kDouble).mean().item<double>();
  return probe;
}

class ClassifyEval : public Experiment {
 public:
  void declare(ParamSet& params) override {
    compression_.declare(params);
    params.add("model.weights", &weights_, "EfficientNet-Lite0 weights (tools/setup.sh converts the pretrained ones)");
    params.add("eval.task", &task_,
               "imagenet (agreement of the ImageNet head on real photographs) or fashion_mnist (a linear probe on pooled "
               "head features)")
        .one_of({"imagenet", "fashion_mnist"});
    params.add("taps", &taps_, "feature maps compressed: stage1 .. stage7, head (the network continues from them)");
    params.add("eval.images", &images_, "imagenet: a directory of 224x224 .png photographs");
    params.add("eval.count", &count_, "imagenet: photographs evaluated, spread evenly over the sorted files (0: all)")
        .range(0, 1 << 30);
    params.add("eval.batch", &batch_, "images per forward pass").range(1, 4096);
    params.add("eval.bootstrap", &bootstrap_, "bootstrap resamples for the 95% intervals").range(100, 1000000);
    params.add("eval.device", &device_, "cpu, cuda or auto").one_of({"auto", "cpu", "cuda"});
    params.add("eval.compress_per", &compress_per_,
               "image (one stream per image, as a feature store keeps them) or batch (a batch's maps are one stream)")
        .one_of({"image", "batch"});
    params.add("eval.calibration_images", &calibration_,
               "images whose uncompressed tapped maps fit the compressor's shared state (codebooks, per_dataset maps; "
               "counted once): imagenet: photographs spread over those not evaluated; fashion_mnist: training images "
               "[0, k) (0 = none: each stream carries its own)")
        .range(0, 60000);
    params.add("eval.save_predictions", &save_predictions_,
               "write <run>/predictions.safetensors: logits without and with compression (and labels)");
    params.add("probe.data", &probe_data_, "fashion_mnist: the directory of its four IDX files (tools/setup.sh)");
    params.add("probe.train", &probe_train_, "fashion_mnist: training images [0, n) the probe is fitted on")
        .range(10, 60000);
    params.add("probe.test", &probe_test_, "fashion_mnist: test images [0, n) scored").range(2, 10000);
    params.add("probe.image_size", &probe_size_, "fashion_mnist: side the 28x28 images are upsampled to")
        .range(32, 512);
    params.add("probe.l2", &probe_l2_, "fashion_mnist: L2 penalty on the probe's weights").range(0, 1e6);
    params.add("probe.iterations", &probe_iterations_, "fashion_mnist: L-BFGS iterations").range(1, 100000);
  }

  void validate() const override {
    if (taps_.empty()) throw_input_error("taps: name at least one feature map (stage1 .. stage7, head)");
    for (const auto& tap : taps_) EfficientNetLiteImpl::tap_channels(tap);
    if (!fs::is_regular_file(weights_)) {
      throw_input_error("model.weights '{}' does not exist (tools/setup.sh converts the pretrained weights)", weights_);
    }
    if (calibration_ > 0 && !compression_.state.empty()) {
      throw_input_error("compression.state gives the compressor's shared state; eval.calibration_images = {} would "
                        "refit it (set it to 0)",
                        calibration_);
    }
    if (calibration_ > 0 && taps_.size() != 1) {
      throw_input_error("eval.calibration_images fits one compressor state for one feature map; taps names {}",
                        taps_.size());
    }
    if (task_ == "imagenet") {
      const auto available = static_cast<int64_t>(photo_files(images_, 0, -1).size());
      if (count_ > available) throw_input_error("eval.count = {} but '{}' holds {} photographs", count_, images_, available);
      const int64_t evaluated = count_ > 0 ? count_ : available;
      if (calibration_ > available - evaluated) {
        throw_input_error("eval.calibration_images = {} but only {} of the {} photographs are not evaluated", calibration_,
                          available - evaluated, available);
      }
    } else {
      if (calibration_ > probe_train_) {
        throw_input_error("eval.calibration_images = {} exceeds probe.train = {}", calibration_, probe_train_);
      }
      load_fashion_mnist(probe_data_, "train", 0, 1);  // the files are there and well formed
      load_fashion_mnist(probe_data_, "test", 0, 1);
    }
    make_compressor(compression_);
  }

  nlohmann::json run(uint64_t seed, RunContext& context) override {
    const torch::Device device = pick_device(device_);
    EfficientNetLite model = load_efficientnet_lite(weights_, device);
    torch::NoGradGuard no_grad;
    const std::shared_ptr<Compressor> compressor = make_compressor(compression_);
    nlohmann::json metrics;
    std::vector<std::pair<std::string, torch::Tensor>> saved;
    int64_t images = 0;
    if (task_ == "imagenet") {
      const std::vector<std::string> all = photo_files(images_, 0, -1);
      std::vector<std::string> files, others;
      const std::vector<int64_t> chosen =
          spread_indices(static_cast<int64_t>(all.size()), count_ > 0 ? count_ : static_cast<int64_t>(all.size()));
      for (size_t i = 0, next = 0; i < all.size(); ++i) {
        const bool evaluated = next < chosen.size() && chosen[next] == static_cast<int64_t>(i);
        (evaluated ? files : others).push_back(all[i]);
        next += evaluated ? 1 : 0;
      }
      images = static_cast<int64_t>(files.size());
      if (calibration_ > 0) {
        std::vector<std::string> fit;
        for (int64_t i : spread_indices(static_cast<int64_t>(others.size()), calibration_)) fit.push_back(others[static_cast<size_t>(i)]);
        calibrate(*compressor, model, device, context.log, static_cast<int64_t>(fit.size()), [&](int64_t start, int64_t end) {
          return load_photos({fit.begin() + start, fit.begin() + end});
        });
      }
      FeatureTap tap(compressor, {}, compress_per_ == "image");
      context.log << fmt::format("{} photographs of '{}', taps {}\n", images, images_, fmt::join(taps_, ", "));
      torch::Tensor reference, compressed;
      std::tie(reference, compressed) = both_passes(model, tap, images, device, [&](int64_t start, int64_t end) {
        return load_photos({files.begin() + start, files.begin() + end});
      });
      metrics = agreement_metrics(reference, compressed, seed);
      metrics.update(tap.metrics(images));
      saved = {{"logits_uncompressed", reference}, {"logits", compressed}};
    } else {
      const Probe& probe = trained_probe(model, device, context.log);
      if (calibration_ > 0) {
        const FashionMnist fit = load_fashion_mnist(probe_data_, "train", 0, calibration_);
        calibrate(*compressor, model, device, context.log, calibration_, [&](int64_t start, int64_t end) {
          return fashion_mnist_pixels(fit.images.slice(0, start, end), probe_size_);
        });
      }
      FeatureTap tap(compressor, {}, compress_per_ == "image");
      const FashionMnist test = load_fashion_mnist(probe_data_, "test", 0, probe_test_);
      images = probe_test_;
      torch::Tensor reference, compressed;
      std::tie(reference, compressed) = both_passes(model, tap, images, device, [&](int64_t start, int64_t end) {
        return fashion_mnist_pixels(test.images.slice(0, start, end), probe_size_);
      }, /*pooled=*/true);
      const torch::Tensor right_reference = probe.logits(reference.to(torch::kDouble)).argmax(1).eq(test.labels).to(torch::kDouble);
      const torch::Tensor right = probe.logits(compressed.to(torch::kDouble)).argmax(1).eq(test.labels).to(torch::kDouble);
      metrics["probe_accuracy"] = 100.0 * right.mean().item<double>();
      metrics["probe_accuracy_uncompressed"] = 100.0 * right_reference.mean().item<double>();
      metrics["probe_accuracy_drop"] =
          metrics["probe_accuracy_uncompressed"].get<double>() - metrics["probe_accuracy"].get<double>();
      const auto ci = paired_bootstrap_ci(right_reference, right, bootstrap_, seed ^ 0xFA5410Bull);
      metrics["probe_accuracy_drop_ci95"] = {ci.first, ci.second};
      metrics["probe_train_accuracy"] = probe.train_accuracy;
      metrics["probe_train_images"] = probe_train_;
      metrics.update(tap.metrics(images));
      saved = {{"pooled_uncompressed", reference},
               {"pooled", compressed},
               {"logits_uncompressed", probe.logits(reference.to(torch::kDouble)).to(torch::kFloat32)},
               {"logits", probe.logits(compressed.to(torch::kDouble)).to(torch::kFloat32)},
               {"labels", test.labels.to(torch::kFloat32)}};
    }
    metrics["images"] = images;
    metrics["calibration_images"] = calibration_;
    if (save_predictions_) write_safetensors((fs::path(context.run_dir) / "predictions.safetensors").string(), saved, "float32");
    const std::string headline = task_ == "imagenet" ? "top1_agreement" : "probe_accuracy";
    context.log << fmt::format("{} {:.2f}%, {:.3f} bits/value\n", headline, metrics[headline].get<double>(),
                               metrics["bits_per_value"].get<double>());
    return metrics;
  }

 private:
  using Pixels = std::function<torch::Tensor(int64_t start, int64_t end)>;

  // The network's outputs on every image without and with the compressing tap: logits, or
  // (pooled) the mean head tokens the classifier reads. float32 on the CPU.
  // The uncompressed outputs are the same for every run of a sweep on these images: computed
  // once per process.
  std::pair<torch::Tensor, torch::Tensor> both_passes(EfficientNetLite& model, FeatureTap& tap, int64_t count,
                                                      torch::Device device, const Pixels& pixels,
                                                      bool pooled = false) const {
    static std::mutex mutex;
    static std::map<std::string, torch::Tensor> memo;
    const std::string key = fmt::format("{}\n{}\n{}\n{} {} {} {} {}", weights_, task_, pooled ? probe_data_ : images_,
                                        count, pooled ? probe_size_ : 0, batch_, device.str(), pooled);
    std::unique_lock<std::mutex> lock(mutex);
    const auto known = memo.find(key);
    const bool have_reference = known != memo.end();
    lock.unlock();
    std::vector<torch::Tensor> reference, compressed;
    for (int64_t start = 0; start < count; start += batch_) {
      const int64_t end = std::min<int64_t>(count, start + batch_);
      const torch::Tensor x = efficientnet_normalize(pixels(start, end)).to(device);
      for (const bool compress : {false, true}) {
        if (!compress && have_reference) continue;
        torch::Tensor head;
        const torch::Tensor logits = model->forward(x, [&](const std::string& name, const torch::Tensor& tokens, int, int) {
          torch::Tensor out = tokens;
          if (compress && std::find(taps_.begin(), taps_.end(), name) != taps_.end()) out = tap.apply(tokens);
          if (name == "head") head = out.mean(1);
          return out;
        });
        (compress ? compressed : reference).push_back((pooled ? head : logits).to(torch::kCPU, torch::kFloat32));
      }
    }
    lock.lock();
    if (!have_reference) memo[key] = torch::cat(reference);
    return {memo.at(key), torch::cat(compressed)};
  }

  // Fits the compressor's shared state on the uncompressed tapped map of `count` images.
  void calibrate(Compressor& compressor, EfficientNetLite& model, torch::Device device, std::ostream& log, int64_t count,
                 const Pixels& pixels) const {
    std::vector<torch::Tensor> maps;
    for (int64_t start = 0; start < count; start += batch_) {
      const torch::Tensor x = efficientnet_normalize(pixels(start, std::min<int64_t>(count, start + batch_))).to(device);
      model->forward(x, [&](const std::string& name, const torch::Tensor& tokens, int, int) {
        if (name == taps_[0]) maps.push_back(tokens.to(torch::kCPU, torch::kFloat32));
        return tokens;
      });
    }
    compressor.fit(torch::cat(maps));
    log << fmt::format("compressor fitted on the {} maps of {} images ({} shared bytes)\n", taps_[0], count,
                       compressor.shared_bytes());
  }

  nlohmann::json agreement_metrics(const torch::Tensor& reference, const torch::Tensor& compressed, uint64_t seed) const {
    nlohmann::json metrics;
    const torch::Tensor top1_reference = reference.argmax(1);
    const torch::Tensor top5_reference = std::get<1>(reference.topk(5, 1));
    const torch::Tensor top5 = std::get<1>(compressed.topk(5, 1));
    const torch::Tensor agree = compressed.argmax(1).eq(top1_reference).to(torch::kDouble);
    metrics["top1_agreement"] = 100.0 * agree.mean().item<double>();
    const auto ci = paired_bootstrap_ci(agree, torch::ones_like(agree), bootstrap_, seed ^ 0x1A6E7Eull);
    metrics["top1_agreement_ci95"] = {100.0 + ci.first, 100.0 + ci.second};
    metrics["top5_agreement"] = 100.0 * top5.eq(top1_reference.unsqueeze(1)).any(1).to(torch::kDouble).mean().item<double>();
    const torch::Tensor shared = top5.unsqueeze(2).eq(top5_reference.unsqueeze(1)).any(2).sum(1).to(torch::kDouble);
    metrics["top5_overlap"] = 100.0 * (shared / 5.0).mean().item<double>();
    const torch::Tensor log_p = torch::log_softmax(reference.to(torch::kDouble), 1);
    const torch::Tensor log_q = torch::log_softmax(compressed.to(torch::kDouble), 1);
    const torch::Tensor kl = (log_p.exp() * (log_p - log_q)).sum(1).clamp_min(0.0);
    metrics["kl_mean"] = kl.mean().item<double>();
    metrics["kl_p99"] = quantile(std::vector<double>(kl.data_ptr<double>(), kl.data_ptr<double>() + kl.numel()), 0.99);
    const torch::Tensor classes = top1_reference.contiguous();
    metrics["uncompressed_classes"] =
        std::set<int64_t>(classes.data_ptr<int64_t>(), classes.data_ptr<int64_t>() + classes.numel()).size();
    return metrics;
  }

  // The probe on the uncompressed pooled features of the training images; fitted once per
  // process for the same weights, data and options (a sweep's runs share it).
  const Probe& trained_probe(EfficientNetLite& model, torch::Device device, std::ostream& log) const {
    static std::mutex mutex;
    static std::map<std::string, Probe> memo;
    const std::string key = fmt::format("{}\n{}\n{} {} {} {}", weights_, probe_data_, probe_train_, probe_size_,
                                        probe_l2_, probe_iterations_);
    std::lock_guard<std::mutex> lock(mutex);
    if (const auto it = memo.find(key); it != memo.end()) return it->second;
    const auto start = std::chrono::steady_clock::now();
    const FashionMnist train = load_fashion_mnist(probe_data_, "train", 0, probe_train_);
    std::vector<torch::Tensor> pooled;
    for (int64_t first = 0; first < probe_train_; first += batch_) {
      const int64_t end = std::min<int64_t>(probe_train_, first + batch_);
      const torch::Tensor x = efficientnet_normalize(fashion_mnist_pixels(train.images.slice(0, first, end), probe_size_)).to(device);
      model->forward(x, [&](const std::string& name, const torch::Tensor& tokens, int, int) {
        if (name == "head") pooled.push_back(tokens.mean(1).to(torch::kCPU, torch::kFloat32));
        return tokens;
      });
    }
    Probe probe = fit_probe(torch::cat(pooled), train.labels, probe_l2_, probe_iterations_);
    log << fmt::format("linear probe on {} Fashion-MNIST training images: train accuracy {:.2f}% ({:.1f} s)\n",
                       probe_train_, probe.train_accuracy,
                       std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    return memo[key] = std::move(probe);
  }

  CompressionOptions compression_;
  std::string weights_ = "build/real/efficientnet_lite0.safetensors", task_ = "imagenet", images_ = "build/real/photos";
  std::string device_ = "auto", compress_per_ = "image", probe_data_ = "build/real/fashion-mnist";
  std::vector<std::string> taps_ = {"head"};
  int count_ = 0, calibration_ = 0, batch_ = 32, bootstrap_ = 1000, probe_train_ = 2000, probe_test_ = 1000, probe_size_ = 224;
  int probe_iterations_ = 200;
  double probe_l2_ = 1e-3;
  bool save_predictions_ = false;
};

}  // namespace

ExperimentEntry classify_eval_entry() {
  return {"classify_eval",
          "a pretrained EfficientNet-Lite0 with compressed feature maps: ImageNet top-1/top-5 agreement and KL on real "
          "photographs, or a Fashion-MNIST linear probe's accuracy (bootstrap CIs)",
          [] { return std::make_unique<ClassifyEval>(); }};
}

}  // namespace bcfeat
