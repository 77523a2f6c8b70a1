// tinyvlm: the reference VQA model (issue 7) — a ViT image encoder whose visual tokens a
// question attends to.
//
//   image [B, 3, S, S] → patch embedding (P×P, stride P) + learned positions → `depth`
//   pre-norm transformer blocks (multi-head self-attention, GELU MLP) → visual tokens
//   [N, B, E] (N = (S/P)²);
//   question ids [B, L] (0 = padding) → word embedding + positions → `text_depth` blocks
//   (padding masked) → cross-attention of the question tokens on the visual tokens →
//   mean over the question's words → MLP → answer logits.
// A tap callback sees (and may replace) the visual tokens after any ViT block: this is
// where features are compressed and the forward pass continues from the reconstruction.
// Tensors are [sequence, batch, width] inside (LibTorch 1.13 attention layout).
#pragma once

#include <functional>

#include <torch/torch.h>

namespace bcfeat {

struct TinyVlmOptions {
  int image_size = 224;
  int patch = 16;
  int width = 192;
  int depth = 6;
  int heads = 3;
  int mlp_ratio = 4;
  int text_depth = 2;
  int question_length = 16;
  int vocabulary = 64;  // word ids
  int answers = 23;
  int tokens() const { return (image_size / patch) * (image_size / patch); }
};

// Pre-norm transformer block on [S, B, E].
class TransformerBlockImpl : public torch::nn::Module {
 public:
  TransformerBlockImpl(int width, int heads, int mlp_ratio);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& padding_mask = {});

 private:
  torch::nn::LayerNorm norm1_{nullptr}, norm2_{nullptr};
  torch::nn::MultiheadAttention attention_{nullptr};
  torch::nn::Linear fc1_{nullptr}, fc2_{nullptr};
};
TORCH_MODULE(TransformerBlock);

// tap(layer, tokens [N, B, E]) → tokens to continue with; layer 1..depth (after that block).
using VisualTap = std::function<torch::Tensor(int layer, const torch::Tensor& tokens)>;

class TinyVlmImpl : public torch::nn::Module {
 public:
  explicit TinyVlmImpl(const TinyVlmOptions& options);
  // Visual tokens after the last block (and the final norm), [N, B, E].
  torch::Tensor encode_image(const torch::Tensor& images, const VisualTap& tap = {});
  // Answer logits [B, answers].
  torch::Tensor forward(const torch::Tensor& images, const torch::Tensor& questions, const VisualTap& tap = {});
  const TinyVlmOptions& options() const { return options_; }

 private:
  TinyVlmOptions options_;
  torch::nn::Conv2d patch_embed_{nullptr};
  torch::Tensor image_positions_, word_positions_;
  torch::nn::ModuleList blocks_{nullptr}, text_blocks_{nullptr};
  torch::nn::LayerNorm image_norm_{nullptr}, text_norm_{nullptr}, fused_norm_{nullptr};
  torch::nn::Embedding words_{nullptr};
  torch::nn::MultiheadAttention cross_{nullptr};
  torch::nn::Linear head1_{nullptr}, head2_{nullptr};
};
TORCH_MODULE(TinyVlm);

}  // namespace bcfeat
