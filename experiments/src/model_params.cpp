#include "model_params.h"

#include "bcfeat/framework/error.h"

namespace bcfeat {

void ModelParams::declare(ParamSet& params) {
  params.add("model.kind", &kind, "tinyvlm (VQA) or clip (contrastive image-caption dual encoder)")
      .one_of({"tinyvlm", "clip"});
  params.add("model.patch", &options.patch, "patch side in pixels (data.image_size must be a multiple)").range(2, 64);
  params.add("model.width", &options.width, "token width").range(8, 4096);
  params.add("model.depth", &options.depth, "ViT blocks").range(1, 64);
  params.add("model.heads", &options.heads, "attention heads (divide width)").range(1, 64);
  params.add("model.mlp_ratio", &options.mlp_ratio, "MLP width / token width").range(1, 16);
  params.add("model.text_depth", &options.text_depth, "question / caption encoder blocks").range(0, 16);
  params.add("model.fusion_depth", &options.fusion_depth, "tinyvlm: fusion blocks (0 = one cross-attention)")
      .range(0, 16);
  params.add("model.fusion", &options.fusion,
             "tinyvlm fusion blocks: joint (self-attention over visual and question tokens) or decoder (question "
             "tokens: self-attention, cross-attention on the visual tokens, MLP)")
      .one_of({"joint", "decoder"});
  params.add("model.fusion_positions", &options.fusion_positions,
             "tinyvlm fusion: positions added to the visual tokens again as they enter the fusion blocks: none, "
             "learned (trained parameters) or sincos (fixed 2D sine-cosine coordinates)")
      .one_of({"none", "learned", "sincos"});
  params.add("model.relation", &options.relation,
             "tinyvlm: none, or pointers (two attentions over the visual tokens, each driven by its own pooling of "
             "the fused question tokens; their expected token coordinates and the difference feed the answer head)")
      .one_of({"none", "pointers"});
  params.add("model.embed", &options.embed, "clip: embedding dimension").range(8, 4096);
}

TinyVlmOptions ModelParams::resolved(const ShapesVqaOptions& data) const {
  TinyVlmOptions out = options;
  out.image_size = data.image_size;
  out.vocabulary = static_cast<int>(vqa_words().size());
  out.answers = static_cast<int>(vqa_answers().size());
  if (kind == "clip") out.question_length = kCaptionLength;
  return out;
}

void ModelParams::check(const ShapesVqaOptions& data) const {
  if (data.image_size % options.patch != 0) {
    throw_input_error("data.image_size {} is not a multiple of model.patch {}", data.image_size, options.patch);
  }
  if (options.width % options.heads != 0) {
    throw_input_error("model.width {} is not a multiple of model.heads {}", options.width, options.heads);
  }
}

}  // namespace bcfeat
