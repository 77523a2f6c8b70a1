#include "inference.h"

#include <vector>

namespace bcfeat {

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

}  // namespace bcfeat
