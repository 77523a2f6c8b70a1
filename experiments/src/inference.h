// A model over a whole split, a batch at a time: tapped features, embeddings, answers.
// Private to experiments/src.
#pragma once

#include <functional>

#include <torch/torch.h>

#include "bcfeat/datasets/shapes_vqa.h"
#include "bcfeat/framework/models/model_file.h"

namespace bcfeat {

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

}  // namespace bcfeat
