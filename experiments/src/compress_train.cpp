// compress_train: a compressor's shared state trained for what the features are for.
//
// The model (a tinyvlm or clip file written by the train experiment) is frozen. The
// compressor (one tap) starts from its fit on the tapped features of train scenes [0,
// eval.calibration_scenes) — exactly what vqa_eval/clip_eval fit: k-means codebooks (MSE), or a
// texture's per-channel min/max value maps (scope per_dataset) — or from a state file
// (compression.state). Then `train_compression.steps` Adam steps train that state on
// the tapped features of train scenes [0, train_compression.scenes): each step compresses a
// batch with the real codec (the bytes an evaluation stores) and back-propagates the weighted
// losses through the frozen model (the learning rate decays by a cosine to 0) with the
// straight-through gradient (compression.gradient:
// ste) or the soft emulation's (soft, its temperature annealed geometrically from
// train_compression.temperature to temperature_end).
//
// Losses (train_compression.loss: a map of weights, {task: 1, mse: 0.1}, or "task+0.1*mse"):
//   mse        mean squared reconstruction error / mean square of the features
//   task       tinyvlm: cross-entropy of the answers on the compressed features
//   distill    tinyvlm: KL(answers uncompressed || answers compressed)
//   alignment  clip: symmetric InfoNCE of the compressed image embeddings and their captions
//   cosine     clip: 1 − cosine(compressed image embedding, uncompressed one)
//
// The trained state is written to <run>/compressor_state.bin (compression.state of vqa_eval,
// clip_eval, rate_distortion and feature caches). The run then evaluates the split with the
// initial and the trained compressor against the uncompressed model: the metrics of
// vqa_eval/clip_eval for the trained one, the same with suffix _init for the initial one, the
// gain with its paired-bootstrap interval, and the held-out loss before and after.
#include <chrono>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <random>

#include "bcfeat/experiments/experiment.h"
#include "bcfeat/framework/device.h"
#include "bcfeat/framework/error.h"
#include "bcfeat/framework/metrics.h"
#include "bcfeat/framework/models/feature_tap.h"
#include "bcfeat/framework/models/model_file.h"
#include "bcfeat/framework/provenance.h"
#include "inference.h"

namespace bcfeat {

namespace {

namespace fs = std::filesystem;

struct LossWeights {
  std::map<std::string, double> terms;  // name -> weight > 0
  double weight(const std::string& name) const {
    const auto it = terms.find(name);
    return it == terms.end() ? 0.0 : it->second;
  }
};

const std::vector<std::string>& loss_names() {
  static const std::vector<std::string> names{"mse", "task", "distill", "alignment", "cosine"};
  return names;
}

double parse_weight(const std::string& text, const std::string& where) {
  try {
    size_t used = 0;
    const double value = std::stod(text, &used);
    if (used == text.size() && std::isfinite(value) && value >= 0.0) return value;
  } catch (const std::exception&) {
  }
  throw_input_error("{}: '{}' is not a weight (a number >= 0)", where, text);
}

void add_term(LossWeights& out, std::string name, double weight, const std::string& where) {
  if (std::find(loss_names().begin(), loss_names().end(), name) == loss_names().end()) {
    throw_input_error("{}: unknown loss '{}'{}; valid: {}", where, name, did_you_mean(name, loss_names()), join(loss_names()));
  }
  if (out.terms.count(name)) throw_input_error("{}: loss '{}' named twice", where, name);
  if (weight > 0.0) out.terms[name] = weight;
}

std::string trim(const std::string& s) {
  const size_t a = s.find_first_not_of(" \t"), b = s.find_last_not_of(" \t");
  return a == std::string::npos ? std::string() : s.substr(a, b - a + 1);
}

// train_compression.loss: a map {name: weight} or a sum "task + 0.1*mse".
LossWeights parse_losses(const ConfigTree& tree) {
  LossWeights out;
  const std::string where = "train_compression.loss";
  if (tree.contains("")) {
    const YAML::Node& node = tree.at("").value;
    if (!node.IsScalar()) throw_input_error("{}: a map of loss weights or a sum such as 'task + 0.1*mse'", where);
    std::string text = node.Scalar();
    size_t start = 0;
    while (start <= text.size()) {
      const size_t plus = text.find('+', start);
      const std::string term = trim(text.substr(start, plus == std::string::npos ? std::string::npos : plus - start));
      const size_t star = term.find('*');
      if (star == std::string::npos) {
        add_term(out, term, 1.0, where);
      } else {
        add_term(out, trim(term.substr(star + 1)), parse_weight(trim(term.substr(0, star)), where), where);
      }
      if (plus == std::string::npos) break;
      start = plus + 1;
    }
  } else {
    for (const auto& [name, value] : tree.values()) {
      if (!value.value.IsScalar()) throw_input_error("{}.{}: a weight (a number >= 0)", where, name);
      add_term(out, name, parse_weight(value.value.Scalar(), where + "." + name), where);
    }
  }
  if (out.terms.empty()) throw_input_error("{}: no loss with a weight above 0", where);
  return out;
}

class CompressTrain : public Experiment {
 public:
  void declare(ParamSet& params) override {
    compression_.declare(params);
    params.add("model_file", &model_file_, "model.pt (or checkpoint.pt) of a tinyvlm or clip train run (frozen)");
    params.add_tree("taps", &taps_, "list or map",
                    "the one ViT block whose visual tokens are compressed: [n] or [last], or {n: compressor} as in "
                    "vqa_eval");
    params.add("compression.gradient", &gradient_,
               "compress_train: ste (straight-through: the codec's choices held fixed) or soft (the gradient of a soft "
               "emulation of the codec's choices; codebook: soft assignment, with index_format soft index rounding)")
        .one_of({"ste", "soft"});
    params.add_tree("train_compression.loss", &loss_, "map or text",
                    "weighted losses: a map {task: 1, mse: 0.1} or a sum 'task + 0.1*mse'; mse (both models), task "
                    "and distill (tinyvlm), alignment and cosine (clip)");
    params.add("train_compression.steps", &steps_, "Adam steps (0: evaluate the initial state only)").range(0, 10000000);
    params.add("train_compression.batch", &train_batch_, "train scenes per step").range(1, 65536);
    params.add("train_compression.scenes", &train_scenes_, "train scenes [0, n) whose tapped features are trained on")
        .range(2, 10000000);
    params.add("train_compression.questions_per_scene", &train_questions_, "tinyvlm: questions per train scene")
        .range(1, 64);
    params.add("train_compression.lr", &lr_,
               "Adam's first learning rate, in units of the root mean square of the tapped features (cosine decay to 0 "
               "over the steps)")
        .range(1e-9, 10.0);
    params.add("train_compression.temperature", &temperature_, "soft: the first step's temperature").range(1e-9, 1e9);
    params.add("train_compression.temperature_end", &temperature_end_, "soft: the last step's temperature")
        .range(1e-9, 1e9);
    params.add("eval.calibration_scenes", &calibration_scenes_,
               "train scenes [0, k) whose tapped features fit the initial (MSE) state; 0 with compression.state")
        .range(0, 1000000);
    params.add("eval.split", &split_, "scenes evaluated").one_of({"train", "val", "test"});
    params.add("eval.scenes", &scenes_, "scenes evaluated (indices [0, n) of the split)").range(2, 1000000);
    params.add("eval.questions_per_scene", &per_scene_, "tinyvlm: questions asked about each evaluated scene")
        .range(1, 64);
    params.add("eval.batch", &batch_, "images per forward pass of the evaluation").range(1, 65536);
    params.add("eval.bootstrap", &bootstrap_, "bootstrap resamples for the intervals").range(100, 1000000);
    params.add("eval.device", &device_, "cpu, cuda or auto (the model; the codec runs where compression.device says)")
        .one_of({"auto", "cpu", "cuda"});
  }

  void validate() const override {
    if (model_file_.empty()) throw_input_error("compress_train: 'model_file' is required (a tinyvlm or clip model.pt)");
    const nlohmann::json meta = read_meta(model_file_);
    const std::string kind = meta.value("kind", "");
    const TapSettings taps = resolve_tap_settings(taps_, compression_, "none", meta.at("model").at("depth").get<int>());
    if (taps.taps.size() != 1) throw_input_error("compress_train trains the compressor of one tap; taps names {}", taps.taps.size());
    const CompressionOptions& options = taps.taps[0].options;
    if (const auto why = make_compressor(options)->untrainable()) {
      throw_input_error("compress_train cannot train compression.method {}: {}", options.method, *why);
    }
    if (gradient_ == "soft" && options.method != "codebook") {
      throw_input_error("compression.gradient soft emulates codebook assignment; {} trains with ste", options.method);
    }
    if (options.state.empty() == (calibration_scenes_ == 0)) {
      throw_input_error(options.state.empty()
                            ? "compress_train starts from a fit on eval.calibration_scenes (> 0) or from compression.state"
                            : "compression.state gives the initial state; set eval.calibration_scenes to 0");
    }
    make_compressor(options);
    const LossWeights losses = parse_losses(loss_);
    for (const auto& [name, weight] : losses.terms) {
      const bool vqa = name == "task" || name == "distill", clip = name == "alignment" || name == "cosine";
      if ((vqa && kind != "tinyvlm") || (clip && kind != "clip")) {
        throw_input_error("train_compression.loss: '{}' needs a {} model; model_file '{}' holds a {} model", name,
                          vqa ? "tinyvlm" : "clip", model_file_, kind);
      }
    }
    if (calibration_scenes_ > train_scenes_) {
      throw_input_error("eval.calibration_scenes = {} exceeds train_compression.scenes = {} (the fit uses the first train "
                        "scenes)",
                        calibration_scenes_, train_scenes_);
    }
    if (train_batch_ > train_scenes_) {
      throw_input_error("train_compression.batch = {} exceeds train_compression.scenes = {}", train_batch_, train_scenes_);
    }
  }

  nlohmann::json run(uint64_t seed, RunContext& context) override {
    using Clock = std::chrono::steady_clock;
    torch::manual_seed(seed);
    const torch::Device device = pick_device(device_);
    Model model = load_model(model_file_, device);
    for (auto& p : model.module()->parameters()) p.set_requires_grad(false);
    const ShapesVqaOptions data_options = shapes_vqa_from_meta(model.meta);
    const int length = model.options.question_length;
    const TapSettings settings = resolve_tap_settings(taps_, compression_, "none", model.options.depth);
    const int layer = settings.taps[0].layer;
    const CompressionOptions options = settings.taps[0].options;
    std::shared_ptr<Compressor> compressor(make_compressor(options));
    const LossWeights losses = parse_losses(loss_);
    const bool vqa = model.kind == "tinyvlm";

    const VqaTensors train = vqa_tensors(data_options, VqaSplit::kTrain, 0, train_scenes_, train_questions_, length);
    const torch::Tensor features = tapped_features(model, train.images, layer, batch_, device);  // [S, N, D]
    if (options.state.empty()) {
      compressor->fit(features.slice(0, 0, calibration_scenes_).contiguous());
    }
    const double rms = features.pow(2).mean().sqrt().item<double>();
    const double mean_square = rms * rms;
    context.log << fmt::format("tapped features of {} train scenes after block {}: [{}], rms {:.4g}\n", train_scenes_,
                               layer, fmt::join(features.sizes(), ", "), rms);

    const VqaTensors data = vqa_tensors(data_options, split_from_name(split_), 0, scenes_, per_scene_, length);
    const Evaluation uncompressed = evaluate(model, data, device, {});
    FeatureTap initial_tap({{layer, compressor, compression_label(options)}});
    const Evaluation initial = evaluate(model, data, device, initial_tap.tap());
    const nlohmann::json initial_rate = initial_tap.metrics(data.scenes());

    // Training.
    std::vector<torch::Tensor> state = compressor->trainable_state();
    if (state.empty()) throw_input_error("compression.method {} has nothing to train", options.method);
    for (auto& t : state) t.set_requires_grad(true);
    torch::optim::Adam optimizer(state, torch::optim::AdamOptions(lr_ * rms));
    std::mt19937_64 random(seed ^ 0x7EA1C0DEull);
    std::vector<int64_t> order(static_cast<size_t>(train_scenes_));
    std::iota(order.begin(), order.end(), int64_t{0});
    size_t cursor = order.size();
    std::map<std::string, double> first_losses, last_losses;
    const int window = std::max(1, std::min(10, steps_ / 2));
    const auto train_start = Clock::now();
    for (int step = 0; step < steps_; ++step) {
      if (cursor + static_cast<size_t>(train_batch_) > order.size()) {
        std::shuffle(order.begin(), order.end(), random);
        cursor = 0;
      }
      std::vector<int64_t> ids(order.begin() + static_cast<std::ptrdiff_t>(cursor),
                               order.begin() + static_cast<std::ptrdiff_t>(cursor + static_cast<size_t>(train_batch_)));
      cursor += static_cast<size_t>(train_batch_);
      std::sort(ids.begin(), ids.end());
      const torch::Tensor index = torch::tensor(ids, torch::kLong);
      const torch::Tensor x = features.index_select(0, index).contiguous();
      const double progress = steps_ > 1 ? static_cast<double>(step) / (steps_ - 1) : 1.0;
      const double temperature = temperature_ * std::pow(temperature_end_ / temperature_, progress);
      compressor->load_trainable_state(state);
      const torch::Tensor y = compressor->train_reconstruction(x, state, gradient_, temperature);
      const std::map<std::string, torch::Tensor> terms = loss_terms(model, train, ids, layer, x, y, losses, mean_square, device);
      torch::Tensor total = torch::zeros({}, torch::kFloat32).to(device);
      for (const auto& [name, value] : terms) total = total + losses.weight(name) * value;
      optimizer.zero_grad();
      total.backward();
      for (auto& group : optimizer.param_groups()) {
        static_cast<torch::optim::AdamOptions&>(group.options()).lr(lr_ * rms * 0.5 * (1.0 + std::cos(M_PI * progress)));
      }
      optimizer.step();
      std::map<std::string, double> now;
      for (const auto& [name, value] : terms) now[name] = value.item<double>();
      now["total"] = total.item<double>();
      for (const auto& [name, value] : now) {
        if (step < window) first_losses[name] += value / window;
        if (step >= steps_ - window) last_losses[name] += value / window;
      }
      if (step % std::max(1, steps_ / 10) == 0 || step + 1 == steps_) {
        context.log << fmt::format("step {}/{}: loss {:.5f}", step + 1, steps_, now["total"]);
        for (const auto& [name, value] : terms) context.log << fmt::format(", {} {:.5f}", name, now[name]);
        context.log << "\n";
      }
    }
    if (steps_ > 0) compressor->load_trainable_state(state);
    const double train_seconds = std::chrono::duration<double>(Clock::now() - train_start).count();

    CompressorState file;
    file.compression = options.stream_keys();
    file.dim = features.size(2);
    file.bytes = compressor->shared_state();
    file.provenance = {{"experiment", "compress_train"},
                       {"bcfeat", bcfeat_version()},
                       {"model_file", model_file_},
                       {"tap", layer},
                       {"loss", losses.terms},
                       {"gradient", gradient_},
                       {"steps", steps_},
                       {"seed", seed}};
    const std::string state_path = (fs::path(context.run_dir) / "compressor_state.bin").string();
    write_compressor_state(state_path, file);

    FeatureTap trained_tap({{layer, compressor, compression_label(options)}});
    const Evaluation trained = evaluate(model, data, device, trained_tap.tap());
    nlohmann::json metrics = trained_tap.metrics(data.scenes());
    metrics["bits_per_value_init"] = initial_rate.at("bits_per_value");
    metrics["state_file"] = state_path;
    metrics["train_seconds"] = train_seconds;
    metrics["train_steps"] = steps_;
    for (const auto& [name, value] : first_losses) metrics["train_loss_" + name + "_first"] = value;
    for (const auto& [name, value] : last_losses) metrics["train_loss_" + name + "_last"] = value;
    metrics["heldout_loss_init"] = initial.loss;
    metrics["heldout_loss"] = trained.loss;
    metrics["heldout_loss_uncompressed"] = uncompressed.loss;
    if (vqa) {
      metrics.update(vqa_accuracy_metrics(data, uncompressed.answers, trained.answers, bootstrap_, seed ^ 0xB0075724Bull));
      const nlohmann::json init = vqa_accuracy_metrics(data, uncompressed.answers, initial.answers, bootstrap_,
                                                       seed ^ 0xB0075724Bull);
      for (const char* key : {"vqa_accuracy", "vqa_accuracy_drop", "vqa_accuracy_drop_ci95"}) {
        metrics[std::string(key) + "_init"] = init.at(key);
      }
      const torch::Tensor right_init = initial.answers.eq(data.answers).to(torch::kDouble);
      const torch::Tensor right = trained.answers.eq(data.answers).to(torch::kDouble);
      gain(metrics, "vqa_accuracy", right, right_init, seed);
      context.log << fmt::format("accuracy {:.2f}% (initial fit {:.2f}%, uncompressed {:.2f}%), {:.3f} bits/value\n",
                                 metrics["vqa_accuracy"].get<double>(), metrics["vqa_accuracy_init"].get<double>(),
                                 metrics["vqa_accuracy_uncompressed"].get<double>(), metrics["bits_per_value"].get<double>());
    } else {
      metrics.update(clip_retrieval_metrics(data, texts_, uncompressed.embeddings, trained.embeddings, bootstrap_,
                                            seed ^ 0xC11Bull));
      const nlohmann::json init = clip_retrieval_metrics(data, texts_, uncompressed.embeddings, initial.embeddings,
                                                         bootstrap_, seed ^ 0xC11Bull);
      for (const char* key : {"recall_i2t_1", "recall_i2t_5", "recall_t2i_1", "recall_t2i_5", "recall_i2t_1_drop",
                              "recall_i2t_1_drop_ci95", "alignment", "embedding_cosine", "alignment_accuracy"}) {
        metrics[std::string(key) + "_init"] = init.at(key);
      }
      const RetrievalHits init_hits = retrieval_hits(initial.embeddings, texts_, data.captions);
      const RetrievalHits hits = retrieval_hits(trained.embeddings, texts_, data.captions);
      gain(metrics, "recall_i2t_1", hits.image_to_text_1, init_hits.image_to_text_1, seed);
      context.log << fmt::format("recall@1 i2t {:.2f}% (initial fit {:.2f}%, uncompressed {:.2f}%), alignment accuracy "
                                 "{:.2f}%, {:.3f} bits/value\n",
                                 metrics["recall_i2t_1"].get<double>(), metrics["recall_i2t_1_init"].get<double>(),
                                 metrics["recall_i2t_1_uncompressed"].get<double>(),
                                 metrics["alignment_accuracy"].get<double>(), metrics["bits_per_value"].get<double>());
    }
    return metrics;
  }

 private:
  // One pass over the evaluated split: answers and the held-out loss (cross-entropy against
  // the right answers) for tinyvlm; image embeddings and the held-out InfoNCE for clip.
  struct Evaluation {
    torch::Tensor answers, embeddings;
    double loss = 0.0;
  };
  Evaluation evaluate(Model& model, const VqaTensors& data, torch::Device device, const VisualTap& tap) {
    torch::NoGradGuard no_grad;
    Evaluation out;
    if (model.kind == "tinyvlm") {
      const torch::Tensor logits = answer_logits(model.vqa, data, batch_, device, [&](int64_t start, int64_t end) {
        return model.vqa->encode_image(data.images.slice(0, start, end).to(device), tap);
      });
      out.answers = logits.argmax(1);
      out.loss = torch::nn::functional::cross_entropy(logits, data.answers).item<double>();
    } else {
      if (!texts_.defined()) texts_ = embed_texts(model.clip, data.captions, batch_, device);
      out.embeddings = embed_images(model.clip, data.images, batch_, device, tap);
      out.loss = model.clip->loss(out.embeddings.to(device), texts_.to(device)).item<double>();
    }
    return out;
  }

  // The loss terms of one step: features x and their compressed reconstruction y [b, N, D]
  // of train scenes `ids` (CPU).
  std::map<std::string, torch::Tensor> loss_terms(Model& model, const VqaTensors& train, const std::vector<int64_t>& ids,
                                                  int layer, const torch::Tensor& x, const torch::Tensor& y,
                                                  const LossWeights& losses, double mean_square, torch::Device device) {
    std::map<std::string, torch::Tensor> terms;
    if (losses.weight("mse") > 0) terms["mse"] = (y - x).pow(2).mean().to(device) / mean_square;
    const torch::Tensor restored = y.to(device, torch::kFloat32).permute({1, 0, 2});
    if (model.kind == "tinyvlm" && (losses.weight("task") > 0 || losses.weight("distill") > 0)) {
      const auto [rows, image_of] = train.questions_of(ids);
      const torch::Tensor questions = train.questions.index_select(0, rows).to(device);
      const torch::Tensor owner = image_of.to(device);
      const torch::Tensor logits = model.vqa->ask(model.encode_from(layer, restored), questions, owner);
      if (losses.weight("task") > 0) {
        terms["task"] = torch::nn::functional::cross_entropy(logits, train.answers.index_select(0, rows).to(device));
      }
      if (losses.weight("distill") > 0) {
        torch::Tensor reference;
        {
          torch::NoGradGuard no_grad;
          reference = torch::log_softmax(
              model.vqa->ask(model.encode_from(layer, x.to(device).permute({1, 0, 2})), questions, owner), 1);
        }
        terms["distill"] = torch::nn::functional::kl_div(
            torch::log_softmax(logits, 1), reference,
            torch::nn::functional::KLDivFuncOptions().reduction(torch::kBatchMean).log_target(true));
      }
    } else if (model.kind == "clip" && (losses.weight("alignment") > 0 || losses.weight("cosine") > 0)) {
      const torch::Tensor index = torch::tensor(ids, torch::kLong);
      const torch::Tensor embeddings = model.encode_from(layer, restored);
      if (losses.weight("alignment") > 0) {
        torch::Tensor texts;
        {
          torch::NoGradGuard no_grad;
          texts = model.clip->encode_text(train.captions.index_select(0, index).to(device));
        }
        terms["alignment"] = model.clip->loss(embeddings, texts);
      }
      if (losses.weight("cosine") > 0) {
        torch::Tensor reference;
        {
          torch::NoGradGuard no_grad;
          reference = model.encode_from(layer, x.to(device).permute({1, 0, 2}));
        }
        terms["cosine"] = 1.0 - (embeddings * reference).sum(1).mean();
      }
    }
    return terms;
  }

  // `name`_gain = trained − initial (percentage points) with its paired-bootstrap interval, and
  // the share of the initial drop the training recovered.
  void gain(nlohmann::json& metrics, const std::string& name, const torch::Tensor& after, const torch::Tensor& before,
            uint64_t seed) const {
    metrics[name + "_gain"] = 100.0 * (after.mean().item<double>() - before.mean().item<double>());
    const auto ci = paired_bootstrap_ci(after, before, bootstrap_, seed ^ 0x6A1Eull);
    metrics[name + "_gain_ci95"] = {ci.first, ci.second};
    const double drop_init = metrics[name + "_drop_init"].get<double>();
    metrics[name + "_drop_recovered"] =
        drop_init > 0.0 ? (drop_init - metrics[name + "_drop"].get<double>()) / drop_init : 0.0;
  }

  CompressionOptions compression_;
  std::string model_file_, gradient_ = "ste", split_ = "test", device_ = "auto";
  ConfigTree taps_ = [] {
    ConfigTree tree;
    tree.set("", YAML::Load("[last]"), "default");
    return tree;
  }();
  ConfigTree loss_ = [] {
    ConfigTree tree;
    tree.set("", YAML::Load("mse"), "default");
    return tree;
  }();
  int steps_ = 300, train_batch_ = 16, train_scenes_ = 2000, train_questions_ = 8, calibration_scenes_ = 100;
  int scenes_ = 300, per_scene_ = 8, batch_ = 50, bootstrap_ = 1000;
  double lr_ = 0.003, temperature_ = 1.0, temperature_end_ = 0.01;
  torch::Tensor texts_;
};

}  // namespace

ExperimentEntry compress_train_entry() {
  return {"compress_train",
          "train a compressor's shared state (codebooks, texture value maps) with task, distillation, alignment and MSE "
          "losses through the real codec; evaluate against its calibration fit",
          [] { return std::make_unique<CompressTrain>(); }};
}

}  // namespace bcfeat
