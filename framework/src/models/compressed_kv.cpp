#include "bcfeat/framework/models/compressed_kv.h"

#include <cmath>
#include <stdexcept>

#include "bcfeat/framework/error.h"
#include "bcfeat/kernels/codec.h"

namespace bcfeat {

struct CompressedVisualKv::Block {
  CompressedKv keys, values;
  torch::Tensor keys_decoded, values_decoded;  // CPU: [B, heads, N, dim] float32
  std::unique_ptr<DeviceKv> keys_device, values_device;
};

namespace {

CompressedKv compress(const torch::Tensor& x, KvRole role, const KvCodec& codec, Backend backend) {
  const torch::Tensor host = x.to(torch::kCPU, torch::kFloat32).contiguous();
  const KvShape shape{static_cast<int>(x.size(0)), static_cast<int>(x.size(1)), static_cast<int>(x.size(2)),
                      static_cast<int>(x.size(3))};
  // The CUDA encoder where the model is on a GPU and the format has one, else the CPU's.
  const Backend encoder = backend != Backend::kCpu && codec.format &&
                                  encoder_unavailable(*codec.format, Backend::kCuda).empty()
                              ? Backend::kCuda
                              : Backend::kCpu;
  try {
    return compress_kv(host.data_ptr<float>(), shape, role, codec, encoder);
  } catch (const std::invalid_argument& e) {
    throw_input_error("kv compression ({}): {}", codec.name(), e.what());
  }
}

torch::Tensor decoded(const CompressedKv& kv) {
  const KvShape& s = kv.layout.shape;
  std::vector<float> values = decode_kv(kv);
  return torch::from_blob(values.data(), {s.batch, s.heads, s.tokens, s.dim}, torch::kFloat32).clone();
}

}  // namespace

CompressedVisualKv::CompressedVisualKv(TinyVlm& model, const torch::Tensor& visual, const KvCodec& codec, Backend backend)
    : backend_(backend) {
  torch::NoGradGuard no_grad;
  const torch::Tensor entering = model->fusion_input(visual);
  for (int k = 0; k < model->fusion_blocks(); ++k) {
    const auto [keys, values] = model->fusion_block(k)->cross()->keys_values(entering);
    auto block = std::make_unique<Block>();
    block->keys = compress(keys, KvRole::kKeys, codec, backend);
    block->values = compress(values, KvRole::kValues, codec, backend);
    if (backend == Backend::kCpu) {
      block->keys_decoded = decoded(block->keys);
      block->values_decoded = decoded(block->values);
    } else {
      const bool texture = backend == Backend::kTexture;
      block->keys_device = std::make_unique<DeviceKv>(block->keys, texture);
      block->values_device = std::make_unique<DeviceKv>(block->values, texture);
    }
    blocks_.push_back(std::move(block));
  }
}

CompressedVisualKv::~CompressedVisualKv() = default;

torch::Tensor CompressedVisualKv::answer(TinyVlm& model, const torch::Tensor& questions) {
  torch::NoGradGuard no_grad;
  return model->answer_attend(questions, [&](int k, const torch::Tensor& q) {
    const Block& block = *blocks_[static_cast<size_t>(k)];
    const KvShape& s = block.keys.layout.shape;
    if (backend_ == Backend::kCpu) {
      const torch::Tensor scores =
          q.to(torch::kFloat32).matmul(block.keys_decoded.transpose(-2, -1)) / std::sqrt(static_cast<double>(s.dim));
      return torch::softmax(scores, -1).matmul(block.values_decoded).to(q.dtype());
    }
    const torch::Tensor q16 = q.to(torch::kFloat16).contiguous();
    torch::Tensor out = torch::empty_like(q16);
    KvAttentionParams p;
    p.batch = s.batch;
    p.heads = s.heads;
    p.queries = static_cast<int>(q.size(2));
    p.dim = s.dim;
    p.tokens = s.tokens;
    p.type = ElementType::kFloat16;
    p.q = q16.data_ptr();
    p.out = out.data_ptr();
    p.keys = block.keys_device.get();
    p.values = block.values_device.get();
    try {
      kv_attention(p, backend_, nullptr);
    } catch (const std::invalid_argument& e) {
      throw_input_error("kv attention: {}", e.what());
    }
    return out.to(q.dtype());
  });
}

int64_t CompressedVisualKv::bytes() const {
  int64_t total = 0;
  for (const auto& block : blocks_) total += block->keys.layout.bytes() + block->values.layout.bytes();
  return total;
}

int64_t CompressedVisualKv::values() const {
  int64_t total = 0;
  for (const auto& block : blocks_) total += block->keys.layout.shape.values() + block->values.layout.shape.values();
  return total;
}

int64_t CompressedVisualKv::fp16_bytes() const { return 2 * values(); }

}  // namespace bcfeat
