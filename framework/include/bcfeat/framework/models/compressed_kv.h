// The visual keys and values of tinyvlm's decoder fusion stored compressed (kv_attention.h):
// computed once per batch of images by every fusion block's cross-attention, compressed per
// (image, head) with a block format or int group quantisation, and attended by the fused kernel
// on CUDA (software block decode, or the texture units) or, on the CPU, by attention over the
// decoded K/V. The questions' side of the fusion (self-attention, MLPs, answer head) runs as the
// model does.
#pragma once

#include <memory>
#include <vector>

#include <torch/torch.h>

#include "bcfeat/framework/models/tinyvlm.h"
#include "bcfeat/kernels/kv_attention.h"

namespace bcfeat {

class CompressedVisualKv {
 public:
  // visual: the final visual tokens [N, B, E] (encode_image); backend kCpu, kCuda or kTexture
  // (the latter two need the model on a GPU). Throws InputError for a model without decoder
  // fusion, a head dim the kernels do not take, or values the codec cannot store.
  CompressedVisualKv(TinyVlm& model, const torch::Tensor& visual, const KvCodec& codec, Backend backend);
  ~CompressedVisualKv();
  CompressedVisualKv(const CompressedVisualKv&) = delete;
  CompressedVisualKv& operator=(const CompressedVisualKv&) = delete;

  // Answer logits [B, answers] for questions [B, L] (question b about image b).
  torch::Tensor answer(TinyVlm& model, const torch::Tensor& questions);
  int64_t bytes() const;       // K and V of every fusion block, side information included
  int64_t fp16_bytes() const;  // the same K and V in fp16
  int64_t values() const;      // values stored (K and V of every block)

 private:
  struct Block;
  std::vector<std::unique_ptr<Block>> blocks_;
  Backend backend_;
};

}  // namespace bcfeat
