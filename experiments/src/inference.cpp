#include "inference.h"

#include <vector>

#include "bcfeat/framework/error.h"
#include "bcfeat/framework/metrics.h"

namespace bcfeat {

std::vector<int> resolve_taps(const std::vector<std::string>& taps, int depth) {
  if (taps.empty()) throw_input_error("taps: at least one block");
  std::vector<int> out;
  for (const auto& tap : taps) {
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

torch::Tensor over_batches(int64_t count, int batch, const VisualBatch& fn) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> parts;
  for (int64_t start = 0; start < count; start += batch) {
    parts.push_back(fn(start, std::min<int64_t>(count, start + batch)).to(torch::kCPU, torch::kFloat32));
  }
  return torch::cat(parts);
}

torch::Tensor embed_images(Clip& model, const torch::Tensor& images, int batch, torch::Device device, const VisualTap& tap) {
  return over_batches(images.size(0), batch, [&](int64_t start, int64_t end) {
    return model->encode_image(images.slice(0, start, end).to(device), tap);
  });
}

torch::Tensor embed_texts(Clip& model, const torch::Tensor& captions, int batch, torch::Device device) {
  return over_batches(captions.size(0), batch, [&](int64_t start, int64_t end) {
    return model->encode_text(captions.slice(0, start, end).to(device));
  });
}

torch::Tensor predict_answers(TinyVlm& model, const VqaTensors& data, int batch, torch::Device device, const VisualTap& tap) {
  return predict_answers(model, data, batch, device, [&](int64_t start, int64_t end) {
    return model->encode_image(data.images.slice(0, start, end).to(device), tap);
  });
}

torch::Tensor predict_answers(TinyVlm& model, const VqaTensors& data, int batch, torch::Device device,
                              const VisualBatch& visual) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> parts;
  for (int64_t start = 0; start < data.scenes(); start += batch) {
    const int64_t end = std::min<int64_t>(data.scenes(), start + batch);
    std::vector<int64_t> scenes;
    for (int64_t s = start; s < end; ++s) scenes.push_back(s);
    const auto [questions, image_of] = data.questions_of(scenes);
    const torch::Tensor logits =
        model->ask(visual(start, end), data.questions.index_select(0, questions).to(device), image_of.to(device));
    parts.push_back(logits.argmax(1).cpu());
  }
  return torch::cat(parts);
}

nlohmann::json vqa_accuracy_metrics(const VqaTensors& data, const torch::Tensor& reference, const torch::Tensor& compressed,
                                    int bootstrap, uint64_t seed) {
  const torch::Tensor right_reference = reference.eq(data.answers).to(torch::kDouble);
  const torch::Tensor right = compressed.eq(data.answers).to(torch::kDouble);
  nlohmann::json metrics;
  metrics["vqa_accuracy"] = 100.0 * right.mean().item<double>();
  metrics["vqa_accuracy_uncompressed"] = 100.0 * right_reference.mean().item<double>();
  metrics["vqa_accuracy_drop"] = metrics["vqa_accuracy_uncompressed"].get<double>() - metrics["vqa_accuracy"].get<double>();
  const auto ci = paired_bootstrap_ci(right_reference, right, bootstrap, seed);
  metrics["vqa_accuracy_drop_ci95"] = {ci.first, ci.second};
  metrics["questions"] = data.answers.size(0);
  metrics["scenes"] = data.scenes();
  for (const auto& [type, accuracy] : grouped_accuracy(right, data.types, question_type_names())) {  // accuracy_count, ...
    metrics["accuracy_" + type] = 100.0 * accuracy;
  }
  return metrics;
}

}  // namespace bcfeat
