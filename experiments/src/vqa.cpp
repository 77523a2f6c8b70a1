// train and vqa_eval: the reference VLM on shapes_vqa (issue 7).
//
// train     trains tinyvlm on the train split (AdamW, linear warm-up then cosine decay),
//           evaluates on the val split after every epoch, and writes <run>/checkpoint.pt
//           (model, optimizer and epoch, atomically) after every epoch; a re-launched run
//           resumes from its checkpoint. Metrics: per-epoch train loss and val accuracy
//           curves, final val accuracy, steps, device.
// vqa_eval  loads a checkpoint and answers the questions of a split twice: uncompressed and
//           with the visual tokens after each `taps` block compressed by the configured
//           compressor and decompressed (the forward pass continues from the
//           reconstruction). Metrics: vqa_accuracy, vqa_accuracy_uncompressed,
//           vqa_accuracy_drop with a 95% paired-bootstrap interval over questions,
//           per-question-type accuracy (accuracy_<type>), and the rate/distortion of the
//           tapped features (bits_per_value over every tapped token value, feature_rel_l2,
//           feature_bytes_per_image next to its fp16 size).
#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>

#include <torch/torch.h>

#include "bcfeat/datasets/features.h"
#include "bcfeat/datasets/shapes_vqa.h"
#include "bcfeat/experiments/experiment.h"
#include "bcfeat/framework/compressor.h"
#include "bcfeat/framework/error.h"
#include "bcfeat/framework/metrics.h"
#include "bcfeat/framework/models/tinyvlm.h"

namespace bcfeat {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

using VqaData = VqaTensors;

// Model options under `model.` (image size and vocabularies come from the data).
struct ModelParams {
  TinyVlmOptions options;
  void declare(ParamSet& params) {
    params.add("model.patch", &options.patch, "tinyvlm: patch side in pixels (image_size must be a multiple)").range(2, 64);
    params.add("model.width", &options.width, "tinyvlm: token width").range(8, 4096);
    params.add("model.depth", &options.depth, "tinyvlm: ViT blocks").range(1, 64);
    params.add("model.heads", &options.heads, "tinyvlm: attention heads (divide width)").range(1, 64);
    params.add("model.mlp_ratio", &options.mlp_ratio, "tinyvlm: MLP width / token width").range(1, 16);
    params.add("model.text_depth", &options.text_depth, "tinyvlm: question encoder blocks").range(0, 16);
  }
  TinyVlmOptions resolved(const ShapesVqaOptions& data) const {
    TinyVlmOptions out = options;
    out.image_size = data.image_size;
    out.vocabulary = static_cast<int>(vqa_words().size());
    out.answers = static_cast<int>(vqa_answers().size());
    return out;
  }
  void check(const ShapesVqaOptions& data) const {
    if (data.image_size % options.patch != 0) {
      throw_input_error("data.image_size {} is not a multiple of model.patch {}", data.image_size, options.patch);
    }
    if (options.width % options.heads != 0) {
      throw_input_error("model.width {} is not a multiple of model.heads {}", options.width, options.heads);
    }
  }
};

torch::Device pick_device(const std::string& name) {
  if (name == "cuda" || (name == "auto" && torch::cuda::is_available())) {
    if (!torch::cuda::is_available()) throw_input_error("device cuda: this LibTorch has no usable CUDA device");
    return torch::Device(torch::kCUDA);
  }
  return torch::Device(torch::kCPU);
}

// Predictions for every question, in batches.
torch::Tensor predict(TinyVlm& model, const VqaData& data, int batch, torch::Device device, const VisualTap& tap = {}) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> parts;
  const int64_t n = data.answers.size(0);
  for (int64_t start = 0; start < n; start += batch) {
    const int64_t end = std::min(n, start + batch);
    const torch::Tensor logits = model->forward(data.images.slice(0, start, end).to(device),
                                                data.questions.slice(0, start, end).to(device), tap);
    parts.push_back(logits.argmax(1).cpu());
  }
  return torch::cat(parts);
}

class Train : public Experiment {
 public:
  void declare(ParamSet& params) override {
    data_.declare(params);
    model_.declare(params);
    params.add("train.scenes", &scenes_, "training scenes (train split, indices [0, n))").range(1, 10000000);
    params.add("train.questions_per_scene", &per_scene_, "questions asked about each scene").range(1, 64);
    params.add("train.epochs", &epochs_, "passes over the training questions").range(1, 100000);
    params.add("train.batch", &batch_, "questions per step").range(1, 65536);
    params.add("train.lr", &lr_, "peak AdamW learning rate").range(1e-7, 1.0);
    params.add("train.weight_decay", &weight_decay_, "AdamW weight decay").range(0.0, 1.0);
    params.add("train.warmup_steps", &warmup_, "linear warm-up steps before the cosine decay").range(0, 1000000);
    params.add("train.device", &device_, "cpu, cuda or auto").one_of({"auto", "cpu", "cuda"});
    params.add("val.scenes", &val_scenes_, "validation scenes (val split)").range(1, 1000000);
  }
  void validate() const override {
    data_.check();
    model_.check(data_);
  }

  nlohmann::json run(uint64_t seed, RunContext& context) override {
    torch::manual_seed(seed);
    const torch::Device device = pick_device(device_);
    const int length = model_.options.question_length;
    const VqaData train = vqa_tensors(data_, VqaSplit::kTrain, 0, scenes_, per_scene_, length);
    const VqaData val = vqa_tensors(data_, VqaSplit::kVal, 0, val_scenes_, per_scene_, length);
    TinyVlm model(model_.resolved(data_));
    model->to(device);
    torch::optim::AdamW optimizer(model->parameters(), torch::optim::AdamWOptions(lr_).weight_decay(weight_decay_));
    const int64_t n = train.answers.size(0);
    const int64_t steps_per_epoch = (n + batch_ - 1) / batch_, total = steps_per_epoch * epochs_;
    nlohmann::json curves = {{"epoch", nlohmann::json::array()}, {"train_loss", nlohmann::json::array()},
                             {"val_accuracy", nlohmann::json::array()}};
    const std::string checkpoint = (fs::path(context.run_dir) / "checkpoint.pt").string();
    int start_epoch = 0;
    if (fs::exists(checkpoint)) {
      torch::serialize::InputArchive archive;
      archive.load_from(checkpoint, device);
      model->load(archive);
      torch::serialize::InputArchive state;
      archive.read("optimizer", state);
      optimizer.load(state);
      torch::Tensor epoch, history;
      archive.read("epoch", epoch);
      start_epoch = static_cast<int>(epoch.item<int64_t>());
      archive.read("curves", history);
      curves = nlohmann::json::parse(std::string(static_cast<const char*>(history.data_ptr()), history.numel()));
      context.log << fmt::format("resumed from {} after epoch {}\n", checkpoint, start_epoch);
    }
    const auto t0 = Clock::now();
    double val_accuracy = curves["val_accuracy"].empty() ? 0.0 : curves["val_accuracy"].back().get<double>();
    for (int epoch = start_epoch; epoch < epochs_; ++epoch) {
      model->train();
      torch::Generator generator = at::detail::createCPUGenerator(seed * 1000003 + epoch);
      const torch::Tensor order = torch::randperm(n, generator, torch::kLong);
      double loss_sum = 0;
      for (int64_t s = 0; s < steps_per_epoch; ++s) {
        const int64_t step = epoch * steps_per_epoch + s;
        const double scale = step < warmup_ ? static_cast<double>(step + 1) / (warmup_ + 1)
                                            : 0.5 * (1.0 + std::cos(M_PI * (step - warmup_) / std::max<int64_t>(1, total - warmup_)));
        for (auto& group : optimizer.param_groups()) static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr_ * scale);
        const torch::Tensor index = order.slice(0, s * batch_, std::min(n, (s + 1) * batch_));
        const torch::Tensor loss = torch::nn::functional::cross_entropy(
            model->forward(train.images.index_select(0, index).to(device), train.questions.index_select(0, index).to(device)),
            train.answers.index_select(0, index).to(device));
        optimizer.zero_grad();
        loss.backward();
        optimizer.step();
        loss_sum += loss.item<double>();
      }
      model->eval();
      val_accuracy = predict(model, val, batch_, device).eq(val.answers).to(torch::kDouble).mean().item<double>();
      curves["epoch"].push_back(epoch + 1);
      curves["train_loss"].push_back(loss_sum / static_cast<double>(steps_per_epoch));
      curves["val_accuracy"].push_back(val_accuracy);
      save_checkpoint(model, optimizer, epoch + 1, curves, checkpoint);
      context.log << fmt::format("epoch {}/{}: train loss {:.4f}, val accuracy {:.4f}\n", epoch + 1, epochs_,
                                 loss_sum / static_cast<double>(steps_per_epoch), val_accuracy)
                  << std::flush;
    }
    nlohmann::json metrics;
    metrics["val_accuracy"] = val_accuracy;
    metrics["epochs"] = curves["epoch"];  // per-epoch curves (flat keys, so reports do not take them for swept values)
    metrics["train_loss_curve"] = curves["train_loss"];
    metrics["val_accuracy_curve"] = curves["val_accuracy"];
    metrics["train_questions"] = n;
    metrics["val_questions"] = val.answers.size(0);
    metrics["steps"] = total;
    metrics["device"] = device.is_cuda() ? "cuda" : "cpu";
    metrics["train_s"] = std::chrono::duration<double>(Clock::now() - t0).count();
    metrics["checkpoint"] = checkpoint;
    return metrics;
  }

 private:
  static void save_checkpoint(TinyVlm& model, torch::optim::AdamW& optimizer, int epoch, const nlohmann::json& curves,
                              const std::string& path) {
    torch::serialize::OutputArchive archive;
    model->save(archive);
    torch::serialize::OutputArchive state;
    optimizer.save(state);
    archive.write("optimizer", state);
    archive.write("epoch", torch::tensor(static_cast<int64_t>(epoch)));
    const std::string text = curves.dump();
    archive.write("curves", torch::from_blob(const_cast<char*>(text.data()), {static_cast<int64_t>(text.size())},
                                             torch::kUInt8).clone());
    const std::string temporary = path + ".tmp";
    archive.save_to(temporary);
    fs::rename(temporary, path);
  }

  ShapesVqaOptions data_;
  ModelParams model_;
  int scenes_ = 2000, per_scene_ = 8, epochs_ = 10, batch_ = 128, val_scenes_ = 300;
  int64_t warmup_ = 100;
  double lr_ = 1e-3, weight_decay_ = 0.05;
  std::string device_ = "auto";
};

class VqaEval : public Experiment {
 public:
  void declare(ParamSet& params) override {
    data_.declare(params);
    model_.declare(params);
    compression_.declare(params);
    params.add("checkpoint", &checkpoint_, "a checkpoint.pt written by the train experiment (same data and model keys)");
    params.add("eval.split", &split_, "questions of this split").one_of({"val", "test"});
    params.add("eval.scenes", &scenes_, "scenes evaluated (indices [0, n) of the split)").range(1, 1000000);
    params.add("eval.questions_per_scene", &per_scene_, "questions asked about each scene").range(1, 64);
    params.add("eval.batch", &batch_, "questions per forward pass").range(1, 65536);
    params.add("eval.bootstrap", &bootstrap_, "bootstrap resamples for the accuracy-drop interval").range(100, 1000000);
    params.add("taps", &taps_, "ViT blocks after which the visual tokens are compressed (1..depth)").range(1, 64);
    params.add("eval.device", &device_, "cpu, cuda or auto").one_of({"auto", "cpu", "cuda"});
  }
  void validate() const override {
    data_.check();
    model_.check(data_);
    if (checkpoint_.empty()) throw_input_error("vqa_eval: 'checkpoint' is required (a train run's checkpoint.pt)");
    if (!fs::exists(checkpoint_)) {
      throw_input_error("vqa_eval: checkpoint '{}' does not exist (a train run writes it, e.g. bcfeat run "
                        "configs/train_tiny.yaml)",
                        checkpoint_);
    }
    for (int tap : taps_) {
      if (tap > model_.options.depth) throw_input_error("taps: block {} but model.depth is {}", tap, model_.options.depth);
    }
    make_compressor(compression_);
  }

  nlohmann::json run(uint64_t seed, RunContext& context) override {
    const torch::Device device = pick_device(device_);
    TinyVlm model(model_.resolved(data_));
    {
      torch::serialize::InputArchive archive;
      archive.load_from(checkpoint_, device);
      model->load(archive);
    }
    model->to(device);
    model->eval();
    const VqaData data = vqa_tensors(data_, split_ == "val" ? VqaSplit::kVal : VqaSplit::kTest, 0, scenes_, per_scene_,
                                       model_.options.question_length);
    const auto compressor = make_compressor(compression_);
    const torch::Tensor reference = predict(model, data, batch_, device);
    int64_t bytes = 0, side = 0, values = 0;
    double squared_error = 0, energy = 0, encode_ms = 0, decode_ms = 0;
    const std::vector<int> taps(taps_.begin(), taps_.end());
    const VisualTap tap = [&](int layer, const torch::Tensor& tokens) {
      if (std::find(taps.begin(), taps.end(), layer) == taps.end()) return tokens;
      const torch::Tensor features = tokens.permute({1, 0, 2}).to(torch::kCPU, torch::kFloat32).contiguous();  // [B, N, E]
      const auto t0 = Clock::now();
      const Compressed compressed = compressor->compress(features);
      const auto t1 = Clock::now();
      const torch::Tensor restored = compressor->decompress(compressed);
      encode_ms += std::chrono::duration<double, std::milli>(t1 - t0).count();
      decode_ms += std::chrono::duration<double, std::milli>(Clock::now() - t1).count();
      bytes += static_cast<int64_t>(compressed.bytes.size());
      side += compressed.side_bytes;
      values += features.numel();
      squared_error += (restored - features).pow(2).sum().item<double>();
      energy += features.pow(2).sum().item<double>();
      return restored.permute({1, 0, 2}).to(tokens.device(), tokens.dtype());
    };
    const torch::Tensor compressed = predict(model, data, batch_, device, tap);
    const torch::Tensor right_reference = reference.eq(data.answers).to(torch::kDouble);
    const torch::Tensor right = compressed.eq(data.answers).to(torch::kDouble);
    const int64_t n = data.answers.size(0);
    // Paired bootstrap over questions: the same resample for both answers.
    SeededRandom random(seed ^ 0xB0075724Bull);
    std::vector<double> drops;
    const double* a = right_reference.data_ptr<double>();
    const double* b = right.data_ptr<double>();
    for (int r = 0; r < bootstrap_; ++r) {
      double sum = 0;
      for (int64_t k = 0; k < n; ++k) {
        const int64_t i = static_cast<int64_t>(random.next() % static_cast<uint64_t>(n));
        sum += a[i] - b[i];
      }
      drops.push_back(100.0 * sum / static_cast<double>(n));
    }
    std::sort(drops.begin(), drops.end());
    auto quantile = [&](double q) { return drops[static_cast<size_t>(std::llround(q * (drops.size() - 1)))]; };
    nlohmann::json metrics = rate_metrics(bytes, side, std::max<int64_t>(values, 1));
    metrics["vqa_accuracy"] = 100.0 * right.mean().item<double>();
    metrics["vqa_accuracy_uncompressed"] = 100.0 * right_reference.mean().item<double>();
    metrics["vqa_accuracy_drop"] = metrics["vqa_accuracy_uncompressed"].get<double>() - metrics["vqa_accuracy"].get<double>();
    metrics["vqa_accuracy_drop_ci95"] = {quantile(0.025), quantile(0.975)};
    metrics["questions"] = n;
    for (int t = 0; t < kQuestionTypes; ++t) {  // accuracy_count, accuracy_exist, ...
      const torch::Tensor mask = data.types.eq(t);
      if (mask.sum().item<int64_t>() == 0) continue;
      metrics[std::string("accuracy_") + question_type_name(static_cast<QuestionType>(t))] =
          100.0 * right.masked_select(mask).mean().item<double>();
    }
    // Memory of the tapped features per image (each question's forward pass is one image):
    // compressed bytes, and what fp16 would take.
    metrics["feature_bytes_per_image"] = static_cast<double>(bytes) / static_cast<double>(n);
    metrics["feature_fp16_bytes_per_image"] = 2.0 * static_cast<double>(values) / static_cast<double>(n);
    metrics["feature_rel_l2"] = energy > 0 ? std::sqrt(squared_error / energy) : 0.0;
    metrics["feature_mse"] = values > 0 ? squared_error / static_cast<double>(values) : 0.0;
    metrics["encode_ms"] = encode_ms;
    metrics["decode_ms"] = decode_ms;
    context.log << fmt::format("accuracy {:.2f}% (uncompressed {:.2f}%), {:.3f} bits/value\n",
                               metrics["vqa_accuracy"].get<double>(), metrics["vqa_accuracy_uncompressed"].get<double>(),
                               metrics["bits_per_value"].get<double>());
    return metrics;
  }

 private:
  ShapesVqaOptions data_;
  ModelParams model_;
  CompressionOptions compression_;
  std::string checkpoint_, split_ = "test", device_ = "auto";
  int scenes_ = 300, per_scene_ = 8, batch_ = 256, bootstrap_ = 1000;
  std::vector<int> taps_ = {1};
};

}  // namespace

ExperimentEntry train_entry() {
  return {"train", "train tinyvlm on shapes_vqa (checkpoints each epoch, resumes, loss/accuracy curves)",
          [] { return std::make_unique<Train>(); }};
}

ExperimentEntry vqa_eval_entry() {
  return {"vqa_eval", "VQA accuracy of a checkpoint with its visual tokens compressed at chosen blocks (bootstrap CI)",
          [] { return std::make_unique<VqaEval>(); }};
}

}  // namespace bcfeat
