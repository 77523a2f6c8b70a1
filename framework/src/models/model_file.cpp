#include "bcfeat/framework/models/model_file.h"

#include <filesystem>

#include "bcfeat/framework/error.h"

namespace bcfeat {

namespace fs = std::filesystem;

std::shared_ptr<torch::nn::Module> Model::module() const {
  if (vqa) return vqa.ptr();
  return clip.ptr();
}

torch::Tensor Model::encode_image(const torch::Tensor& images, const VisualTap& tap) {
  return vqa ? vqa->encode_image(images, tap) : clip->encode_image(images, tap);
}

torch::Tensor Model::encode_to(const torch::Tensor& images, int layer) {
  return vqa ? vqa->encode_to(images, layer) : clip->encode_to(images, layer);
}

torch::Tensor Model::encode_from(int layer, const torch::Tensor& tokens, const VisualTap& tap) {
  return vqa ? vqa->encode_from(layer, tokens, tap) : clip->encode_from(layer, tokens, tap);
}

Model make_model(const std::string& kind, const TinyVlmOptions& options) {
  Model model;
  model.kind = kind;
  model.options = options;
  if (kind == "clip") {
    model.clip = Clip(options);
  } else {
    model.vqa = TinyVlm(options);
  }
  return model;
}

namespace {

// Opens a model file and returns its description (InputError when it is not a bcfeat model).
nlohmann::json open_model_file(const std::string& path, torch::serialize::InputArchive& archive) {
  if (!fs::exists(path)) throw_input_error("model file '{}' does not exist", path);
  try {
    archive.load_from(path, torch::kCPU);
    return read_json(archive, "meta");
  } catch (const c10::Error&) {
    throw_input_error("'{}' is not a bcfeat model file (a train run's checkpoint.pt or model.pt)", path);
  } catch (const nlohmann::json::exception&) {
    throw_input_error("'{}': its model description is corrupt", path);
  }
}

}  // namespace

nlohmann::json read_meta(const std::string& path) {
  torch::serialize::InputArchive archive;
  return open_model_file(path, archive);
}

Model load_model(const std::string& path, torch::Device device) {
  torch::serialize::InputArchive archive;
  const nlohmann::json meta = open_model_file(path, archive);
  Model model = make_model(meta.value("kind", "tinyvlm"), options_from_json(meta.at("model")));
  model.meta = meta;
  // Module::load adopts the stored tensors: the module must already have their dtype.
  if (meta.value("weights", "float32") == "float16") model.module()->to(torch::kFloat16);
  try {
    model.module()->load(archive);
  } catch (const c10::Error& error) {
    throw_input_error("'{}': weights do not fit its {} model ({})", path, model.kind,
                      std::string(error.what_without_backtrace()).substr(0, 200));
  }
  model.module()->to(device, torch::kFloat32);
  model.module()->eval();
  return model;
}

namespace {

// Module::save's layout (one nested archive per child module), every tensor stored as fp16.
void save_half(const torch::nn::Module& module, torch::serialize::OutputArchive& archive) {
  for (const auto& p : module.named_parameters(/*recurse=*/false)) {
    archive.write(p.key(), p.value().detach().to(torch::kCPU, torch::kFloat16));
  }
  for (const auto& b : module.named_buffers(/*recurse=*/false)) {
    archive.write(b.key(), b.value().to(torch::kCPU, torch::kFloat16), /*is_buffer=*/true);
  }
  for (const auto& child : module.named_children()) {
    torch::serialize::OutputArchive nested;
    save_half(*child.value(), nested);
    archive.write(child.key(), nested);
  }
}

}  // namespace

void write_json(torch::serialize::OutputArchive& archive, const std::string& key, const nlohmann::json& value) {
  const std::string text = value.dump();
  archive.write(key, torch::from_blob(const_cast<char*>(text.data()), {static_cast<int64_t>(text.size())},
                                      torch::kUInt8).clone());
}

nlohmann::json read_json(torch::serialize::InputArchive& archive, const std::string& key) {
  torch::Tensor bytes;
  archive.read(key, bytes);
  bytes = bytes.to(torch::kCPU).contiguous();  // an archive loaded onto a GPU holds it there
  return nlohmann::json::parse(std::string(static_cast<const char*>(bytes.data_ptr()), bytes.numel()));
}

void save_weights(Model& model, const nlohmann::json& meta, const std::string& path) {
  torch::serialize::OutputArchive archive;
  save_half(*model.module(), archive);
  nlohmann::json described = meta;
  described["weights"] = "float16";
  write_json(archive, "meta", described);
  const std::string temporary = path + ".tmp";
  archive.save_to(temporary);
  fs::rename(temporary, path);
}

}  // namespace bcfeat
