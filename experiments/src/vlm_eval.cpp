// vqa_eval and clip_eval: what compressing the visual features of a trained model costs.
//
// Both load a model file written by the train experiment (model.pt or checkpoint.pt; the
// model and its data distribution come from the file) and score a split twice: uncompressed,
// and with the visual tokens after each `taps` block compressed by the configured compressor
// and decompressed (the forward pass continues from the reconstruction). With
// eval.calibration_scenes = k > 0 the compressor first fits its shared state (codebooks,
// per_dataset maps) on the tapped features of train scenes [0, k); that state is counted once.
//
// vqa_eval (tinyvlm)  vqa_accuracy, vqa_accuracy_uncompressed, vqa_accuracy_drop with a 95%
//                     paired-bootstrap interval over questions, accuracy_<type> per question type.
// clip_eval (clip)    image→text and text→image recall@1/@5 (compressed and uncompressed),
//                     recall_i2t_1_drop with its paired-bootstrap interval over scenes, and
//                     alignment = mean cosine(compressed image, caption) / the same uncompressed.
// Both: the rate/distortion of the tapped features (bits_per_value over every tapped value,
// every side byte), memory per image beside fp16, encode/decode time.
#include <chrono>
#include <filesystem>

#include "bcfeat/experiments/experiment.h"
#include "bcfeat/framework/error.h"
#include "bcfeat/framework/device.h"
#include "bcfeat/framework/metrics.h"
#include "bcfeat/framework/models/feature_tap.h"
#include "bcfeat/framework/models/model_file.h"
#include "inference.h"
#include "model_params.h"

namespace bcfeat {

namespace {

namespace fs = std::filesystem;

// What both evaluations share: the model file, the split, taps and the compressor.
class VlmEval : public Experiment {
 public:
  explicit VlmEval(std::string kind) : kind_(std::move(kind)) {}

  void declare(ParamSet& params) override {
    compression_.declare(params);
    params.add("model_file", &model_file_, "model.pt (or checkpoint.pt) written by a train run");
    params.add("eval.split", &split_, "scenes of this split (train: the first scenes a train run saw, to measure memorisation)")
        .one_of({"train", "val", "test"});
    params.add("eval.scenes", &scenes_, "scenes evaluated (indices [0, n) of the split)").range(2, 1000000);
    if (kind_ == "tinyvlm") {
      params.add("eval.questions_per_scene", &per_scene_, "questions asked about each scene").range(1, 64);
    }
    params.add("eval.batch", &batch_, "images per forward pass").range(1, 65536);
    params.add("eval.bootstrap", &bootstrap_, "bootstrap resamples for the drop's interval").range(100, 1000000);
    params.add("eval.calibration_scenes", &calibration_scenes_,
               "train scenes [0, k) whose tapped features fit the compressor's shared state (0 = none)")
        .range(0, 1000000);
    params.add("eval.device", &device_, "cpu, cuda or auto").one_of({"auto", "cpu", "cuda"});
    params.add("taps", &taps_, "ViT blocks after which the visual tokens are compressed: numbers 1..depth or 'last'");
  }

  void validate() const override {
    if (model_file_.empty()) {
      throw_input_error("{}: 'model_file' is required (a train run's model.pt, e.g. from bcfeat run configs/train_tiny.yaml)",
                        kind_ == "clip" ? "clip_eval" : "vqa_eval");
    }
    const nlohmann::json meta = read_meta(model_file_);
    if (meta.value("kind", "") != kind_) {
      throw_input_error("model_file '{}' holds a {} model; {} needs a {} model", model_file_, meta.value("kind", "?"),
                        kind_ == "clip" ? "clip_eval" : "vqa_eval", kind_);
    }
    resolve_taps(meta.at("model").at("depth").get<int>());
    make_compressor(compression_);
  }

 protected:
  std::vector<int> resolve_taps(int depth) const {
    if (taps_.empty()) throw_input_error("taps: at least one block");
    std::vector<int> out;
    for (const auto& tap : taps_) {
      int layer = 0;
      if (tap == "last") {
        layer = depth;
      } else {
        try {
          size_t used = 0;
          layer = std::stoi(tap, &used);
          if (used != tap.size()) layer = 0;
        } catch (const std::exception&) {
          layer = 0;
        }
        if (layer < 1 || layer > depth) throw_input_error("taps: '{}' is not a block of this model (1..{} or 'last')", tap, depth);
      }
      out.push_back(layer);
    }
    return out;
  }

  // The model, the split's tensors, and a tap whose compressor is fitted when asked.
  struct Setup {
    Model model;
    ShapesVqaOptions data;
    VqaTensors split;
    torch::Device device = torch::kCPU;
    std::shared_ptr<Compressor> compressor;
    std::vector<int> taps;
  };
  Setup prepare(RunContext& context) const {
    Setup s;
    s.device = pick_device(device_);
    s.model = load_model(model_file_, s.device);
    s.data = shapes_vqa_from_meta(s.model.meta);
    s.split = vqa_tensors(s.data, split_from_name(split_), 0, scenes_, per_scene_, s.model.options.question_length);
    s.taps = resolve_taps(s.model.options.depth);
    s.compressor = make_compressor(compression_);
    if (calibration_scenes_ > 0) {
      const VqaTensors calibration = vqa_tensors(s.data, VqaSplit::kTrain, 0, calibration_scenes_, 1, 16);
      std::vector<torch::Tensor> features;
      for (int layer : s.taps) features.push_back(tapped_features(s.model, calibration.images, layer, batch_, s.device));
      s.compressor->fit(torch::cat(features));
      context.log << fmt::format("compressor fitted on the tapped features of {} train scenes ({} shared bytes)\n",
                                 calibration_scenes_, s.compressor->shared_bytes());
    }
    return s;
  }

  std::string kind_;
  CompressionOptions compression_;
  std::string model_file_, split_ = "test", device_ = "auto";
  int scenes_ = 300, per_scene_ = 8, batch_ = 64, bootstrap_ = 1000, calibration_scenes_ = 0;
  std::vector<std::string> taps_ = {"last"};
};

class VqaEval : public VlmEval {
 public:
  VqaEval() : VlmEval("tinyvlm") {}

  nlohmann::json run(uint64_t seed, RunContext& context) override {
    Setup s = prepare(context);
    const VqaTensors& data = s.split;
    const torch::Tensor reference = predict_answers(s.model.vqa, data, batch_, s.device);
    FeatureTap tap(s.compressor, s.taps);
    const torch::Tensor compressed = predict_answers(s.model.vqa, data, batch_, s.device, tap.tap());
    const torch::Tensor right_reference = reference.eq(data.answers).to(torch::kDouble);
    const torch::Tensor right = compressed.eq(data.answers).to(torch::kDouble);
    nlohmann::json metrics = tap.metrics(data.scenes());
    metrics["vqa_accuracy"] = 100.0 * right.mean().item<double>();
    metrics["vqa_accuracy_uncompressed"] = 100.0 * right_reference.mean().item<double>();
    metrics["vqa_accuracy_drop"] = metrics["vqa_accuracy_uncompressed"].get<double>() - metrics["vqa_accuracy"].get<double>();
    const auto ci = paired_bootstrap_ci(right_reference, right, bootstrap_, seed ^ 0xB0075724Bull);
    metrics["vqa_accuracy_drop_ci95"] = {ci.first, ci.second};
    metrics["questions"] = data.answers.size(0);
    metrics["scenes"] = data.scenes();
    for (const auto& [type, accuracy] : grouped_accuracy(right, data.types, question_type_names())) {  // accuracy_count, ...
      metrics["accuracy_" + type] = 100.0 * accuracy;
    }
    context.log << fmt::format("accuracy {:.2f}% (uncompressed {:.2f}%), {:.3f} bits/value\n",
                               metrics["vqa_accuracy"].get<double>(), metrics["vqa_accuracy_uncompressed"].get<double>(),
                               metrics["bits_per_value"].get<double>());
    return metrics;
  }
};

class ClipEval : public VlmEval {
 public:
  ClipEval() : VlmEval("clip") {}

  nlohmann::json run(uint64_t seed, RunContext& context) override {
    Setup s = prepare(context);
    const VqaTensors& data = s.split;
    const torch::Tensor texts = embed_texts(s.model.clip, data.captions, batch_, s.device);
    const torch::Tensor reference = embed_images(s.model.clip, data.images, batch_, s.device);
    FeatureTap tap(s.compressor, s.taps);
    const torch::Tensor compressed = embed_images(s.model.clip, data.images, batch_, s.device, tap.tap());
    const RetrievalHits before = retrieval_hits(reference, texts, data.captions);
    const RetrievalHits after = retrieval_hits(compressed, texts, data.captions);
    nlohmann::json metrics = tap.metrics(data.scenes());
    auto percent = [](const torch::Tensor& hits) { return 100.0 * hits.mean().item<double>(); };
    metrics["recall_i2t_1"] = percent(after.image_to_text_1);
    metrics["recall_i2t_5"] = percent(after.image_to_text_5);
    metrics["recall_t2i_1"] = percent(after.text_to_image_1);
    metrics["recall_t2i_5"] = percent(after.text_to_image_5);
    metrics["recall_i2t_1_uncompressed"] = percent(before.image_to_text_1);
    metrics["recall_i2t_5_uncompressed"] = percent(before.image_to_text_5);
    metrics["recall_t2i_1_uncompressed"] = percent(before.text_to_image_1);
    metrics["recall_t2i_5_uncompressed"] = percent(before.text_to_image_5);
    metrics["recall_i2t_1_drop"] = metrics["recall_i2t_1_uncompressed"].get<double>() - metrics["recall_i2t_1"].get<double>();
    const auto ci = paired_bootstrap_ci(before.image_to_text_1, after.image_to_text_1, bootstrap_, seed ^ 0xC11Bull);
    metrics["recall_i2t_1_drop_ci95"] = {ci.first, ci.second};
    const double cos_before = (reference * texts).sum(1).mean().item<double>();
    const double cos_after = (compressed * texts).sum(1).mean().item<double>();
    metrics["cosine_image_text"] = cos_after;
    metrics["cosine_image_text_uncompressed"] = cos_before;
    metrics["alignment"] = cos_before != 0.0 ? cos_after / cos_before : 0.0;
    metrics["embedding_cosine"] = (compressed * reference).sum(1).mean().item<double>();
    metrics["scenes"] = data.scenes();
    context.log << fmt::format("recall@1 i2t {:.2f}% (uncompressed {:.2f}%), alignment {:.4f}, {:.3f} bits/value\n",
                               metrics["recall_i2t_1"].get<double>(), metrics["recall_i2t_1_uncompressed"].get<double>(),
                               metrics["alignment"].get<double>(), metrics["bits_per_value"].get<double>());
    return metrics;
  }
};

}  // namespace

ExperimentEntry vqa_eval_entry() {
  return {"vqa_eval", "VQA accuracy of a tinyvlm model with its visual tokens compressed at chosen blocks (bootstrap CI)",
          [] { return std::make_unique<VqaEval>(); }};
}

ExperimentEntry clip_eval_entry() {
  return {"clip_eval", "recall@1/5 and image-text alignment of a clip model with compressed visual tokens",
          [] { return std::make_unique<ClipEval>(); }};
}

}  // namespace bcfeat
