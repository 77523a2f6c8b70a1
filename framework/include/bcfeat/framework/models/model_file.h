// The reference models behind one handle, and their files: a training checkpoint (weights,
// optimizer, epoch, curves) or the weights-only export (fp16). Both carry "meta" = {"kind",
// "model": options, "data": the dataset options the model was trained on}.
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "bcfeat/framework/models/tinyvlm.h"

namespace bcfeat {

// Either model (tinyvlm or clip), behind one handle.
struct Model {
  std::string kind;  // tinyvlm | clip
  TinyVlmOptions options;
  nlohmann::json meta;  // the file's description (load_model), {} for a new model
  TinyVlm vqa{nullptr};
  Clip clip{nullptr};
  std::shared_ptr<torch::nn::Module> module() const;
  torch::Tensor encode_image(const torch::Tensor& images, const VisualTap& tap = {});  // [N, B, E] or [B, embed]
  // The same from visual tokens [N, B, E] after block `layer`.
  torch::Tensor encode_from(int layer, const torch::Tensor& tokens, const VisualTap& tap = {});
  // The visual tokens after block `layer`, [N, B, E].
  torch::Tensor encode_to(const torch::Tensor& images, int layer);
};
Model make_model(const std::string& kind, const TinyVlmOptions& options);

nlohmann::json read_meta(const std::string& path);  // throws InputError on a file that is not a bcfeat model
Model load_model(const std::string& path, torch::Device device);  // float32 on `device`, eval mode
// JSON stored in a model archive as a uint8 tensor (the model description "meta", curves).
void write_json(torch::serialize::OutputArchive& archive, const std::string& key, const nlohmann::json& value);
nlohmann::json read_json(torch::serialize::InputArchive& archive, const std::string& key);  // throws on bad JSON
void save_weights(Model& model, const nlohmann::json& meta, const std::string& path);  // fp16, atomic

}  // namespace bcfeat
