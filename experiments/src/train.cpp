// train: trains the reference models on shapes_vqa scenes.
//
//   model.kind tinyvlm  answers the train split's questions (cross-entropy);
//   model.kind clip     matches each train scene with its caption (symmetric contrastive loss).
// AdamW with linear warm-up then cosine decay; each step takes `train.batch` scenes (and, for
// tinyvlm, all of their questions: the image is encoded once per scene). With `train.amp`
// the forward pass runs in bf16 autocast on CUDA. After every epoch the val split is scored
// (tinyvlm: answer accuracy; clip: image→caption recall@1) and <run>/checkpoint.pt (model,
// optimizer, epoch, curves) is written atomically; a re-launched run resumes from it. At the
// end <run>/model.pt holds the weights alone in fp16 — the file vqa_eval / clip_eval read
// (with the model and data description, so eval configs need not repeat them).
#include <chrono>
#include <cmath>
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
using Clock = std::chrono::steady_clock;

class Train : public Experiment {
 public:
  void declare(ParamSet& params) override {
    data_.declare(params);
    model_.declare(params);
    params.add("train.scenes", &scenes_, "training scenes (train split, indices [0, n))").range(1, 10000000);
    params.add("train.questions_per_scene", &per_scene_, "tinyvlm: questions asked about each scene").range(1, 64);
    params.add("train.epochs", &epochs_, "passes over the training scenes").range(1, 100000);
    params.add("train.batch", &batch_, "scenes per step (tinyvlm: with all their questions)").range(2, 65536);
    params.add("train.lr", &lr_, "peak AdamW learning rate").range(1e-7, 1.0);
    params.add("train.weight_decay", &weight_decay_, "AdamW weight decay").range(0.0, 1.0);
    params.add("train.warmup_steps", &warmup_, "linear warm-up steps before the cosine decay").range(0, 1000000);
    params.add("train.device", &device_, "cpu, cuda or auto").one_of({"auto", "cpu", "cuda"});
    params.add("train.amp", &amp_, "bf16 autocast for the forward pass (CUDA only)");
    params.add("val.scenes", &val_scenes_, "validation scenes (val split)").range(2, 1000000);
  }
  void validate() const override {
    data_.check();
    model_.check(data_);
    if (amp_ && device_ == "cpu") throw_input_error("train.amp: bf16 autocast is for train.device cuda (or auto on a GPU machine)");
  }

  nlohmann::json run(uint64_t seed, RunContext& context) override {
    torch::manual_seed(seed);
    const torch::Device device = pick_device(device_);
    const bool amp = amp_ && device.is_cuda();
    const bool clip = model_.kind == "clip";
    const int length = model_.options.question_length;
    const auto d0 = Clock::now();
    VqaTensors train = vqa_tensors(data_, VqaSplit::kTrain, 0, scenes_, per_scene_, length);
    const VqaTensors val = vqa_tensors(data_, VqaSplit::kVal, 0, val_scenes_, per_scene_, length);
    context.log << fmt::format("data: {} train scenes ({} questions), {} val scenes in {:.1f} s\n", train.scenes(),
                               train.answers.size(0), val.scenes(),
                               std::chrono::duration<double>(Clock::now() - d0).count())
                << std::flush;
    // The training set lives on the device for the whole run.
    train.images = train.images.to(device);
    train.captions = train.captions.to(device);
    train.questions = train.questions.to(device);
    train.answers = train.answers.to(device);
    Model model = make_model(model_.kind, model_.resolved(data_));
    auto module = model.module();
    module->to(device);
    torch::optim::AdamW optimizer(module->parameters(), torch::optim::AdamWOptions(lr_).weight_decay(weight_decay_));
    const int64_t n = train.scenes();
    const int64_t steps_per_epoch = (n + batch_ - 1) / batch_, total = steps_per_epoch * epochs_;
    const std::string val_name = clip ? "val_recall_at_1" : "val_accuracy";
    nlohmann::json curves = {{"epoch", nlohmann::json::array()}, {"train_loss", nlohmann::json::array()},
                             {val_name, nlohmann::json::array()}, {"seconds", nlohmann::json::array()}};
    const nlohmann::json meta = {{"kind", model_.kind}, {"model", to_json(model.options)}, {"data", shapes_vqa_to_json(data_)}};
    const std::string checkpoint = (fs::path(context.run_dir) / "checkpoint.pt").string();
    int start_epoch = 0;
    double elapsed = 0;
    if (fs::exists(checkpoint)) {
      torch::serialize::InputArchive archive;
      archive.load_from(checkpoint, device);
      module->load(archive);
      torch::serialize::InputArchive state;
      archive.read("optimizer", state);
      optimizer.load(state);
      torch::Tensor epoch;
      archive.read("epoch", epoch);
      start_epoch = static_cast<int>(epoch.item<int64_t>());
      curves = read_json(archive, "curves");
      if (!curves["seconds"].empty()) elapsed = curves["seconds"].back().get<double>();
      context.log << fmt::format("resumed from {} after epoch {}\n", checkpoint, start_epoch);
    }
    double val_score = curves[val_name].empty() ? 0.0 : curves[val_name].back().get<double>();
    const auto t0 = Clock::now();
    for (int epoch = start_epoch; epoch < epochs_; ++epoch) {
      module->train();
      torch::Generator generator = at::detail::createCPUGenerator(seed * 1000003 + epoch);
      const torch::Tensor order = torch::randperm(n, generator, torch::kLong);
      // Every step's scene and question indices, built on the host and copied to the device
      // once per epoch: a copy per step would make the host wait for the GPU every step.
      const EpochIndex epoch_index = index_epoch(train, order, batch_, clip, device);
      torch::Tensor loss_sum = torch::zeros({}, torch::TensorOptions().dtype(torch::kDouble).device(device));
      for (int64_t s = 0; s < steps_per_epoch; ++s) {
        const int64_t step = epoch * steps_per_epoch + s;
        const double scale = step < warmup_ ? static_cast<double>(step + 1) / (warmup_ + 1)
                                            : 0.5 * (1.0 + std::cos(M_PI * (step - warmup_) / std::max<int64_t>(1, total - warmup_)));
        for (auto& group : optimizer.param_groups()) static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr_ * scale);
        const torch::Tensor index = epoch_index.scenes.slice(0, s * batch_, std::min(n, (s + 1) * batch_));
        torch::Tensor loss;
        {
          Autocast autocast(amp);
          if (clip) {
            loss = model.clip->loss(model.clip->encode_image(train.images.index_select(0, index)),
                                    model.clip->encode_text(train.captions.index_select(0, index)));
          } else {
            const int64_t first = epoch_index.first_question[s], last = epoch_index.first_question[s + 1];
            const torch::Tensor q = epoch_index.questions.slice(0, first, last);
            loss = torch::nn::functional::cross_entropy(
                model.vqa->forward(train.images.index_select(0, index), train.questions.index_select(0, q), {},
                                   epoch_index.image_of.slice(0, first, last)),
                train.answers.index_select(0, q));
          }
        }
        optimizer.zero_grad();
        loss.backward();
        optimizer.step();
        loss_sum += loss.detach().to(torch::kDouble);
      }
      module->eval();
      std::string per_type;  // tinyvlm: val accuracy per question type, for the log
      val_score = validate_model(model, val, device, per_type);
      const double mean_loss = loss_sum.item<double>() / static_cast<double>(steps_per_epoch);
      const double seconds = elapsed + std::chrono::duration<double>(Clock::now() - t0).count();
      curves["epoch"].push_back(epoch + 1);
      curves["train_loss"].push_back(mean_loss);
      curves[val_name].push_back(val_score);
      curves["seconds"].push_back(seconds);
      save_checkpoint(module, optimizer, epoch + 1, curves, meta, checkpoint);
      context.log << fmt::format("epoch {}/{}: train loss {:.4f}, {} {:.4f}{}, {:.0f} s\n", epoch + 1, epochs_,
                                 mean_loss, val_name, val_score, per_type, seconds)
                  << std::flush;
    }
    const std::string weights = (fs::path(context.run_dir) / "model.pt").string();
    save_weights(model, meta, weights);
    nlohmann::json metrics;
    metrics[val_name] = val_score;
    metrics["epochs"] = curves["epoch"];  // per-epoch curves (flat keys, so reports do not take them for swept values)
    metrics["train_loss_curve"] = curves["train_loss"];
    metrics[val_name + "_curve"] = curves[val_name];
    metrics["seconds_curve"] = curves["seconds"];
    metrics["train_scenes"] = n;
    metrics["train_questions"] = clip ? 0 : train.answers.size(0);
    metrics["val_scenes"] = val.scenes();
    metrics["steps"] = total;
    metrics["device"] = device.is_cuda() ? "cuda" : "cpu";
    metrics["amp"] = amp;
    metrics["train_s"] = curves["seconds"].empty() ? 0.0 : curves["seconds"].back().get<double>();
    metrics["parameters"] = parameter_count(module);
    metrics["checkpoint"] = checkpoint;
    metrics["model_file"] = weights;
    metrics["model_file_bytes"] = static_cast<int64_t>(fs::file_size(weights));
    return metrics;
  }

 private:
  // One epoch's batches on the device: scenes in step order; for tinyvlm every step's
  // questions (train.questions_of of its scenes) back to back, step s holding
  // [first_question[s], first_question[s + 1]), with each question's position in its batch.
  struct EpochIndex {
    torch::Tensor scenes, questions, image_of;
    std::vector<int64_t> first_question;
  };

  static EpochIndex index_epoch(const VqaTensors& train, const torch::Tensor& order, int64_t batch, bool clip,
                                torch::Device device) {
    EpochIndex out;
    out.scenes = order.to(device);
    if (clip) return out;
    const int64_t n = order.size(0);
    const int64_t* scene_order = order.data_ptr<int64_t>();
    std::vector<torch::Tensor> questions, image_of;
    out.first_question.push_back(0);
    for (int64_t start = 0; start < n; start += batch) {
      const std::vector<int64_t> scenes(scene_order + start, scene_order + std::min(n, start + batch));
      auto [q, position] = train.questions_of(scenes);
      out.first_question.push_back(out.first_question.back() + q.size(0));
      questions.push_back(std::move(q));
      image_of.push_back(std::move(position));
    }
    out.questions = torch::cat(questions).to(device);
    out.image_of = torch::cat(image_of).to(device);
    return out;
  }

  static int64_t parameter_count(const std::shared_ptr<torch::nn::Module>& module) {
    int64_t count = 0;
    for (const auto& p : module->parameters()) count += p.numel();
    return count;
  }

  // The validation score; for tinyvlm also " (count 0.81, ..., spatial 0.93)" in `per_type`.
  double validate_model(Model& model, const VqaTensors& val, torch::Device device, std::string& per_type) const {
    if (model.clip) {
      const torch::Tensor images = embed_images(model.clip, val.images, 256, device);
      const torch::Tensor texts = embed_texts(model.clip, val.captions, 256, device);
      return retrieval_hits(images, texts, val.captions).image_to_text_1.mean().item<double>();
    }
    const torch::Tensor right = predict_answers(model.vqa, val, 256, device).eq(val.answers).to(torch::kDouble);
    std::vector<std::string> parts;
    for (const auto& [type, accuracy] : grouped_accuracy(right, val.types, question_type_names())) {
      parts.push_back(fmt::format("{} {:.2f}", type, accuracy));
    }
    per_type = fmt::format(" ({})", fmt::join(parts, ", "));
    return right.mean().item<double>();
  }

  static void save_checkpoint(const std::shared_ptr<torch::nn::Module>& module, torch::optim::AdamW& optimizer, int epoch,
                              const nlohmann::json& curves, const nlohmann::json& meta, const std::string& path) {
    torch::serialize::OutputArchive archive;
    module->save(archive);
    torch::serialize::OutputArchive state;
    optimizer.save(state);
    archive.write("optimizer", state);
    archive.write("epoch", torch::tensor(static_cast<int64_t>(epoch)));
    write_json(archive, "curves", curves);
    write_json(archive, "meta", meta);
    const std::string temporary = path + ".tmp";
    archive.save_to(temporary);
    fs::rename(temporary, path);
  }

  ShapesVqaOptions data_;
  ModelParams model_;
  int scenes_ = 2000, per_scene_ = 8, epochs_ = 10, batch_ = 32, val_scenes_ = 300;
  int64_t warmup_ = 100;
  double lr_ = 1e-3, weight_decay_ = 0.05;
  std::string device_ = "auto";
  bool amp_ = false;
};

}  // namespace

ExperimentEntry train_entry() {
  return {"train", "train tinyvlm (VQA) or clip (contrastive) on shapes_vqa; checkpoints each epoch, resumes, curves",
          [] { return std::make_unique<Train>(); }};
}

}  // namespace bcfeat
