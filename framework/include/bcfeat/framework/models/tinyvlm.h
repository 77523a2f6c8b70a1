// The reference vision-language models, trained from scratch on shapes_vqa.
//
// Shared parts:
//   VisionTransformer  image [B, 3, S, S] → patch embedding (P×P, stride P) + learned
//                      positions → `depth` pre-norm transformer blocks → final norm →
//                      visual tokens [N, B, E] (N = (S/P)²). A tap callback sees (and may
//                      replace) the tokens after any block: this is where features are
//                      compressed and the forward pass continues from the reconstruction.
//   TextEncoder        word ids [B, L] (0 = padding) → embedding + positions → blocks with
//                      the padding masked → norm → [L, B, E].
// Models:
//   tinyvlm  VQA: ViT + question encoder, fused by one of
//              - one cross-attention of the question on the visual tokens (fusion_depth 0);
//              - fusion "joint": `fusion_depth` transformer blocks over [visual tokens;
//                question tokens] (each with a modality embedding);
//              - fusion "decoder": `fusion_depth` decoder blocks on the question tokens
//                (self-attention among them, cross-attention on the visual tokens, MLP); the
//                visual tokens are not updated, so a block costs ~L·N instead of (N + L)².
//            the question tokens' mean → MLP → answer logits.
//   clip     dual encoder: the same ViT and a caption encoder, pooled (image: attention of a
//            learned query over the visual tokens; caption: mean over its words) and
//            projected to `embed` dimensions (unit length), trained with the symmetric
//            contrastive loss at a learned temperature.
// Tensors are [sequence, batch, width] inside (LibTorch 1.13 attention layout).
#pragma once

#include <functional>
#include <string>

#include <nlohmann/json.hpp>
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
  int fusion_depth = 0;  // tinyvlm: 0 = one cross-attention; > 0 = fusion blocks
  std::string fusion = "joint";   // tinyvlm, fusion_depth > 0: "joint" or "decoder" blocks
  // tinyvlm fusion: positions added to the visual tokens again as they enter the fusion —
  // "none", "learned" (a parameter) or "sincos" (fixed 2D sine-cosine coordinates, not trained).
  std::string fusion_positions = "none";
  // tinyvlm relation step: "none", or "pointers": two attentions over the visual tokens, each
  // driven by its own pooling of the fused question tokens, point at two places; their
  // expected token-centre coordinates (x, y in [-1, 1]) and the difference of the two are
  // added, through a linear map, to the vector the answer head reads. An explicit "where" for
  // two-object relation questions.
  std::string relation = "none";
  int embed = 128;       // clip: embedding dimension
  int question_length = 16;  // tinyvlm: question word ids; clip: caption word ids
  int vocabulary = 64;       // word ids
  int answers = 23;
  int tokens() const { return (image_size / patch) * (image_size / patch); }
  void check() const;  // throws InputError on inconsistent sizes
};
nlohmann::json to_json(const TinyVlmOptions& options);
TinyVlmOptions options_from_json(const nlohmann::json& json);  // throws InputError on a missing key
// Fixed 2D sine-cosine coordinates of a grid×grid token layout, [grid², 1, width] (row-major
// tokens): a quarter of the channels each for sin/cos of x and of y at width/4 frequencies,
// geometric from π/(2·grid) (monotone over the grid: a near-linear coordinate) to π/2 per
// token. Every value is in [-1, 1]; width must be a multiple of 4.
torch::Tensor sincos_positions(int grid, int width);
// Token-centre coordinates of a grid×grid token layout, [grid², 2] (row-major tokens): x
// (column) and y (row) of each centre, mapped to [-1, 1] ((2·(i + 0.5) / grid) − 1).
torch::Tensor token_centres(int grid);

// Multi-head attention of `query` [Lq, B, E] on `context` [Lk, B, E]; `padding` [B, Lk]
// (true = ignore that key). Scaled dot-product attention in the input dtype (fused kernels
// on LibTorch >= 2, so bf16 autocast works), softmax over the unmasked keys.
class AttentionImpl : public torch::nn::Module {
 public:
  AttentionImpl(int width, int heads);
  torch::Tensor forward(const torch::Tensor& query, const torch::Tensor& context, const torch::Tensor& padding = {});
  // The attention probabilities of the same call, [B, heads, Lq, Lk] (float32; for scoring
  // tokens, not used by forward, which keeps the fused kernel).
  torch::Tensor weights(const torch::Tensor& query, const torch::Tensor& context, const torch::Tensor& padding = {});
  // Keys and values of `context` [Lk, B, E], each [B, heads, Lk, E / heads].
  std::pair<torch::Tensor, torch::Tensor> keys_values(const torch::Tensor& context);
  // forward with the attention itself given: attend(q [B, heads, Lq, E / heads]) returns the
  // attended values in the same shape (e.g. from keys and values stored compressed).
  using Attend = std::function<torch::Tensor(const torch::Tensor& q)>;
  torch::Tensor forward_attend(const torch::Tensor& query, const Attend& attend);

 private:
  int heads_;
  torch::nn::Linear q_{nullptr}, kv_{nullptr}, out_{nullptr};
};
TORCH_MODULE(Attention);

// Pre-norm transformer block on [S, B, E].
class TransformerBlockImpl : public torch::nn::Module {
 public:
  TransformerBlockImpl(int width, int heads, int mlp_ratio);
  // `weights` (optional): receives the self-attention probabilities [B, heads, S, S].
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& padding_mask = {}, torch::Tensor* weights = nullptr);

 private:
  torch::nn::LayerNorm norm1_{nullptr}, norm2_{nullptr};
  Attention attention_{nullptr};
  torch::nn::Linear fc1_{nullptr}, fc2_{nullptr};
};
TORCH_MODULE(TransformerBlock);

// Pre-norm decoder block: tokens [L, B, E] attend to themselves (`padding` [B, L]), then to
// `context` [N, B, E], then an MLP.
class DecoderBlockImpl : public torch::nn::Module {
 public:
  DecoderBlockImpl(int width, int heads, int mlp_ratio);
  // `context_padding` [B, N]: context tokens to ignore; `cross_weights` (optional) receives the
  // cross-attention probabilities [B, heads, L, N].
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& context, const torch::Tensor& padding = {},
                        const torch::Tensor& context_padding = {}, torch::Tensor* cross_weights = nullptr);
  // The same with the cross-attention given (AttentionImpl::forward_attend).
  torch::Tensor forward_attend(const torch::Tensor& x, const torch::Tensor& padding, const AttentionImpl::Attend& cross);
  Attention& cross() { return cross_; }

 private:
  torch::nn::LayerNorm norm1_{nullptr}, norm2_{nullptr}, norm3_{nullptr};
  Attention self_{nullptr}, cross_{nullptr};
  torch::nn::Linear fc1_{nullptr}, fc2_{nullptr};
};
TORCH_MODULE(DecoderBlock);

// tap(layer, tokens [N, B, E]) → tokens to continue with; layer 1..depth (after that block).
using VisualTap = std::function<torch::Tensor(int layer, const torch::Tensor& tokens)>;

class VisionTransformerImpl : public torch::nn::Module {
 public:
  explicit VisionTransformerImpl(const TinyVlmOptions& options);
  torch::Tensor forward(const torch::Tensor& images, const VisualTap& tap = {});  // [N, B, E]
  // Continues from the tokens [N, B, E] after block `layer` (0: the patch embedding): the
  // blocks after it, then the final norm.
  torch::Tensor forward_from(int layer, torch::Tensor tokens, const VisualTap& tap = {});
  // The tokens after block `layer` (1..depth), [N, B, E]: the encoder up to a tap.
  torch::Tensor forward_to(const torch::Tensor& images, int layer);
  // Token dropping: a tap that prunes tokens calls drop_tokens(dropped [B, N], true = gone)
  // during a forward pass; the blocks after it and the model's consumers of the visual tokens
  // (fusion, pooling) then mask those tokens out of every attention. Each forward pass starts
  // with nothing dropped.
  void drop_tokens(const torch::Tensor& dropped) { dropped_ = dropped; }
  const torch::Tensor& dropped() const { return dropped_; }
  // Attention each token of `tokens` [N, B, E] (after block `layer`) receives in the next
  // block (the last block itself after the last one), mean over heads and queries: [B, N].
  torch::Tensor attention_received(int layer, const torch::Tensor& tokens);

 private:
  torch::Tensor embed(const torch::Tensor& images);  // patch embedding + positions, [N, B, E]
  TinyVlmOptions options_;
  torch::nn::Conv2d patch_embed_{nullptr};
  torch::Tensor positions_;
  torch::nn::ModuleList blocks_{nullptr};
  torch::nn::LayerNorm norm_{nullptr};
  torch::Tensor dropped_;
};
TORCH_MODULE(VisionTransformer);

class TextEncoderImpl : public torch::nn::Module {
 public:
  TextEncoderImpl(const TinyVlmOptions& options, int length);
  torch::Tensor forward(const torch::Tensor& ids);  // [L, B, E]; padding (id 0) masked

 private:
  int length_;
  torch::nn::Embedding words_{nullptr};
  torch::Tensor positions_;
  torch::nn::ModuleList blocks_{nullptr};
  torch::nn::LayerNorm norm_{nullptr};
};
TORCH_MODULE(TextEncoder);

// Mean over the non-padding positions: tokens [L, B, E], ids [B, L] → [B, E].
torch::Tensor masked_mean(const torch::Tensor& tokens, const torch::Tensor& ids);

class TinyVlmImpl : public torch::nn::Module {
 public:
  explicit TinyVlmImpl(const TinyVlmOptions& options);
  // Visual tokens after the last block (and the final norm), [N, B, E].
  torch::Tensor encode_image(const torch::Tensor& images, const VisualTap& tap = {});
  // Answer logits [Q, answers] for questions [Q, L] about images [B, ...]; `image_of` [Q]
  // names each question's image (undefined: question q is about image q).
  torch::Tensor forward(const torch::Tensor& images, const torch::Tensor& questions, const VisualTap& tap = {},
                        const torch::Tensor& image_of = {});
  // The same from visual tokens after block `layer` (a feature cache's), [N, B, E].
  torch::Tensor encode_from(int layer, const torch::Tensor& tokens, const VisualTap& tap = {});
  torch::Tensor encode_to(const torch::Tensor& images, int layer) { return vit_->forward_to(images, layer); }
  // Tokens dropped by the last forward pass's tap are masked out (VisionTransformer::drop_tokens).
  torch::Tensor ask(torch::Tensor visual, const torch::Tensor& questions, const torch::Tensor& image_of = {});
  // visual [N, Q, E]; `visual_padding` [Q, N] (true = ignore); `weights` (optional) receives
  // the question tokens' attention on the visual tokens per fusion step, each [Q, heads, L, N].
  torch::Tensor answer(const torch::Tensor& visual, const torch::Tensor& questions, const torch::Tensor& visual_padding = {},
                       std::vector<torch::Tensor>* weights = nullptr);
  // Attention the questions pay each visual token in the fusion, mean over fusion steps,
  // heads, the questions' words and each image's questions: [B, N], from the final visual
  // tokens [N, B, E] and questions [Q, L] about images image_of [Q].
  torch::Tensor question_attention(const torch::Tensor& visual, const torch::Tensor& questions,
                                   const torch::Tensor& image_of);
  // Gradient saliency of the visual tokens [N, B, E] after block `layer`: |d loss / d token| x
  // |token| summed over channels, [B, N], the loss the cross-entropy of the model's own top
  // answer to each question [Q, L] about images image_of [Q] (gradients on, whatever the caller's
  // mode; the weights' gradients are not touched).
  torch::Tensor saliency(int layer, const torch::Tensor& tokens, const torch::Tensor& questions,
                         const torch::Tensor& image_of);
  VisionTransformer& vit() { return vit_; }
  // What the fusion blocks attend to: visual tokens [N, B, E] + modality + fusion positions.
  torch::Tensor fusion_input(const torch::Tensor& visual) const;
  // Decoder fusion with its cross-attentions given: the keys and values of fusion block k on
  // fusion_input(visual) are keys_values of fusion_block(k)->cross(); cross(k, q) attends with
  // them. Answer logits [B, answers] for questions [B, L], question b about image b. Throws
  // InputError for a model without decoder fusion or with relation pointers (which read the
  // visual tokens themselves).
  torch::Tensor answer_attend(const torch::Tensor& questions,
                              const std::function<torch::Tensor(int block, const torch::Tensor& q)>& cross);
  int fusion_blocks() const { return fusion_ ? static_cast<int>(fusion_->size()) : 0; }
  DecoderBlock fusion_block(int k);
  // relation "pointers": where the two pointers look, [Q, 2 pointers, 2 (x, y)], from the
  // fused question tokens `fused` [L, Q, E] (after fused_norm) and fusion_input(visual).
  torch::Tensor pointer_coordinates(const torch::Tensor& fused, const torch::Tensor& questions,
                                    const torch::Tensor& entering, const torch::Tensor& visual_padding = {});
  const TinyVlmOptions& options() const { return options_; }

 private:
  TinyVlmOptions options_;
  VisionTransformer vit_{nullptr};
  TextEncoder text_{nullptr};
  Attention cross_{nullptr};
  torch::nn::LayerNorm fused_norm_{nullptr};
  torch::nn::ModuleList fusion_{nullptr};
  torch::Tensor modality_;  // [2, 1, E] for joint and decoder fusion
  torch::Tensor fusion_positions_;  // [N, 1, E]: a parameter ("learned") or a buffer ("sincos")
  torch::nn::Linear head1_{nullptr}, head2_{nullptr};
  // relation "pointers"
  torch::Tensor pointer_slots_;  // [2, E]: what each pointer's question pooling looks for
  torch::nn::Linear pointer_query_{nullptr}, pointer_key_{nullptr}, relation_{nullptr};
  torch::Tensor token_centres_;  // [N, 2] buffer
};
TORCH_MODULE(TinyVlm);

class ClipImpl : public torch::nn::Module {
 public:
  explicit ClipImpl(const TinyVlmOptions& options);
  torch::Tensor encode_image(const torch::Tensor& images, const VisualTap& tap = {});  // [B, embed], unit length
  // The same from visual tokens [N, B, E] after block `layer` (a feature cache's).
  torch::Tensor encode_from(int layer, const torch::Tensor& tokens, const VisualTap& tap = {});
  torch::Tensor encode_to(const torch::Tensor& images, int layer) { return vit_->forward_to(images, layer); }
  torch::Tensor encode_text(const torch::Tensor& captions);                          // [B, embed], unit length
  // Attention of the pooling query on each final visual token [N, B, E], mean over heads: [B, N].
  torch::Tensor pooled_attention(const torch::Tensor& visual);
  VisionTransformer& vit() { return vit_; }
  // Symmetric InfoNCE of matching image/caption pairs (row i of each).
  torch::Tensor loss(const torch::Tensor& image_embeddings, const torch::Tensor& text_embeddings);
  const TinyVlmOptions& options() const { return options_; }

 private:
  torch::Tensor embed(const torch::Tensor& visual);  // pooled and projected, [B, embed]
  TinyVlmOptions options_;
  VisionTransformer vit_{nullptr};
  TextEncoder text_{nullptr};
  Attention pool_{nullptr};  // a learned query attends over the visual tokens
  torch::Tensor pool_query_;
  torch::nn::Linear image_projection_{nullptr}, text_projection_{nullptr};
  torch::Tensor log_scale_;
};
TORCH_MODULE(Clip);

}  // namespace bcfeat
