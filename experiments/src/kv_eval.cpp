// vqa_kv_eval: tinyvlm answering with the visual keys and values of its decoder fusion stored
// compressed (the paper's attention over compressed features): for each batch of test images the
// visual tokens are encoded once, every fusion block's cross-attention keys and values are
// compressed per (image, head) with `kv.codec`, and the questions are answered by attention that
// reads them — the fused kernel on CUDA (kv.backend cuda: software block decode, texture: the
// texture units), attention over the decoded K/V on the CPU. The uncompressed answers come from
// the same model in the same run.
//
// Metrics: vqa_accuracy, vqa_accuracy_uncompressed, vqa_accuracy_drop with its paired-bootstrap
// interval (as vqa_eval), kv_bits_per_value (side information included), kv_bytes_per_image and
// kv_fp16_bytes_per_image (every fusion block's K and V of one image), kv_memory_ratio.
#include <fmt/format.h>

#include "bcfeat/experiments/experiment.h"
#include "bcfeat/framework/device.h"
#include "bcfeat/framework/error.h"
#include "bcfeat/framework/models/compressed_kv.h"
#include "bcfeat/framework/models/model_file.h"
#include "inference.h"

namespace bcfeat {

namespace {

class VqaKvEval : public Experiment {
 public:
  void declare(ParamSet& params) override {
    params.add("model_file", &model_file_, "a tinyvlm model.pt with decoder fusion (fusion: decoder)");
    params.add("kv.codec", &codec_,
               "how the visual K/V are stored: bc4_unorm, bc5_unorm, bc1, bc3, bc7, bc6h_sf16 (per (image, head) "
               "blocks of 4 tokens; keys mapped per channel, values per token), int4 or int8 (KIVI-style groups: keys "
               "per channel over 64 tokens, values per token), int4_gN / int8_gN for groups of N");
    params.add("kv.backend", &backend_,
               "on CUDA: cuda (the fused kernel decodes blocks in software) or texture (it fetches them through the "
               "texture units; block formats)")
        .one_of({"cuda", "texture"});
    params.add("kv.quality", &quality_, "block encoder effort").one_of({"fast", "normal", "high"});
    params.add("eval.split", &split_, "scenes evaluated").one_of({"train", "val", "test"});
    params.add("eval.scenes", &scenes_, "scenes evaluated (indices [0, n) of the split)").range(2, 1000000);
    params.add("eval.questions_per_scene", &per_scene_, "questions asked about each scene").range(1, 64);
    params.add("eval.batch", &batch_, "images per forward pass").range(1, 65536);
    params.add("eval.bootstrap", &bootstrap_, "bootstrap resamples for the drop's interval").range(100, 1000000);
    params.add("eval.device", &device_, "cpu, cuda or auto").one_of({"auto", "cpu", "cuda"});
  }

  void validate() const override {
    if (model_file_.empty()) throw_input_error("vqa_kv_eval: 'model_file' is required (a tinyvlm model.pt)");
    const nlohmann::json meta = read_meta(model_file_);
    if (meta.value("kind", "") != "tinyvlm") throw_input_error("vqa_kv_eval: '{}' is not a tinyvlm model", model_file_);
    const auto& model = meta.at("model");
    if (model.value("fusion", "joint") != "decoder" || model.value("fusion_depth", 0) == 0) {
      throw_input_error("vqa_kv_eval: '{}' has no decoder fusion blocks (fusion: decoder) whose K/V could be stored",
                        model_file_);
    }
    (void)codec();
  }

  nlohmann::json run(uint64_t seed, RunContext& context) override {
    const torch::Device device = pick_device(device_);
    Model model = load_model(model_file_, device);
    const KvCodec codec = this->codec();
    const Backend backend = device.is_cuda() ? (backend_ == "texture" ? Backend::kTexture : Backend::kCuda) : Backend::kCpu;
    if (backend == Backend::kTexture && !codec.format) {
      throw_input_error("kv.backend texture reads block formats; {} is int", codec.name());
    }
    const VqaTensors data = vqa_tensors(shapes_vqa_from_meta(model.meta), split_from_name(split_), 0, scenes_,
                                        per_scene_, model.options.question_length);
    const torch::Tensor reference = predict_answers(model.vqa, data, batch_, device);
    torch::NoGradGuard no_grad;
    torch::Tensor answers = torch::full({data.questions.size(0)}, -1, torch::kLong);
    int64_t kv_bytes = 0, kv_fp16 = 0, kv_values = 0;
    for (int64_t start = 0; start < data.scenes(); start += batch_) {
      const int64_t end = std::min<int64_t>(data.scenes(), start + batch_);
      const torch::Tensor visual = model.vqa->encode_image(data.images.slice(0, start, end).to(device));
      CompressedVisualKv kv(model.vqa, visual, codec, backend);
      kv_bytes += kv.bytes();
      kv_fp16 += kv.fp16_bytes();
      kv_values += kv.values();
      // Round j asks each image its j-th question (an image with fewer asks its last again, unused).
      int64_t most = 0;
      for (int64_t s = start; s < end; ++s) most = std::max(most, data.first_question[s + 1] - data.first_question[s]);
      for (int64_t j = 0; j < most; ++j) {
        std::vector<int64_t> index;
        for (int64_t s = start; s < end; ++s) index.push_back(std::min(data.first_question[s] + j, data.first_question[s + 1] - 1));
        const torch::Tensor ids = torch::tensor(index);
        const torch::Tensor logits = kv.answer(model.vqa, data.questions.index_select(0, ids).to(device));
        const torch::Tensor chosen = logits.argmax(1).to(torch::kCPU);
        for (int64_t s = start; s < end; ++s) {
          if (data.first_question[s] + j < data.first_question[s + 1]) answers[index[s - start]] = chosen[s - start];
        }
      }
    }
    nlohmann::json metrics = vqa_accuracy_metrics(data, reference, answers, bootstrap_, seed ^ 0x4B56ull);
    metrics["kv_codec"] = codec.name();
    metrics["kv_backend"] = backend_name(backend);
    metrics["kv_bits_per_value"] = 8.0 * static_cast<double>(kv_bytes) / static_cast<double>(kv_values);
    metrics["kv_bytes_per_image"] = static_cast<double>(kv_bytes) / static_cast<double>(data.scenes());
    metrics["kv_fp16_bytes_per_image"] = static_cast<double>(kv_fp16) / static_cast<double>(data.scenes());
    metrics["kv_memory_ratio"] = static_cast<double>(kv_fp16) / static_cast<double>(kv_bytes);
    context.log << fmt::format("{} K/V ({}): accuracy {:.2f}% (uncompressed {:.2f}%), {:.3f} bits/value, {:.2f}x less memory\n",
                               codec.name(), backend_name(backend), metrics["vqa_accuracy"].get<double>(),
                               metrics["vqa_accuracy_uncompressed"].get<double>(),
                               metrics["kv_bits_per_value"].get<double>(), metrics["kv_memory_ratio"].get<double>());
    return metrics;
  }

 private:
  KvCodec codec() const {
    KvCodec codec;
    try {
      codec = parse_kv_codec(codec_);
    } catch (const std::invalid_argument& e) {
      throw_input_error("kv.codec: {}", e.what());
    }
    codec.quality = quality_ == "fast" ? Quality::kFast : quality_ == "high" ? Quality::kHigh : Quality::kNormal;
    return codec;
  }

  std::string model_file_, codec_ = "bc4_unorm", backend_ = "cuda", quality_ = "normal", split_ = "test", device_ = "auto";
  int scenes_ = 300, per_scene_ = 8, batch_ = 64, bootstrap_ = 1000;
};

}  // namespace

ExperimentEntry vqa_kv_eval_entry() {
  return {"vqa_kv_eval",
          "VQA accuracy of tinyvlm with the visual keys and values of its decoder fusion stored compressed (fused "
          "attention on CUDA)",
          [] { return std::make_unique<VqaKvEval>(); }};
}

}  // namespace bcfeat
