// A model over a whole split, a batch at a time: tapped features, embeddings, answers.
// Private to experiments/src.
#pragma once

#include <functional>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "bcfeat/datasets/shapes_vqa.h"
#include "bcfeat/framework/compressor.h"
#include "bcfeat/framework/config.h"
#include "bcfeat/framework/models/model_file.h"

namespace bcfeat {

// `taps` (block numbers 1..depth or "last") as block numbers; throws InputError naming a bad one.
std::vector<int> resolve_taps(const std::vector<std::string>& taps, int depth);

// What `taps` may hold: a list of blocks (every tap compressed by the config's `compression`
// block), or a map of block -> compressor, each a map of `compression.` keys over the config's
// block (`{1: {method: lossless}, last: {format: bc1}}`) or one word (`last: bc1`, see
// named_compression). A tap scheme gives the taps of a list their compressors by depth.
struct TapSetting {
  int layer = 0;
  CompressionOptions options;
};
struct TapSettings {
  std::vector<TapSetting> taps;  // by block
  bool one_compressor = true;    // the list form without a scheme: one compressor for every tap
};
// `taps` as ParamSet::add_tree holds it; InputError naming a bad block, key or value.
TapSettings resolve_tap_settings(const ConfigTree& taps, const CompressionOptions& compression, const std::string& scheme,
                                 int depth);
// Named per-layer schemes: early blocks (the first third), middle, late.
const std::vector<std::string>& tap_scheme_names();

// Visual tokens [B, N, E] (float32, CPU) after block `layer` for every image of `images`.
torch::Tensor tapped_features(Model& model, const torch::Tensor& images, int layer, int batch, torch::Device device);

// The visual tokens [N, b, E] of images [start, end) on the model's device: from the image
// encoder, or from a feature cache.
using VisualBatch = std::function<torch::Tensor(int64_t start, int64_t end)>;

// fn(start, end) for each batch of [0, count), without gradients, float32 on the CPU, concatenated.
torch::Tensor over_batches(int64_t count, int batch, const VisualBatch& fn);

// Embeddings of every image / caption, `batch` at a time, float32 on the CPU.
torch::Tensor embed_images(Clip& model, const torch::Tensor& images, int batch, torch::Device device, const VisualTap& tap = {});
torch::Tensor embed_texts(Clip& model, const torch::Tensor& captions, int batch, torch::Device device);

// The answer the model gives to each question of `data`, `batch` images at a time (on the CPU).
torch::Tensor predict_answers(TinyVlm& model, const VqaTensors& data, int batch, torch::Device device, const VisualTap& tap = {});
torch::Tensor predict_answers(TinyVlm& model, const VqaTensors& data, int batch, torch::Device device,
                              const VisualBatch& visual);
// The answer logits [Q, answers] (float32, CPU) behind predict_answers.
torch::Tensor answer_logits(TinyVlm& model, const VqaTensors& data, int batch, torch::Device device,
                            const VisualBatch& visual);

// vqa_accuracy, vqa_accuracy_uncompressed, vqa_accuracy_drop with its 95% paired-bootstrap
// interval over questions (`bootstrap` resamples), accuracy_<type> per question type,
// questions and scenes: from the answers given without and with compression.
nlohmann::json vqa_accuracy_metrics(const VqaTensors& data, const torch::Tensor& reference, const torch::Tensor& compressed,
                                    int bootstrap, uint64_t seed);

// Retrieval among the scenes of `data` with image embeddings uncompressed (`reference`) and
// compressed, against caption embeddings `texts`: recall_{i2t,t2i}_{1,5} (and _uncompressed),
// recall_i2t_1_drop with its 95% paired-bootstrap interval over scenes, cosine_image_text,
// alignment (that cosine relative to uncompressed), embedding_cosine, alignment_accuracy (% of
// images whose nearest caption is unchanged) and scenes.
nlohmann::json clip_retrieval_metrics(const VqaTensors& data, const torch::Tensor& texts, const torch::Tensor& reference,
                                      const torch::Tensor& compressed, int bootstrap, uint64_t seed);

}  // namespace bcfeat
