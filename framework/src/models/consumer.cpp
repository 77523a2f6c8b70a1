#include "bcfeat/framework/models/consumer.h"

#include "bcfeat/framework/error.h"

namespace bcfeat {

VisualConsumerImpl::VisualConsumerImpl(const ConsumerOptions& options) : options_(options) {
  if (options.width % options.heads != 0) {
    throw_input_error("consumer: width {} is not a multiple of heads {}", options.width, options.heads);
  }
  projector_ = register_module("projector", torch::nn::Linear(options.dim, options.width));
  queries_ = register_parameter("queries", torch::randn({options.queries, 1, options.width}) * 0.02);
  blocks_ = register_module("blocks", torch::nn::ModuleList());
  for (int k = 0; k < options.depth; ++k) blocks_->push_back(DecoderBlock(options.width, options.heads, options.mlp_ratio));
  norm_ = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({options.width})));
}

torch::Tensor VisualConsumerImpl::forward(const torch::Tensor& visual) {
  if (visual.dim() != 3 || visual.size(2) != options_.dim) {
    throw_input_error("consumer: visual tokens must be [B, N, {}], got {}", options_.dim, visual.sizes());
  }
  const torch::Tensor context = projector_(visual).permute({1, 0, 2});  // [N, B, width]
  torch::Tensor text = queries_.expand({options_.queries, visual.size(0), options_.width});
  for (const auto& block : *blocks_) text = block->as<DecoderBlock>()->forward(text, context);
  return norm_(text);
}

}  // namespace bcfeat
