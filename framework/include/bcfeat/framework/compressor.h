// Compressors: a feature tensor [B, N, D] to bytes and back, with an exact byte count.
//
// Every compressor produces the actual byte stream a deployment would store (codes packed
// to their bit width, side information such as scales in fp16), so `bytes.size()` is the
// rate, not an estimate. Only the tensor's shape, which the reader needs anyway, lives
// outside the stream. Compressors are chosen by `compression.method` from a registry that
// `bcfeat list compressors` prints.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <torch/types.h>

#include "bcfeat/framework/params.h"

namespace bcfeat {

// Options of every compressor, under `compression.` in a config. Each method reads the
// fields it documents; the rest keep their defaults.
struct CompressionOptions {
  std::string method = "fp16";   // registry name
  int bits = 8;                  // int: code width
  int group_size = 128;          // int, fp8: values per scale group (0 = the whole axis)
  std::string axis = "token";    // int, fp8: group along each token's channels, or each channel's tokens
  std::string fp8_format = "e4m3";
  int zstd_level = 19;               // lossless: zstd compression level
  std::string format = "bc4_snorm";  // texture: block-compression format (bcfeat list formats)
  std::string quality = "normal";    // texture: encoder level (ASTC: or a libastcenc preset)
  std::string profile = "ldr";       // texture, astc formats: ldr | hdr
  std::string layout = "spatial";    // texture: spatial | token_channel | channel
  std::string value_map = "per_channel";  // texture: affine map into the format's domain
  std::vector<int> tokens_hw;        // texture: token grid [h, w] (empty: N must be a square)
  std::vector<int> keep_tokens;      // texture: token indices stored as fp16 outside the textures
  int outlier_channels = 0;          // texture: widest-range channels stored as fp16 outside
  double clip_percentile = 0.0;      // texture: value map spans [p, 100 − p] percentiles
  std::string channel_order = "identity";  // texture: identity | variance
  std::string rotation = "none";     // texture: none | hadamard | pca
  std::string value_scale = "affine";  // texture, bc6h: affine map | direct values | per-channel scale
  std::string scope = "per_tensor";  // texture: side information fitted per tensor or once per dataset
  std::string device = "cpu";        // texture: where blocks are encoded and decoded (cpu | cuda)
  std::string codebook = "vector";   // codebook: scalar | vector | pq
  int codebook_size = 256;           // codebook: entries K
  int subvector = 4;                 // codebook (vector, pq): values per sub-vector
  int kmeans_iterations = 20;        // codebook: Lloyd iterations
  std::string index_format = "none";  // codebook: block format for the index maps (none = packed bits)

  void declare(ParamSet& params, const std::string& prefix = "compression");
};

struct Compressed {
  std::vector<uint8_t> bytes;  // the whole stream
  int64_t side_bytes = 0;      // how much of it is side information (scales, offsets, ...)
  std::vector<int64_t> shape;  // [B, N, D]
};

class Compressor {
 public:
  virtual ~Compressor() = default;
  // Fits the side information shared by every tensor of a dataset on calibration features
  // [B, N, D] (codebooks; the texture maps with scope per_dataset). A compressor that is
  // not fitted fits on each tensor it compresses and stores that in the tensor's stream.
  virtual void fit(const torch::Tensor& calibration) { (void)calibration; }
  // Bytes of the fitted shared state, stored once per dataset (0 when nothing is shared).
  virtual int64_t shared_bytes() const { return 0; }
  // `features`: float32, contiguous, CPU, shape [B, N, D], finite.
  virtual Compressed compress(const torch::Tensor& features) const = 0;
  virtual torch::Tensor decompress(const Compressed& data) const = 0;
};

struct CompressorEntry {
  std::string name;
  std::string description;
  std::function<std::unique_ptr<Compressor>(const CompressionOptions&)> make;
};

const std::vector<CompressorEntry>& compressor_registry();
std::vector<std::string> compressor_names();
// Throws InputError for an unknown method (listing the valid ones) or invalid options.
std::unique_ptr<Compressor> make_compressor(const CompressionOptions& options);

// Checks a feature tensor at the boundary: float, 2-D or 3-D, non-empty, all finite.
// Returns it as contiguous float32 CPU [B, N, D] (2-D input gets B = 1). `what` names it.
torch::Tensor prepare_features(const torch::Tensor& features, const std::string& what);

}  // namespace bcfeat
