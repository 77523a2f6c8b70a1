#include "bcfeat/framework/compressor.h"

#include <cmath>

#include "bcfeat/framework/error.h"
#include "bcfeat/kernels/format.h"

namespace bcfeat {

// Factories defined next to each compressor.
std::unique_ptr<Compressor> make_half_compressor(const CompressionOptions&);
std::unique_ptr<Compressor> make_bfloat16_compressor(const CompressionOptions&);
std::unique_ptr<Compressor> make_int_compressor(const CompressionOptions&);
std::unique_ptr<Compressor> make_fp8_compressor(const CompressionOptions&);
std::unique_ptr<Compressor> make_texture_compressor(const CompressionOptions&);
std::unique_ptr<Compressor> make_lossless_compressor(const CompressionOptions&);
std::unique_ptr<Compressor> make_codebook_compressor(const CompressionOptions&);

void CompressionOptions::declare(ParamSet& params, const std::string& prefix) {
  params.add(prefix + ".method", &method, "compressor (bcfeat list compressors)").one_of(compressor_names());
  params.add(prefix + ".bits", &bits, "int: bits per code").range(2, 8);
  params.add(prefix + ".group_size", &group_size, "int, fp8: values sharing one scale (0 = whole axis)").range(0, 1 << 30);
  params.add(prefix + ".axis", &axis, "int, fp8: groups run along a token's channels or a channel's tokens")
      .one_of({"token", "channel"});
  params.add(prefix + ".fp8_format", &fp8_format, "fp8: OCP FP8 variant").one_of({"e4m3", "e5m2"});
  params.add(prefix + ".zstd_level", &zstd_level, "lossless: zstd level").range(1, 22);
  params.add(prefix + ".format", &format, "texture: block-compression format (bcfeat list formats)")
      .one_of(format_names());
  params.add(prefix + ".quality", &quality,
             "texture: encoder level; formats encoded by libastcenc also take its presets (normal = medium, "
             "high = thorough)")
      .one_of(quality_names());
  params.add(prefix + ".profile", &profile,
             "texture, astc formats: ldr (values mapped into [0, 1]) or hdr (half floats in [0, 65504], as bc6h_uf16)")
      .one_of({"ldr", "hdr"});
  params.add(prefix + ".layout", &layout,
             "texture: what a 4x4 block covers: neighbouring tokens (spatial), 4 tokens x 4 channel groups "
             "(token_channel), or neighbouring channels of one token (channel)")
      .one_of({"spatial", "token_channel", "channel"});
  params.add(prefix + ".value_map", &value_map,
             "texture: affine map into the format's domain, min/max per channel or per texture (fp16, counted)")
      .one_of({"per_channel", "per_texture"});
  params.add(prefix + ".tokens_hw", &tokens_hw,
             "texture: token grid [h, w] of the packed tokens, h*w = N minus kept tokens ([] = square)")
      .range(1, 1 << 16);
  params.add(prefix + ".rotation", &rotation,
             "texture: orthogonal rotation of the channels before packing, inverted after decoding; "
             "hadamard = block Walsh-Hadamard with seeded signs (4-byte seed), "
             "pca = its fp16 D x D matrix (counted, per tensor or per dataset)")
      .one_of({"none", "hadamard", "pca"});
  params.add(prefix + ".channel_order", &channel_order,
             "texture: channel order before packing; variance = decreasing variance, correlation = greedy groups "
             "of correlated channels per texel (permutation stored, counted)")
      .one_of({"identity", "variance", "correlation"});
  params.add(prefix + ".value_scale", &value_scale,
             "texture, bc6h formats: affine = value_map into [0,1]/[-1,1]; direct = values as half floats; "
             "scale = per-channel fp16 scale (max |x| -> 1)")
      .one_of({"affine", "direct", "scale"});
  params.add(prefix + ".scope", &scope,
             "texture: per_tensor = value maps, order and rotation fitted on each tensor and stored in its stream; "
             "per_dataset = fitted once on the calibration split, stored once (shared_bytes)")
      .one_of({"per_tensor", "per_dataset"});
  params.add(prefix + ".device", &device, "texture, int, fp8, fp16, bf16, codebook: encode and decode on the cpu or on cuda (identical bytes; "
             "codebooks are trained on the cpu; lossless is cpu only)")
      .one_of({"cpu", "cuda"});
  params.add(prefix + ".codebook", &codebook,
             "codebook: scalar (Lloyd-Max levels), vector (k-means over sub-vectors), pq (product quantization)")
      .one_of({"scalar", "vector", "pq"});
  params.add(prefix + ".codebook_size", &codebook_size, "codebook: entries K per codebook").range(2, 65536);
  params.add(prefix + ".subvector", &subvector, "codebook (vector, pq): channels per sub-vector").range(1, 64);
  params.add(prefix + ".kmeans_iterations", &kmeans_iterations, "codebook: Lloyd iterations").range(0, 1000);
  params.add(prefix + ".index_format", &index_format,
             "codebook: block format for the index maps (none = indices packed at ceil(log2 K) bits)")
      .one_of([] {
        std::vector<std::string> names{"none"};
        for (const auto& name : format_names()) names.push_back(name);
        return names;
      }());
  params.add(prefix + ".clip_percentile", &clip_percentile,
             "texture: value map from the p-th to the (100-p)-th percentile, values beyond clipped (0 = min/max)")
      .range(0.0, 25.0);
  params.add(prefix + ".outlier_channels", &outlier_channels,
             "texture: the K channels with the widest range stored as fp16 aside (indices and values counted)")
      .range(0, 65535);
  params.add(prefix + ".keep_tokens", &keep_tokens, "texture: tokens (e.g. [0], a CLS token) stored as fp16 aside")
      .range(0, 1 << 30);
}

const std::vector<CompressorEntry>& compressor_registry() {
  static const std::vector<CompressorEntry> registry = {
      {"fp16", "IEEE half precision, 16 bits per value (the reference rate)", make_half_compressor},
      {"bf16", "bfloat16, 16 bits per value", make_bfloat16_compressor},
      {"int", "asymmetric integer group quantization, 2..8 bits, fp16 min/step per group", make_int_compressor},
      {"fp8", "OCP FP8 (e4m3 or e5m2) with an fp16 scale per group", make_fp8_compressor},
      {"lossless", "fp16 codes, byte-shuffled, compressed with zstd (exact fp16)", make_lossless_compressor},
      {"texture", "features as block-compressed textures (BC1-BC7): spatial, token_channel or channel layout", make_texture_compressor},
      {"codebook", "learned fp16 codebooks: scalar Lloyd-Max, vector k-means or product quantization; indices packed or as textures",
       make_codebook_compressor},
  };
  return registry;
}

std::vector<std::string> compressor_names() {
  std::vector<std::string> names;
  for (const auto& entry : compressor_registry()) names.push_back(entry.name);
  return names;
}

std::unique_ptr<Compressor> make_compressor(const CompressionOptions& options) {
  if (options.device == "cuda" && options.method == "lossless") {
    throw_input_error("compression.device cuda: the {} compressor runs on the CPU only", options.method);
  }
  for (const auto& entry : compressor_registry()) {
    if (entry.name == options.method) return entry.make(options);
  }
  throw_input_error("unknown compression.method '{}'{}; valid: {}", options.method,
                    did_you_mean(options.method, compressor_names()), join(compressor_names()));
}

torch::Tensor prepare_features(const torch::Tensor& features, const std::string& what) {
  if (!features.defined() || features.numel() == 0) throw_input_error("{} is empty", what);
  if (!features.is_floating_point()) throw_input_error("{} must hold floating-point values", what);
  if (features.dim() != 2 && features.dim() != 3) {
    throw_input_error("{} has shape [{}]; expected [N, D] or [B, N, D]", what, fmt::join(features.sizes(), ", "));
  }
  torch::Tensor out = features.to(torch::kCPU, torch::kFloat32).contiguous();
  if (out.dim() == 2) out = out.unsqueeze(0);
  const float* x = out.data_ptr<float>();
  for (int64_t i = 0; i < out.numel(); ++i) {
    if (!std::isfinite(x[i])) {
      const int64_t dim = out.size(2), tokens = out.size(1);
      throw_input_error("{} holds {} at [{}, {}, {}]; features must be finite", what, x[i], i / (tokens * dim),
                        (i / dim) % tokens, i % dim);
    }
  }
  return out;
}

}  // namespace bcfeat
