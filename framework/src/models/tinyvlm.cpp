#include "bcfeat/framework/models/tinyvlm.h"

#include "bcfeat/framework/error.h"

namespace bcfeat {

namespace nn = torch::nn;

TransformerBlockImpl::TransformerBlockImpl(int width, int heads, int mlp_ratio) {
  norm1_ = register_module("norm1", nn::LayerNorm(nn::LayerNormOptions({width})));
  norm2_ = register_module("norm2", nn::LayerNorm(nn::LayerNormOptions({width})));
  attention_ = register_module("attention", nn::MultiheadAttention(nn::MultiheadAttentionOptions(width, heads)));
  fc1_ = register_module("fc1", nn::Linear(width, width * mlp_ratio));
  fc2_ = register_module("fc2", nn::Linear(width * mlp_ratio, width));
}

torch::Tensor TransformerBlockImpl::forward(const torch::Tensor& x, const torch::Tensor& padding_mask) {
  const torch::Tensor h = norm1_(x);
  torch::Tensor attended = std::get<0>(attention_(h, h, h, padding_mask));
  torch::Tensor y = x + attended;
  return y + fc2_(torch::gelu(fc1_(norm2_(y))));
}

TinyVlmImpl::TinyVlmImpl(const TinyVlmOptions& options) : options_(options) {
  if (options.image_size % options.patch != 0) {
    throw_input_error("tinyvlm: image_size {} is not a multiple of patch {}", options.image_size, options.patch);
  }
  if (options.width % options.heads != 0) {
    throw_input_error("tinyvlm: width {} is not a multiple of heads {}", options.width, options.heads);
  }
  const int width = options.width;
  patch_embed_ = register_module(
      "patch_embed", nn::Conv2d(nn::Conv2dOptions(3, width, options.patch).stride(options.patch)));
  image_positions_ = register_parameter("image_positions", torch::randn({options.tokens(), 1, width}) * 0.02);
  word_positions_ = register_parameter("word_positions", torch::randn({options.question_length, 1, width}) * 0.02);
  blocks_ = register_module("blocks", nn::ModuleList());
  for (int k = 0; k < options.depth; ++k) blocks_->push_back(TransformerBlock(width, options.heads, options.mlp_ratio));
  text_blocks_ = register_module("text_blocks", nn::ModuleList());
  for (int k = 0; k < options.text_depth; ++k) {
    text_blocks_->push_back(TransformerBlock(width, options.heads, options.mlp_ratio));
  }
  image_norm_ = register_module("image_norm", nn::LayerNorm(nn::LayerNormOptions({width})));
  text_norm_ = register_module("text_norm", nn::LayerNorm(nn::LayerNormOptions({width})));
  fused_norm_ = register_module("fused_norm", nn::LayerNorm(nn::LayerNormOptions({width})));
  words_ = register_module("words", nn::Embedding(options.vocabulary, width));
  cross_ = register_module("cross", nn::MultiheadAttention(nn::MultiheadAttentionOptions(width, options.heads)));
  head1_ = register_module("head1", nn::Linear(width, 2 * width));
  head2_ = register_module("head2", nn::Linear(2 * width, options.answers));
}

torch::Tensor TinyVlmImpl::encode_image(const torch::Tensor& images, const VisualTap& tap) {
  if (images.dim() != 4 || images.size(1) != 3 || images.size(2) != options_.image_size ||
      images.size(3) != options_.image_size) {
    throw_input_error("tinyvlm: images must be [B, 3, {}, {}]", options_.image_size, options_.image_size);
  }
  // [B, E, h, w] → [N, B, E]
  torch::Tensor x = patch_embed_(images).flatten(2).permute({2, 0, 1}) + image_positions_;
  int layer = 0;
  for (const auto& block : *blocks_) {
    x = block->as<TransformerBlock>()->forward(x);
    ++layer;
    if (tap) x = tap(layer, x);
  }
  return image_norm_(x);
}

torch::Tensor TinyVlmImpl::forward(const torch::Tensor& images, const torch::Tensor& questions, const VisualTap& tap) {
  const torch::Tensor visual = encode_image(images, tap);
  if (questions.dim() != 2 || questions.size(1) != options_.question_length) {
    throw_input_error("tinyvlm: questions must be [B, {}] word ids", options_.question_length);
  }
  const torch::Tensor padding = questions.eq(0);  // [B, L], true = ignore
  torch::Tensor t = words_(questions).permute({1, 0, 2}) + word_positions_;
  for (const auto& block : *text_blocks_) t = block->as<TransformerBlock>()->forward(t, padding);
  t = text_norm_(t);
  t = fused_norm_(t + std::get<0>(cross_(t, visual, visual)));
  const torch::Tensor keep = (~padding).t().unsqueeze(2).to(t.dtype());  // [L, B, 1]
  const torch::Tensor pooled = (t * keep).sum(0) / keep.sum(0).clamp_min(1.0);
  return head2_(torch::gelu(head1_(pooled)));
}

}  // namespace bcfeat
