#include "bcfeat/framework/models/tinyvlm.h"

#include <cmath>

#include <torch/version.h>

#include "bcfeat/framework/error.h"

namespace bcfeat {

namespace nn = torch::nn;

void TinyVlmOptions::check() const {
  if (image_size % patch != 0) throw_input_error("tinyvlm: image_size {} is not a multiple of patch {}", image_size, patch);
  if (width % heads != 0) throw_input_error("tinyvlm: width {} is not a multiple of heads {}", width, heads);
  if (fusion != "joint" && fusion != "decoder") throw_input_error("tinyvlm: fusion '{}' is not joint or decoder", fusion);
  if (fusion_positions != "none" && fusion_positions != "learned" && fusion_positions != "sincos") {
    throw_input_error("tinyvlm: fusion_positions '{}' is not none, learned or sincos", fusion_positions);
  }
  if (relation != "none" && relation != "pointers") {
    throw_input_error("tinyvlm: relation '{}' is not none or pointers", relation);
  }
  if (fusion_positions == "sincos" && width % 4 != 0) {
    throw_input_error("tinyvlm: sincos fusion positions need a width that is a multiple of 4 (width {})", width);
  }
}

nlohmann::json to_json(const TinyVlmOptions& o) {
  return {{"image_size", o.image_size}, {"patch", o.patch},         {"width", o.width},
          {"depth", o.depth},           {"heads", o.heads},         {"mlp_ratio", o.mlp_ratio},
          {"text_depth", o.text_depth}, {"fusion_depth", o.fusion_depth}, {"embed", o.embed},
          {"question_length", o.question_length}, {"vocabulary", o.vocabulary}, {"answers", o.answers},
          {"fusion_positions", o.fusion_positions}, {"fusion", o.fusion}, {"relation", o.relation}};
}

TinyVlmOptions options_from_json(const nlohmann::json& json) {
  TinyVlmOptions o;
  auto get = [&](const char* key, int& field) {
    if (!json.contains(key) || !json[key].is_number_integer()) throw_input_error("model options: '{}' missing", key);
    field = json[key].get<int>();
  };
  get("image_size", o.image_size);
  get("patch", o.patch);
  get("width", o.width);
  get("depth", o.depth);
  get("heads", o.heads);
  get("mlp_ratio", o.mlp_ratio);
  get("text_depth", o.text_depth);
  get("fusion_depth", o.fusion_depth);
  get("embed", o.embed);
  get("question_length", o.question_length);
  get("vocabulary", o.vocabulary);
  get("answers", o.answers);
  // Optional: files written before the option existed have none; files from before "sincos"
  // have a boolean (true = learned).
  if (json.contains("fusion_positions")) {
    const auto& value = json["fusion_positions"];
    if (value.is_boolean()) {
      o.fusion_positions = value.get<bool>() ? "learned" : "none";
    } else if (value.is_string()) {
      o.fusion_positions = value.get<std::string>();
    } else {
      throw_input_error("model options: 'fusion_positions' is not a string");
    }
  }
  // Likewise optional, absent in older files (= the defaults: joint, none).
  auto get_optional = [&](const char* key, std::string& field) {
    if (!json.contains(key)) return;
    if (!json[key].is_string()) throw_input_error("model options: '{}' is not a string", key);
    field = json[key].get<std::string>();
  };
  get_optional("fusion", o.fusion);
  get_optional("relation", o.relation);
  o.check();
  return o;
}

torch::Tensor sincos_positions(int grid, int width) {
  if (grid < 1 || width % 4 != 0) throw_input_error("sincos positions: grid {} / width {} (a multiple of 4)", grid, width);
  const int frequencies = width / 4;
  const double pi = std::acos(-1.0);
  torch::Tensor out = torch::empty({grid * grid, 1, width});
  auto a = out.accessor<float, 3>();
  for (int k = 0; k < frequencies; ++k) {
    // ω_k from π/(2·grid) (k = 0) to π/2 (k = frequencies − 1), geometric.
    const double t = frequencies == 1 ? 0.0 : static_cast<double>(k) / (frequencies - 1);
    const double omega = pi / (2.0 * grid) * std::pow(static_cast<double>(grid), t);
    for (int row = 0; row < grid; ++row) {
      for (int column = 0; column < grid; ++column) {
        const int n = row * grid + column;
        a[n][0][k] = static_cast<float>(std::sin(omega * (column + 0.5)));
        a[n][0][frequencies + k] = static_cast<float>(std::cos(omega * (column + 0.5)));
        a[n][0][2 * frequencies + k] = static_cast<float>(std::sin(omega * (row + 0.5)));
        a[n][0][3 * frequencies + k] = static_cast<float>(std::cos(omega * (row + 0.5)));
      }
    }
  }
  return out;
}

torch::Tensor token_centres(int grid) {
  if (grid < 1) throw_input_error("token centres: grid {} is below 1", grid);
  const torch::Tensor centre = (torch::arange(grid, torch::kFloat) + 0.5) * (2.0 / grid) - 1.0;
  const torch::Tensor x = centre.repeat({grid});                   // column of token row * grid + column
  const torch::Tensor y = centre.repeat_interleave(grid);          // its row
  return torch::stack({x, y}, 1);
}

AttentionImpl::AttentionImpl(int width, int heads) : heads_(heads) {
  q_ = register_module("q", nn::Linear(width, width));
  kv_ = register_module("kv", nn::Linear(width, 2 * width));
  out_ = register_module("out", nn::Linear(width, width));
}

torch::Tensor AttentionImpl::forward(const torch::Tensor& query, const torch::Tensor& context, const torch::Tensor& padding) {
  const int64_t lq = query.size(0), lk = context.size(0), batch = query.size(1), width = query.size(2);
  const int64_t d = width / heads_;
  auto split = [&](const torch::Tensor& x, int64_t length) {  // [L, B, E] → [B, H, L, d]
    return x.reshape({length, batch, heads_, d}).permute({1, 2, 0, 3});
  };
  const torch::Tensor q = split(q_(query), lq);
  const auto kv = kv_(context).chunk(2, -1);
  const torch::Tensor k = split(kv[0], lk), v = split(kv[1], lk);
  torch::Tensor attended;
#if TORCH_VERSION_MAJOR >= 2
  std::optional<torch::Tensor> keep;
  if (padding.defined()) keep = padding.logical_not().reshape({batch, 1, 1, lk});
  attended = at::scaled_dot_product_attention(q, k, v, keep);
#else
  torch::Tensor scores = q.matmul(k.transpose(-2, -1)) / std::sqrt(static_cast<double>(d));
  if (padding.defined()) scores = scores.masked_fill(padding.reshape({batch, 1, 1, lk}), -INFINITY);
  attended = torch::softmax(scores, -1).matmul(v);
#endif
  return out_(attended.permute({2, 0, 1, 3}).reshape({lq, batch, width}));
}

torch::Tensor AttentionImpl::weights(const torch::Tensor& query, const torch::Tensor& context, const torch::Tensor& padding) {
  const int64_t lq = query.size(0), lk = context.size(0), batch = query.size(1), width = query.size(2);
  const int64_t d = width / heads_;
  auto split = [&](const torch::Tensor& x, int64_t length) {
    return x.reshape({length, batch, heads_, d}).permute({1, 2, 0, 3}).to(torch::kFloat32);
  };
  const torch::Tensor q = split(q_(query), lq);
  const torch::Tensor k = split(kv_(context).chunk(2, -1)[0], lk);
  torch::Tensor scores = q.matmul(k.transpose(-2, -1)) / std::sqrt(static_cast<double>(d));
  if (padding.defined()) scores = scores.masked_fill(padding.reshape({batch, 1, 1, lk}), -INFINITY);
  return torch::softmax(scores, -1);
}

std::pair<torch::Tensor, torch::Tensor> AttentionImpl::keys_values(const torch::Tensor& context) {
  const int64_t lk = context.size(0), batch = context.size(1), width = context.size(2);
  const auto kv = kv_(context).chunk(2, -1);
  auto split = [&](const torch::Tensor& x) { return x.reshape({lk, batch, heads_, width / heads_}).permute({1, 2, 0, 3}); };
  return {split(kv[0]), split(kv[1])};
}

torch::Tensor AttentionImpl::forward_attend(const torch::Tensor& query, const Attend& attend) {
  const int64_t lq = query.size(0), batch = query.size(1), width = query.size(2);
  const torch::Tensor q = q_(query).reshape({lq, batch, heads_, width / heads_}).permute({1, 2, 0, 3});
  return out_(attend(q).permute({2, 0, 1, 3}).reshape({lq, batch, width}));
}

namespace {

// A key mask that leaves every row at least one key (a row with every key dropped attends to
// all of them rather than to nothing).
torch::Tensor keep_one(const torch::Tensor& padding) {
  if (!padding.defined()) return padding;
  return padding.logical_and(padding.logical_not().any(1, true));
}

}  // namespace

TransformerBlockImpl::TransformerBlockImpl(int width, int heads, int mlp_ratio) {
  norm1_ = register_module("norm1", nn::LayerNorm(nn::LayerNormOptions({width})));
  norm2_ = register_module("norm2", nn::LayerNorm(nn::LayerNormOptions({width})));
  attention_ = register_module("attention", Attention(width, heads));
  fc1_ = register_module("fc1", nn::Linear(width, width * mlp_ratio));
  fc2_ = register_module("fc2", nn::Linear(width * mlp_ratio, width));
}

torch::Tensor TransformerBlockImpl::forward(const torch::Tensor& x, const torch::Tensor& padding_mask,
                                            torch::Tensor* weights) {
  const torch::Tensor h = norm1_(x);
  if (weights) *weights = attention_->weights(h, h, padding_mask);
  const torch::Tensor attended = attention_(h, h, padding_mask);
  torch::Tensor y = x + attended;
  return y + fc2_(torch::gelu(fc1_(norm2_(y))));
}

DecoderBlockImpl::DecoderBlockImpl(int width, int heads, int mlp_ratio) {
  norm1_ = register_module("norm1", nn::LayerNorm(nn::LayerNormOptions({width})));
  norm2_ = register_module("norm2", nn::LayerNorm(nn::LayerNormOptions({width})));
  norm3_ = register_module("norm3", nn::LayerNorm(nn::LayerNormOptions({width})));
  self_ = register_module("self", Attention(width, heads));
  cross_ = register_module("cross", Attention(width, heads));
  fc1_ = register_module("fc1", nn::Linear(width, width * mlp_ratio));
  fc2_ = register_module("fc2", nn::Linear(width * mlp_ratio, width));
}

torch::Tensor DecoderBlockImpl::forward(const torch::Tensor& x, const torch::Tensor& context, const torch::Tensor& padding,
                                        const torch::Tensor& context_padding, torch::Tensor* cross_weights) {
  const torch::Tensor h = norm1_(x);
  torch::Tensor y = x + self_(h, h, padding);
  const torch::Tensor query = norm2_(y);
  if (cross_weights) *cross_weights = cross_->weights(query, context, context_padding);
  y = y + cross_(query, context, context_padding);
  return y + fc2_(torch::gelu(fc1_(norm3_(y))));
}

torch::Tensor DecoderBlockImpl::forward_attend(const torch::Tensor& x, const torch::Tensor& padding,
                                               const AttentionImpl::Attend& cross) {
  const torch::Tensor h = norm1_(x);
  torch::Tensor y = x + self_(h, h, padding);
  y = y + cross_->forward_attend(norm2_(y), cross);
  return y + fc2_(torch::gelu(fc1_(norm3_(y))));
}

namespace {

nn::ModuleList make_blocks(int count, const TinyVlmOptions& o) {
  nn::ModuleList blocks;
  for (int k = 0; k < count; ++k) blocks->push_back(TransformerBlock(o.width, o.heads, o.mlp_ratio));
  return blocks;
}

}  // namespace

VisionTransformerImpl::VisionTransformerImpl(const TinyVlmOptions& options) : options_(options) {
  options.check();
  patch_embed_ = register_module(
      "patch_embed", nn::Conv2d(nn::Conv2dOptions(3, options.width, options.patch).stride(options.patch)));
  positions_ = register_parameter("positions", torch::randn({options.tokens(), 1, options.width}) * 0.02);
  blocks_ = register_module("blocks", make_blocks(options.depth, options));
  norm_ = register_module("norm", nn::LayerNorm(nn::LayerNormOptions({options.width})));
}

torch::Tensor VisionTransformerImpl::embed(const torch::Tensor& images) {
  if (images.dim() != 4 || images.size(1) != 3 || images.size(2) != options_.image_size ||
      images.size(3) != options_.image_size) {
    throw_input_error("tinyvlm: images must be [B, 3, {}, {}]", options_.image_size, options_.image_size);
  }
  // [B, E, h, w] → [N, B, E]
  return patch_embed_(images).flatten(2).permute({2, 0, 1}) + positions_;
}

torch::Tensor VisionTransformerImpl::forward(const torch::Tensor& images, const VisualTap& tap) {
  return forward_from(0, embed(images), tap);
}

torch::Tensor VisionTransformerImpl::forward_to(const torch::Tensor& images, int layer) {
  if (layer < 1 || layer > options_.depth) throw_input_error("tinyvlm: no block {} (the vision transformer has {})", layer, options_.depth);
  torch::Tensor x = embed(images);
  for (int next = 0; next < layer; ++next) x = (*blocks_)[static_cast<size_t>(next)]->as<TransformerBlock>()->forward(x);
  return x;
}

torch::Tensor VisionTransformerImpl::forward_from(int layer, torch::Tensor x, const VisualTap& tap) {
  if (layer < 0 || layer > options_.depth) throw_input_error("tinyvlm: no block {} (the vision transformer has {})", layer, options_.depth);
  const int64_t tokens = (options_.image_size / options_.patch) * (options_.image_size / options_.patch);
  if (x.dim() != 3 || x.size(0) != tokens || x.size(2) != options_.width) {
    throw_input_error("tinyvlm: visual tokens must be [{}, B, {}], got {}", tokens, options_.width, x.sizes());
  }
  dropped_ = torch::Tensor();
  for (int next = layer; next < options_.depth; ++next) {
    x = (*blocks_)[static_cast<size_t>(next)]->as<TransformerBlock>()->forward(x, keep_one(dropped_));
    if (tap) x = tap(next + 1, x);
  }
  return norm_(x);
}

torch::Tensor VisionTransformerImpl::attention_received(int layer, const torch::Tensor& tokens) {
  if (layer < 1 || layer > options_.depth) throw_input_error("tinyvlm: no block {} (the vision transformer has {})", layer, options_.depth);
  const size_t next = static_cast<size_t>(std::min(layer, options_.depth - 1));
  torch::Tensor weights;
  (*blocks_)[next]->as<TransformerBlock>()->forward(tokens, {}, &weights);
  return weights.mean(1).mean(1);  // [B, N]: heads, then queries
}

TextEncoderImpl::TextEncoderImpl(const TinyVlmOptions& options, int length) : length_(length) {
  words_ = register_module("words", nn::Embedding(options.vocabulary, options.width));
  positions_ = register_parameter("positions", torch::randn({length, 1, options.width}) * 0.02);
  blocks_ = register_module("blocks", make_blocks(options.text_depth, options));
  norm_ = register_module("norm", nn::LayerNorm(nn::LayerNormOptions({options.width})));
}

torch::Tensor TextEncoderImpl::forward(const torch::Tensor& ids) {
  if (ids.dim() != 2 || ids.size(1) != length_) throw_input_error("text encoder: ids must be [B, {}] word ids", length_);
  const torch::Tensor padding = ids.eq(0);  // [B, L], true = ignore
  torch::Tensor t = words_(ids).permute({1, 0, 2}) + positions_;
  for (const auto& block : *blocks_) t = block->as<TransformerBlock>()->forward(t, padding);
  return norm_(t);
}

torch::Tensor masked_mean(const torch::Tensor& tokens, const torch::Tensor& ids) {
  const torch::Tensor keep = ids.ne(0).t().unsqueeze(2).to(tokens.dtype());  // [L, B, 1]
  return (tokens * keep).sum(0) / keep.sum(0).clamp_min(1.0);
}

TinyVlmImpl::TinyVlmImpl(const TinyVlmOptions& options) : options_(options) {
  options.check();
  const int width = options.width;
  vit_ = register_module("vit", VisionTransformer(options));
  text_ = register_module("text", TextEncoder(options, options.question_length));
  if (options.fusion_depth == 0) {
    cross_ = register_module("cross", Attention(width, options.heads));
  } else {
    if (options.fusion == "decoder") {
      fusion_ = register_module("fusion", nn::ModuleList());
      for (int k = 0; k < options.fusion_depth; ++k) fusion_->push_back(DecoderBlock(width, options.heads, options.mlp_ratio));
    } else {
      fusion_ = register_module("fusion", make_blocks(options.fusion_depth, options));
    }
    modality_ = register_parameter("modality", torch::randn({2, 1, width}) * 0.02);
    if (options.fusion_positions == "learned") {
      fusion_positions_ = register_parameter("fusion_positions", torch::randn({options.tokens(), 1, width}) * 0.02);
    } else if (options.fusion_positions == "sincos") {
      fusion_positions_ = register_buffer("fusion_positions", sincos_positions(options.image_size / options.patch, width));
    }
  }
  fused_norm_ = register_module("fused_norm", nn::LayerNorm(nn::LayerNormOptions({width})));
  head1_ = register_module("head1", nn::Linear(width, 2 * width));
  head2_ = register_module("head2", nn::Linear(2 * width, options.answers));
  if (options.relation == "pointers") {
    pointer_slots_ = register_parameter("pointer_slots", torch::randn({2, width}) * 0.02);
    pointer_query_ = register_module("pointer_query", nn::Linear(width, width));
    pointer_key_ = register_module("pointer_key", nn::Linear(width, width));
    relation_ = register_module("relation", nn::Linear(6, width));
    token_centres_ = register_buffer("token_centres", token_centres(options.image_size / options.patch));
  }
}

torch::Tensor TinyVlmImpl::encode_image(const torch::Tensor& images, const VisualTap& tap) { return vit_(images, tap); }

torch::Tensor TinyVlmImpl::answer(const torch::Tensor& visual, const torch::Tensor& questions,
                                  const torch::Tensor& visual_padding, std::vector<torch::Tensor>* weights) {
  torch::Tensor t = text_(questions);  // [L, Q, E]
  const int64_t n = visual.size(0);
  const torch::Tensor v = fusion_input(visual);
  const torch::Tensor drop = keep_one(visual_padding);
  torch::Tensor step;
  if (options_.fusion_depth == 0) {
    if (weights) weights->push_back(cross_->weights(t, visual, drop));
    t = fused_norm_(t + cross_(t, visual, drop));
  } else if (options_.fusion == "decoder") {
    t = t + modality_[1];
    const torch::Tensor padding = questions.eq(0);
    for (const auto& block : *fusion_) {
      t = block->as<DecoderBlock>()->forward(t, v, padding, drop, weights ? &step : nullptr);
      if (weights) weights->push_back(step);
    }
    t = fused_norm_(t);
  } else {
    torch::Tensor joint = torch::cat({v, t + modality_[1]}, 0);  // [N + L, Q, E]
    const torch::Tensor visual_keys =
        drop.defined() ? drop : torch::zeros({questions.size(0), n}, questions.options().dtype(torch::kBool));
    const torch::Tensor padding = torch::cat({visual_keys, questions.eq(0)}, 1);
    for (const auto& block : *fusion_) {
      joint = block->as<TransformerBlock>()->forward(joint, padding, weights ? &step : nullptr);
      if (weights) weights->push_back(step.slice(2, n).slice(3, 0, n));  // question rows, visual columns
    }
    t = fused_norm_(joint.slice(0, n));
  }
  torch::Tensor pooled = masked_mean(t, questions);  // [Q, E]
  if (relation_) {
    const torch::Tensor c = pointer_coordinates(t, questions, v, drop);
    const torch::Tensor where = torch::cat({c.flatten(1), c.select(1, 0) - c.select(1, 1)}, 1);  // [Q, 6]
    pooled = pooled + relation_(where.to(pooled.dtype()));
  }
  return head2_(torch::gelu(head1_(pooled)));
}

DecoderBlock TinyVlmImpl::fusion_block(int k) {
  if (options_.fusion != "decoder" || options_.fusion_depth == 0) {
    throw_input_error("tinyvlm: the model has no decoder fusion blocks (fusion '{}', depth {})", options_.fusion,
                      options_.fusion_depth);
  }
  if (k < 0 || k >= fusion_blocks()) throw_input_error("tinyvlm: no fusion block {}", k);
  return DecoderBlock(std::dynamic_pointer_cast<DecoderBlockImpl>((*fusion_)[static_cast<size_t>(k)]));
}

torch::Tensor TinyVlmImpl::answer_attend(const torch::Tensor& questions,
                                         const std::function<torch::Tensor(int block, const torch::Tensor& q)>& cross) {
  if (options_.fusion != "decoder" || options_.fusion_depth == 0) {
    throw_input_error("tinyvlm: attention on stored keys and values needs decoder fusion (this model: fusion '{}', depth {})",
                      options_.fusion, options_.fusion_depth);
  }
  if (relation_) throw_input_error("tinyvlm: relation pointers read the visual tokens, not only keys and values");
  torch::Tensor t = text_(questions) + modality_[1];
  const torch::Tensor padding = questions.eq(0);
  for (int k = 0; k < fusion_blocks(); ++k) {
    t = fusion_block(k)->forward_attend(t, padding, [&](const torch::Tensor& q) { return cross(k, q); });
  }
  t = fused_norm_(t);
  return head2_(torch::gelu(head1_(masked_mean(t, questions))));
}

torch::Tensor TinyVlmImpl::pointer_coordinates(const torch::Tensor& fused, const torch::Tensor& questions,
                                               const torch::Tensor& entering, const torch::Tensor& visual_padding) {
  if (!relation_) throw_input_error("tinyvlm: pointer coordinates need model.relation: pointers");
  const double scale = 1.0 / std::sqrt(static_cast<double>(options_.width));
  // Each pointer pools the question tokens it scores highest (padding ignored) ...
  torch::Tensor slot = torch::einsum("lqe,ke->qkl", {fused, pointer_slots_.to(fused.dtype())}) * scale;
  slot = slot.masked_fill(questions.eq(0).unsqueeze(1), -1e4).softmax(2);        // [Q, 2, L]
  const torch::Tensor query = pointer_query_(torch::einsum("qkl,lqe->qke", {slot, fused}));  // [Q, 2, E]
  // ... and attends over the visual tokens with it; the answer is the expected token centre.
  const torch::Tensor key = pointer_key_(entering);                                        // [N, Q, E]
  torch::Tensor logits = torch::einsum("qke,nqe->qkn", {query, key}) * scale;
  if (visual_padding.defined()) logits = logits.masked_fill(visual_padding.unsqueeze(1), -1e4);
  const torch::Tensor look = logits.softmax(2);  // [Q, 2, N]
  return torch::matmul(look.to(torch::kFloat), token_centres_);                            // [Q, 2, 2]
}

torch::Tensor TinyVlmImpl::fusion_input(const torch::Tensor& visual) const {
  if (options_.fusion_depth == 0) return visual;
  torch::Tensor v = visual + modality_[0];
  if (fusion_positions_.defined()) v = v + fusion_positions_;
  return v;
}

torch::Tensor TinyVlmImpl::forward(const torch::Tensor& images, const torch::Tensor& questions, const VisualTap& tap,
                                   const torch::Tensor& image_of) {
  return ask(encode_image(images, tap), questions, image_of);
}

torch::Tensor TinyVlmImpl::encode_from(int layer, const torch::Tensor& tokens, const VisualTap& tap) {
  return vit_->forward_from(layer, tokens, tap);
}

torch::Tensor TinyVlmImpl::ask(torch::Tensor visual, const torch::Tensor& questions, const torch::Tensor& image_of) {
  torch::Tensor padding = vit_->dropped();
  if (padding.defined() && padding.size(0) != visual.size(1)) padding = torch::Tensor();  // another pass's
  if (image_of.defined()) {
    visual = visual.index_select(1, image_of);
    if (padding.defined()) padding = padding.index_select(0, image_of);
  }
  if (questions.dim() != 2 || questions.size(0) != visual.size(1)) {
    throw_input_error("tinyvlm: {} questions for {} images", questions.size(0), visual.size(1));
  }
  return answer(visual, questions, padding);
}

torch::Tensor TinyVlmImpl::saliency(int layer, const torch::Tensor& tokens, const torch::Tensor& questions,
                                   const torch::Tensor& image_of) {
  torch::AutoGradMode grad(true);
  const torch::Tensor input = tokens.detach().to(torch::kFloat32).requires_grad_(true);
  const torch::Tensor logits = ask(encode_from(layer, input), questions, image_of);
  const torch::Tensor loss = torch::nn::functional::cross_entropy(
      logits, logits.argmax(1).detach(), torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum));
  const torch::Tensor gradient = torch::autograd::grad({loss}, {input})[0];
  return (gradient.abs() * input.detach().abs()).sum(2).t().contiguous();  // [B, N]
}

torch::Tensor TinyVlmImpl::question_attention(const torch::Tensor& visual, const torch::Tensor& questions,
                                              const torch::Tensor& image_of) {
  std::vector<torch::Tensor> steps;
  answer(visual.index_select(1, image_of), questions, {}, &steps);
  const torch::Tensor words = questions.ne(0).to(torch::kFloat32);  // [Q, L]
  torch::Tensor per_question = torch::zeros({questions.size(0), visual.size(0)}, words.options());
  for (const auto& w : steps) {
    const torch::Tensor heads = w.mean(1);  // [Q, L, N]
    per_question += (heads * words.unsqueeze(2)).sum(1) / words.sum(1, true).clamp_min(1.0);
  }
  per_question /= static_cast<double>(steps.size());
  torch::Tensor out = torch::zeros({visual.size(1), visual.size(0)}, words.options());
  out.index_add_(0, image_of, per_question);
  const torch::Tensor count = torch::zeros({visual.size(1)}, words.options()).index_add_(
      0, image_of, torch::ones({questions.size(0)}, words.options()));
  return out / count.clamp_min(1.0).unsqueeze(1);
}

ClipImpl::ClipImpl(const TinyVlmOptions& options) : options_(options) {
  options.check();
  vit_ = register_module("vit", VisionTransformer(options));
  text_ = register_module("text", TextEncoder(options, options.question_length));
  pool_ = register_module("pool", Attention(options.width, options.heads));
  pool_query_ = register_parameter("pool_query", torch::randn({1, 1, options.width}) * 0.02);
  image_projection_ = register_module("image_projection", nn::Linear(options.width, options.embed));
  text_projection_ = register_module("text_projection", nn::Linear(options.width, options.embed));
  log_scale_ = register_parameter("log_scale", torch::full({1}, std::log(1.0 / 0.07)));
}

torch::Tensor ClipImpl::encode_image(const torch::Tensor& images, const VisualTap& tap) {
  return embed(vit_(images, tap));
}

torch::Tensor ClipImpl::encode_from(int layer, const torch::Tensor& tokens, const VisualTap& tap) {
  return embed(vit_->forward_from(layer, tokens, tap));
}

torch::Tensor ClipImpl::pooled_attention(const torch::Tensor& visual) {
  return pool_->weights(pool_query_.expand({1, visual.size(1), visual.size(2)}), visual).mean(1).squeeze(1);  // [B, N]
}

torch::Tensor ClipImpl::embed(const torch::Tensor& visual) {
  torch::Tensor padding = vit_->dropped();
  if (padding.defined() && padding.size(0) != visual.size(1)) padding = torch::Tensor();
  const torch::Tensor pooled =
      pool_(pool_query_.expand({1, visual.size(1), visual.size(2)}), visual, keep_one(padding)).squeeze(0);
  return torch::nn::functional::normalize(image_projection_(pooled),
                                          torch::nn::functional::NormalizeFuncOptions().dim(1));
}

torch::Tensor ClipImpl::encode_text(const torch::Tensor& captions) {
  return torch::nn::functional::normalize(text_projection_(masked_mean(text_(captions), captions)),
                                          torch::nn::functional::NormalizeFuncOptions().dim(1));
}

torch::Tensor ClipImpl::loss(const torch::Tensor& image_embeddings, const torch::Tensor& text_embeddings) {
  const torch::Tensor logits = log_scale_.clamp_max(std::log(100.0)).exp() * image_embeddings.matmul(text_embeddings.t());
  const torch::Tensor target = torch::arange(logits.size(0), logits.options().dtype(torch::kLong));
  return 0.5 * (torch::nn::functional::cross_entropy(logits, target) +
                torch::nn::functional::cross_entropy(logits.t(), target));
}

}  // namespace bcfeat
