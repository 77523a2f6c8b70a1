// Attention over block-compressed (or int group-quantised) keys and values: the storage of K
// and V per (image, head), its CPU decode and reference attention, and the CUDA kernels that
// decode the stored blocks inside a tiled attention (FlashAttention's online softmax) instead
// of materialising K and V.
//
// Storage of one of K or V, [pairs = batch · heads][tokens][dim] float32 in:
//   block formats (BC1, BC3, BC4, BC5, BC7 in [0, 1]; BC6H signed half floats): per pair, a
//     texture `groups` texels wide (texel g holds channels g·slots … g·slots + slots − 1, slots
//     = the format's value channels) and `padded_tokens` texels tall (token t in row t; the
//     last token replicated to a multiple of 4), so a block covers 4 tokens × 4·slots channels
//     of one head. Pairs are stored one after the other, blocks row-major within a pair.
//     Values reach [0, 1] through an affine map (low, step) in fp16: keys per channel of each
//     pair (their outlier channels keep their own range), values per token of each pair;
//     value = low + unit · step. BC6H stores the values themselves (no map).
//   int (4 or 8 bits, KIVI-style group quantisation): codes packed little-endian along the
//     channels; keys grouped per channel over `group` tokens, values per token over `group`
//     channels, each group with (low, step) in fp16; value = low + code · step.
// The side information (maps) is counted in `side_bytes`; padding texels and padding channels
// are in `data_bytes`. Every decoder (CPU, CUDA software, texture units) computes the value
// with the same float operations, so decoded K/V agree bit for bit across them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bcfeat/kernels/feature_decode.h"
#include "bcfeat/kernels/format.h"

namespace bcfeat {

enum class KvRole : int { kKeys, kValues };

struct KvShape {
  int batch = 0, heads = 0, tokens = 0, dim = 0;
  int64_t pairs() const { return static_cast<int64_t>(batch) * heads; }
  int64_t values() const { return pairs() * tokens * dim; }
};

// How K or V is stored: a block format, or int group quantisation (format == nullptr).
struct KvCodec {
  const FormatInfo* format = nullptr;
  int int_bits = 0;  // 4 or 8 when format is null
  int group = 0;     // int: tokens per key group, channels per value group (0 = 64 tokens / dim channels)
  Quality quality = Quality::kNormal;
  std::string name() const;  // "bc4_unorm", "int4_g64", ...
};

// Parses "bc4_unorm", "bc7", "bc6h_sf16", "int4", "int8", "int4_g32" (group 32); throws
// std::invalid_argument naming the accepted names for anything else.
KvCodec parse_kv_codec(const std::string& name);
// The codec names `parse_kv_codec` accepts, for help texts and errors.
std::vector<std::string> kv_codec_names();

struct KvLayout {
  KvShape shape;
  KvRole role = KvRole::kKeys;
  KvCodec codec;
  // block formats
  int slots = 0, groups = 0, blocks_x = 0, padded_tokens = 0, bytes_per_block = 0;
  MapKind map = MapKind::kAffine;  // kAffine, or kDirect for BC6H
  // int
  int group = 0, map_groups = 0;  // map_groups: key groups along tokens / value groups along channels
  int64_t data_bytes = 0, side_bytes = 0;

  bool is_block() const { return codec.format != nullptr; }
  int64_t blocks_per_pair() const { return static_cast<int64_t>(padded_tokens / 4) * blocks_x; }
  int64_t bytes_per_token_int() const { return (static_cast<int64_t>(shape.dim) * codec.int_bits + 7) / 8; }
  // (low, step) pairs of fp16 per pair: dim (block keys), tokens (block values),
  // map_groups · dim (int keys) or tokens · map_groups (int values).
  int64_t maps_per_pair() const;
  int64_t bytes() const { return data_bytes + side_bytes; }
};

// Throws std::invalid_argument for shapes or codecs it cannot store (dims, group sizes).
KvLayout kv_layout(const KvShape& shape, KvRole role, const KvCodec& codec);

struct CompressedKv {
  KvLayout layout;
  std::vector<uint8_t> data;   // blocks or packed codes
  std::vector<uint16_t> side;  // fp16 (low, step) pairs, maps_per_pair() per pair
};

// Compresses x [pairs][tokens][dim] (finite floats; checked) with the format's encoder on
// `encoder` (kCpu or kCuda). Throws std::invalid_argument naming the problem.
CompressedKv compress_kv(const float* x, const KvShape& shape, KvRole role, const KvCodec& codec,
                         Backend encoder = Backend::kCpu);
// The stored values, [pairs][tokens][dim] float32 (CPU).
std::vector<float> decode_kv(const CompressedKv& kv);

// Reference attention on the CPU: q [batch][heads][queries][dim]; K and V decoded and rounded
// to the activation type (`half_precision`: fp16, else bf16) as the GPU kernels stage them,
// queries likewise; scores and the weighted sum in double; out [batch][heads][queries][dim].
// padding: [batch][tokens], non-zero = the key is ignored; a row with every key ignored gives 0.
std::vector<float> attention_reference(const float* q, int queries, const CompressedKv& keys,
                                       const CompressedKv& values, const uint8_t* padding, float scale,
                                       bool half_precision = true);

// ---- CUDA ------------------------------------------------------------------------------

// K or V on the device: the stored bytes, their maps and, for the texture-unit kernels, a
// block-compressed array holding the same blocks (pairs side by side in bands of rows).
class DeviceKv {
 public:
  DeviceKv() = default;
  // Uploads `kv`; `texture` also builds the block-compressed array (block formats only).
  DeviceKv(const CompressedKv& kv, bool texture);
  ~DeviceKv();
  DeviceKv(DeviceKv&& other) noexcept;
  DeviceKv& operator=(DeviceKv&& other) noexcept;
  DeviceKv(const DeviceKv&) = delete;
  DeviceKv& operator=(const DeviceKv&) = delete;

  const KvLayout& layout() const { return layout_; }
  const uint8_t* data() const { return data_; }
  const uint16_t* side() const { return side_; }
  bool has_texture() const { return texture_ != 0; }
  unsigned long long texture() const { return texture_; }
  int pairs_per_band() const { return pairs_per_band_; }  // pairs side by side in the array
  int64_t device_bytes() const { return layout_.bytes(); }

 private:
  void release();
  KvLayout layout_;
  uint8_t* data_ = nullptr;
  uint16_t* side_ = nullptr;
  void* array_ = nullptr;
  unsigned long long texture_ = 0;
  int pairs_per_band_ = 0;
};

struct KvAttentionParams {
  int batch = 0, heads = 0, queries = 0, dim = 0, tokens = 0;
  ElementType type = ElementType::kFloat16;  // of q, out and the staged K/V (fp16 or bf16)
  const void* q = nullptr;                   // [batch][heads][queries][dim]
  void* out = nullptr;                       // [batch][heads][queries][dim]
  const uint8_t* padding = nullptr;          // [batch][tokens], non-zero = ignore; may be null
  float scale = 0.0f;                        // softmax scale (1/sqrt(dim) when 0)
  const DeviceKv* keys = nullptr;
  const DeviceKv* values = nullptr;
  int splits = 0;  // key ranges per (image, head), combined afterwards; 0 = chosen for the device
};

// The fused kernel: backend kCuda decodes blocks (or int codes) in software, kTexture fetches
// K/V texels through the texture units. Device pointers; work queued on `stream`. Throws
// std::invalid_argument for unsupported shapes (dim > 128 or not a multiple of 4; int: dim a
// multiple of 8, key groups of a multiple of 4 tokens, value groups of a multiple of 8
// channels; queries > 64), codecs or backends, std::runtime_error without a GPU. Up to 4
// queries run the register kernel, more the staged-tile kernel (kv_attention.cu).
void kv_attention(const KvAttentionParams& params, Backend backend, CudaStream stream);
// The unfused baseline's first half: K or V decoded to [pairs][tokens][dim] in `type`.
void decode_kv_device(const DeviceKv& kv, ElementType type, void* out, CudaStream stream);

}  // namespace bcfeat
