// Shared by the train, vqa_eval and clip_eval experiments (issue 7): model options, the
// device and mixed-precision switches, model files, the compressing feature tap and the
// paired bootstrap. Private to experiments/src.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "bcfeat/datasets/shapes_vqa.h"
#include "bcfeat/framework/compressor.h"
#include "bcfeat/framework/models/tinyvlm.h"
#include "bcfeat/framework/params.h"

namespace bcfeat {
namespace vlm {

// `model.*` keys of the train experiment (image size and vocabularies come from the data).
struct ModelParams {
  std::string kind = "tinyvlm";
  TinyVlmOptions options;
  void declare(ParamSet& params);
  TinyVlmOptions resolved(const ShapesVqaOptions& data) const;
  void check(const ShapesVqaOptions& data) const;
};

torch::Device pick_device(const std::string& name);  // cpu, cuda or auto

// bf16 autocast on CUDA for the guard's lifetime (a no-op when `on` is false).
class Autocast {
 public:
  explicit Autocast(bool on);
  ~Autocast();
  Autocast(const Autocast&) = delete;
  Autocast& operator=(const Autocast&) = delete;

 private:
  bool on_;
};

// Either model, behind one handle.
struct Model {
  std::string kind;  // tinyvlm | clip
  TinyVlmOptions options;
  nlohmann::json meta;  // the file's description (load_model), {} for a new model
  TinyVlm vqa{nullptr};
  Clip clip{nullptr};
  std::shared_ptr<torch::nn::Module> module() const;
  torch::Tensor encode_image(const torch::Tensor& images, const VisualTap& tap = {});  // [N, B, E] or [B, embed]
};
Model make_model(const std::string& kind, const TinyVlmOptions& options);

// Model files: a training checkpoint (weights, optimizer, epoch, curves) or the weights-only
// export (fp16). Both carry "meta" = {"kind", "model": options, "data": {image_size, ...}}.
nlohmann::json read_meta(const std::string& path);  // throws InputError on a file that is not a bcfeat model
Model load_model(const std::string& path, torch::Device device);  // float32 on `device`, eval mode
// JSON stored in a model archive as a uint8 tensor (the model description "meta", curves).
void write_json(torch::serialize::OutputArchive& archive, const std::string& key, const nlohmann::json& value);
nlohmann::json read_json(torch::serialize::InputArchive& archive, const std::string& key);  // throws on bad JSON
void save_weights(Model& model, const nlohmann::json& meta, const std::string& path);  // fp16, atomic

// Compresses the visual tokens after the chosen ViT blocks and counts every byte.
class FeatureTap {
 public:
  FeatureTap(std::shared_ptr<Compressor> compressor, std::vector<int> taps) : compressor_(std::move(compressor)), taps_(std::move(taps)) {}
  VisualTap tap();
  // rate_metrics over every tapped value (shared state counted once) + feature_* distortion,
  // encode/decode time and bytes per image.
  nlohmann::json metrics(int64_t images) const;
  const std::vector<int>& taps() const { return taps_; }

 private:
  std::shared_ptr<Compressor> compressor_;
  std::vector<int> taps_;
  int64_t bytes_ = 0, side_ = 0, values_ = 0;
  double squared_error_ = 0, energy_ = 0, encode_ms_ = 0, decode_ms_ = 0;
};

// Visual tokens [B, N, E] (float32, CPU) after block `layer` for every image of `images`.
torch::Tensor tapped_features(Model& model, const torch::Tensor& images, int layer, int batch, torch::Device device);

// 95% paired-bootstrap interval of 100·mean(a − b) over per-query scores a, b.
std::pair<double, double> paired_bootstrap_ci(const torch::Tensor& a, const torch::Tensor& b, int resamples, uint64_t seed);


// Per-query hits (float64 0/1) of image→text and text→image retrieval at 1 and 5 among
// the given scenes; a retrieved item counts when its caption equals the query's (scenes
// with identical captions are indistinguishable by text).
struct RetrievalHits {
  torch::Tensor image_to_text_1, image_to_text_5, text_to_image_1, text_to_image_5;
};
RetrievalHits retrieval_hits(const torch::Tensor& image_embeddings, const torch::Tensor& text_embeddings,
                             const torch::Tensor& captions);

// Embeddings of every image / caption, `batch` at a time, float32 on the CPU.
torch::Tensor embed_images(Clip& model, const torch::Tensor& images, int batch, torch::Device device, const VisualTap& tap = {});
torch::Tensor embed_texts(Clip& model, const torch::Tensor& captions, int batch, torch::Device device);

// The answer the model gives to each question of `data`, `batch` images at a time (on the CPU).
torch::Tensor predict_answers(TinyVlm& model, const VqaTensors& data, int batch, torch::Device device, const VisualTap& tap = {});
// Fraction right per question type present in `types` ([Q], QuestionType), in type order:
// {name, accuracy}; `right` [Q] is 1 for a right answer, 0 otherwise.
std::vector<std::pair<std::string, double>> accuracy_by_type(const torch::Tensor& right, const torch::Tensor& types);

nlohmann::json data_meta(const ShapesVqaOptions& data);
ShapesVqaOptions data_from_meta(const nlohmann::json& meta);  // a model file's "data" (read_meta / load_model)

}  // namespace vlm
}  // namespace bcfeat
