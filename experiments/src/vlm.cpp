#include "vlm.h"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

#include <filesystem>
#include <map>

#include "bcfeat/datasets/features.h"
#include "bcfeat/framework/error.h"
#include "bcfeat/framework/metrics.h"

namespace bcfeat {
namespace vlm {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

void ModelParams::declare(ParamSet& params) {
  params.add("model.kind", &kind, "tinyvlm (VQA) or clip (contrastive image-caption dual encoder)")
      .one_of({"tinyvlm", "clip"});
  params.add("model.patch", &options.patch, "patch side in pixels (data.image_size must be a multiple)").range(2, 64);
  params.add("model.width", &options.width, "token width").range(8, 4096);
  params.add("model.depth", &options.depth, "ViT blocks").range(1, 64);
  params.add("model.heads", &options.heads, "attention heads (divide width)").range(1, 64);
  params.add("model.mlp_ratio", &options.mlp_ratio, "MLP width / token width").range(1, 16);
  params.add("model.text_depth", &options.text_depth, "question / caption encoder blocks").range(0, 16);
  params.add("model.fusion_depth", &options.fusion_depth, "tinyvlm: fusion blocks (0 = one cross-attention)")
      .range(0, 16);
  params.add("model.fusion", &options.fusion,
             "tinyvlm fusion blocks: joint (self-attention over visual and question tokens) or decoder (question "
             "tokens: self-attention, cross-attention on the visual tokens, MLP)")
      .one_of({"joint", "decoder"});
  params.add("model.fusion_positions", &options.fusion_positions,
             "tinyvlm fusion: positions added to the visual tokens again as they enter the fusion blocks: none, "
             "learned (trained parameters) or sincos (fixed 2D sine-cosine coordinates)")
      .one_of({"none", "learned", "sincos"});
  params.add("model.relation", &options.relation,
             "tinyvlm: none, or pointers (two attentions over the visual tokens, each driven by its own pooling of "
             "the fused question tokens; their expected token coordinates and the difference feed the answer head)")
      .one_of({"none", "pointers"});
  params.add("model.embed", &options.embed, "clip: embedding dimension").range(8, 4096);
}

TinyVlmOptions ModelParams::resolved(const ShapesVqaOptions& data) const {
  TinyVlmOptions out = options;
  out.image_size = data.image_size;
  out.vocabulary = static_cast<int>(vqa_words().size());
  out.answers = static_cast<int>(vqa_answers().size());
  if (kind == "clip") out.question_length = kCaptionLength;
  return out;
}

void ModelParams::check(const ShapesVqaOptions& data) const {
  if (data.image_size % options.patch != 0) {
    throw_input_error("data.image_size {} is not a multiple of model.patch {}", data.image_size, options.patch);
  }
  if (options.width % options.heads != 0) {
    throw_input_error("model.width {} is not a multiple of model.heads {}", options.width, options.heads);
  }
}

torch::Device pick_device(const std::string& name) {
  if (name == "cuda" || (name == "auto" && torch::cuda::is_available())) {
    if (!torch::cuda::is_available()) throw_input_error("device cuda: this LibTorch has no usable CUDA device");
    return torch::Device(torch::kCUDA);
  }
  return torch::Device(torch::kCPU);
}

// LibTorch 2.4 replaced the CUDA-only autocast switches by per-device ones.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define BCFEAT_AUTOCAST_PER_DEVICE 1
#endif

Autocast::Autocast(bool on) : on_(on) {
  if (!on_) return;
#ifdef BCFEAT_AUTOCAST_PER_DEVICE
  at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
  at::autocast::set_autocast_enabled(at::kCUDA, true);
#else
  at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
  at::autocast::set_enabled(true);
#endif
}

Autocast::~Autocast() {
  if (!on_) return;
#ifdef BCFEAT_AUTOCAST_PER_DEVICE
  at::autocast::set_autocast_enabled(at::kCUDA, false);
#else
  at::autocast::set_enabled(false);
#endif
  at::autocast::clear_cache();
}

std::shared_ptr<torch::nn::Module> Model::module() const {
  if (vqa) return vqa.ptr();
  return clip.ptr();
}

torch::Tensor Model::encode_image(const torch::Tensor& images, const VisualTap& tap) {
  return vqa ? vqa->encode_image(images, tap) : clip->encode_image(images, tap);
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

VisualTap FeatureTap::tap() {
  return [this](int layer, const torch::Tensor& tokens) {
    if (std::find(taps_.begin(), taps_.end(), layer) == taps_.end()) return tokens;
    const torch::Tensor features = tokens.permute({1, 0, 2}).to(torch::kCPU, torch::kFloat32).contiguous();  // [B, N, E]
    const auto t0 = Clock::now();
    const Compressed compressed = compressor_->compress(features);
    const auto t1 = Clock::now();
    const torch::Tensor restored = compressor_->decompress(compressed);
    encode_ms_ += std::chrono::duration<double, std::milli>(t1 - t0).count();
    decode_ms_ += std::chrono::duration<double, std::milli>(Clock::now() - t1).count();
    bytes_ += static_cast<int64_t>(compressed.bytes.size());
    side_ += compressed.side_bytes;
    values_ += features.numel();
    squared_error_ += (restored - features).pow(2).sum().item<double>();
    energy_ += features.pow(2).sum().item<double>();
    return restored.permute({1, 0, 2}).to(tokens.device(), tokens.dtype());
  };
}

nlohmann::json FeatureTap::metrics(int64_t images) const {
  const int64_t shared = compressor_->shared_bytes();
  nlohmann::json metrics = rate_metrics(bytes_ + shared, side_ + shared, std::max<int64_t>(values_, 1));
  metrics["shared_bytes"] = shared;
  // Memory of the tapped features per image: what is stored, and what fp16 would take.
  metrics["feature_bytes_per_image"] = static_cast<double>(bytes_) / static_cast<double>(images);
  metrics["feature_fp16_bytes_per_image"] = 2.0 * static_cast<double>(values_) / static_cast<double>(images);
  metrics["feature_rel_l2"] = energy_ > 0 ? std::sqrt(squared_error_ / energy_) : 0.0;
  metrics["feature_mse"] = values_ > 0 ? squared_error_ / static_cast<double>(values_) : 0.0;
  metrics["encode_ms"] = encode_ms_;
  metrics["decode_ms"] = decode_ms_;
  return metrics;
}

torch::Tensor tapped_features(Model& model, const torch::Tensor& images, int layer, int batch, torch::Device device) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> parts;
  for (int64_t start = 0; start < images.size(0); start += batch) {
    const int64_t end = std::min<int64_t>(images.size(0), start + batch);
    model.encode_image(images.slice(0, start, end).to(device), [&](int l, const torch::Tensor& tokens) {
      if (l == layer) parts.push_back(tokens.permute({1, 0, 2}).to(torch::kCPU, torch::kFloat32).contiguous());
      return tokens;
    });
  }
  return torch::cat(parts);
}

std::pair<double, double> paired_bootstrap_ci(const torch::Tensor& a, const torch::Tensor& b, int resamples, uint64_t seed) {
  const torch::Tensor da = a.to(torch::kDouble).contiguous(), db = b.to(torch::kDouble).contiguous();
  const double* pa = da.data_ptr<double>();
  const double* pb = db.data_ptr<double>();
  const int64_t n = da.numel();
  SeededRandom random(seed);
  std::vector<double> drops;
  for (int r = 0; r < resamples; ++r) {
    double sum = 0;
    for (int64_t k = 0; k < n; ++k) {
      const int64_t i = static_cast<int64_t>(random.next() % static_cast<uint64_t>(n));
      sum += pa[i] - pb[i];
    }
    drops.push_back(100.0 * sum / static_cast<double>(n));
  }
  std::sort(drops.begin(), drops.end());
  auto quantile = [&](double q) { return drops[static_cast<size_t>(std::llround(q * (drops.size() - 1)))]; };
  return {quantile(0.025), quantile(0.975)};
}

}  // namespace vlm
}  // namespace bcfeat

namespace bcfeat {
namespace vlm {

RetrievalHits retrieval_hits(const torch::Tensor& image_embeddings, const torch::Tensor& text_embeddings,
                             const torch::Tensor& captions) {
  // Caption ids: equal captions share an id.
  std::map<std::vector<int64_t>, int64_t> ids;
  const torch::Tensor c = captions.to(torch::kCPU, torch::kLong).contiguous();
  std::vector<int64_t> id(c.size(0));
  for (int64_t s = 0; s < c.size(0); ++s) {
    const int64_t* row = c[s].data_ptr<int64_t>();
    id[s] = ids.emplace(std::vector<int64_t>(row, row + c.size(1)), static_cast<int64_t>(ids.size())).first->second;
  }
  const torch::Tensor caption_id = torch::tensor(id, torch::kLong);
  const torch::Tensor similarity = image_embeddings.to(torch::kCPU, torch::kDouble).matmul(text_embeddings.to(torch::kCPU, torch::kDouble).t());
  const int64_t k = std::min<int64_t>(5, similarity.size(0));
  auto hits = [&](const torch::Tensor& scores) {  // rows are queries
    const torch::Tensor top = std::get<1>(scores.topk(k, 1));  // [S, k]
    const torch::Tensor same = caption_id.index_select(0, top.flatten()).reshape(top.sizes()).eq(caption_id.unsqueeze(1));
    return std::make_pair(same.select(1, 0).to(torch::kDouble), same.any(1).to(torch::kDouble));
  };
  const auto i2t = hits(similarity), t2i = hits(similarity.t());
  return {i2t.first, i2t.second, t2i.first, t2i.second};
}

namespace {

template <class Encode>
torch::Tensor batched(const torch::Tensor& inputs, int batch, torch::Device device, Encode encode) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> parts;
  for (int64_t start = 0; start < inputs.size(0); start += batch) {
    const int64_t end = std::min<int64_t>(inputs.size(0), start + batch);
    parts.push_back(encode(inputs.slice(0, start, end).to(device)).to(torch::kCPU, torch::kFloat32));
  }
  return torch::cat(parts);
}

}  // namespace

torch::Tensor embed_images(Clip& model, const torch::Tensor& images, int batch, torch::Device device, const VisualTap& tap) {
  return batched(images, batch, device, [&](const torch::Tensor& x) { return model->encode_image(x, tap); });
}

torch::Tensor embed_texts(Clip& model, const torch::Tensor& captions, int batch, torch::Device device) {
  return batched(captions, batch, device, [&](const torch::Tensor& x) { return model->encode_text(x); });
}

torch::Tensor predict_answers(TinyVlm& model, const VqaTensors& data, int batch, torch::Device device, const VisualTap& tap) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> parts;
  for (int64_t start = 0; start < data.scenes(); start += batch) {
    const int64_t end = std::min<int64_t>(data.scenes(), start + batch);
    std::vector<int64_t> scenes;
    for (int64_t s = start; s < end; ++s) scenes.push_back(s);
    const auto [questions, image_of] = data.questions_of(scenes);
    const torch::Tensor logits = model->forward(data.images.slice(0, start, end).to(device),
                                                data.questions.index_select(0, questions).to(device), tap,
                                                image_of.to(device));
    parts.push_back(logits.argmax(1).cpu());
  }
  return torch::cat(parts);
}

std::vector<std::pair<std::string, double>> accuracy_by_type(const torch::Tensor& right, const torch::Tensor& types) {
  std::vector<std::pair<std::string, double>> out;
  for (int t = 0; t < kQuestionTypes; ++t) {
    const torch::Tensor mask = types.eq(t);
    if (!mask.any().item<bool>()) continue;
    out.emplace_back(question_type_name(static_cast<QuestionType>(t)),
                     right.masked_select(mask).to(torch::kDouble).mean().item<double>());
  }
  return out;
}

nlohmann::json data_meta(const ShapesVqaOptions& data) {
  return {{"image_size", data.image_size}, {"min_objects", data.min_objects}, {"max_objects", data.max_objects},
          {"overlap", data.overlap},       {"noise", data.noise},             {"seed", data.seed},
          {"question_types", data.question_types}};
}

ShapesVqaOptions data_from_meta(const nlohmann::json& meta) {
  const nlohmann::json& data = meta.at("data");
  ShapesVqaOptions out;
  out.image_size = data.at("image_size");
  out.min_objects = data.at("min_objects");
  out.max_objects = data.at("max_objects");
  out.overlap = data.at("overlap");
  out.noise = data.at("noise");
  out.seed = data.at("seed");
  // Files from before the option hold no list: every type.
  if (data.contains("question_types")) out.question_types = data.at("question_types").get<std::vector<std::string>>();
  return out;
}

}  // namespace vlm
}  // namespace bcfeat
