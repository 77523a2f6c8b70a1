// A consumer of visual tokens at the scale of a large VLM, for latency measurements: a
// projector from the feature width to the language model's (as LLaVA's), then `depth` pre-norm
// decoder blocks in which `queries` text tokens attend to themselves (self-attention) and to
// the projected visual tokens (cross-attention), then an MLP. Weights are random (seeded):
// only the cost of consuming the features matters, and it does not depend on them.
#pragma once

#include <torch/torch.h>

#include "bcfeat/framework/models/tinyvlm.h"

namespace bcfeat {

struct ConsumerOptions {
  int dim = 1024;    // feature channels D
  int width = 4096;  // the consumer's width (the projector maps D to it)
  int depth = 2;     // decoder blocks
  int heads = 32;
  int queries = 32;  // text tokens per image
  int mlp_ratio = 4;
};

class VisualConsumerImpl : public torch::nn::Module {
 public:
  explicit VisualConsumerImpl(const ConsumerOptions& options);
  // visual [B, N, D] (any float dtype the module has been cast to) → text tokens [Q, B, width].
  torch::Tensor forward(const torch::Tensor& visual);
  const ConsumerOptions& options() const { return options_; }

 private:
  ConsumerOptions options_;
  torch::nn::Linear projector_{nullptr};
  torch::Tensor queries_;  // [Q, 1, width]
  torch::nn::ModuleList blocks_{nullptr};
  torch::nn::LayerNorm norm_{nullptr};
};
TORCH_MODULE(VisualConsumer);

}  // namespace bcfeat
