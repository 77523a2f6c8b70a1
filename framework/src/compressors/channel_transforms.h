// What the texture compressor does to channels before it packs them into textures, and
// undoes after decoding; each piece is a plain function of the tensor so that other
// compressors (and the GPU decode path) can share it.
//
// Outliers: the `count` channels with the widest range (ties: lower index) leave the
// textures and are stored as fp16 aside. Rotations: `pca` (eigenvectors of the channels'
// uncentred second moments by decreasing eigenvalue, stored as an fp16 D'×D' matrix; encoder
// and decoder both use the stored matrix: y = x·V, x = y·V⁻¹ with V⁻¹ from V in double) or
// `hadamard` (orthonormal Walsh–Hadamard blocks of the powers of two that sum to D', largest
// first and at most 256 wide, after sign flips drawn from a stored u32 seed). Channel orders:
// `variance` (decreasing, ties by index) or `correlation` (a greedy chain: start from the
// widest channel, repeatedly append the remaining channel most correlated, |ρ|, with the last
// one), so that similar channels share texels and blocks.
//
// Value maps take values into a format's domain: `affine` maps [low, high] (min/max, or the
// clip_percentile-th to (100 − clip_percentile)-th percentiles, nearest rank, values beyond
// clipped; both fp16, rounded outward) onto [0, 1] or [−1, 1]; `scale` divides by one fp16
// scale (max |x|, rounded up) per map, clamping to the domain; `direct` stores values as they
// are (half-float domains only). Maps are per channel, or per (image, channel).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <torch/types.h>

namespace bcfeat {

// Little-endian u16 and fp16 values in and out of a byte stream. Reading past the end throws
// InputError (a truncated or corrupt stream).
void append_u16(std::vector<uint8_t>& bytes, uint32_t value);
uint16_t read_u16(const std::vector<uint8_t>& bytes, size_t& position);
void append_half(std::vector<uint8_t>& bytes, const torch::Tensor& values);  // throws beyond the fp16 range
torch::Tensor read_half(const std::vector<uint8_t>& bytes, size_t& position, std::vector<int64_t> shape);

// 0..n−1 without the (sorted) `removed`, as an index tensor.
torch::Tensor complement_index(int64_t n, const std::vector<int64_t>& removed);

// Features are float32 [B, N, D] throughout.
std::vector<int64_t> widest_channels(const torch::Tensor& features, int64_t count);  // sorted
torch::Tensor hadamard_rotate(const torch::Tensor& features, uint32_t seed, bool inverse);
std::vector<uint16_t> pca_rotation(const torch::Tensor& features);  // fp16 bits, row-major D×D
torch::Tensor matrix_rotate(const torch::Tensor& features, const std::vector<uint16_t>& matrix, bool inverse);
std::vector<int64_t> variance_order(const torch::Tensor& features);
std::vector<int64_t> correlation_order(const torch::Tensor& features);

enum class ValueScale { kAffine, kDirect, kScale };
ValueScale parse_value_scale(const std::string& name);  // affine | direct | scale

struct ValueMap {
  ValueScale scale = ValueScale::kAffine;
  double clip_percentile = 0.0;
  // fp16 words of one map: (low, high) for affine, one scale otherwise.
  int stride() const { return scale == ValueScale::kAffine ? 2 : 1; }
  // Maps for every channel (or every (image, channel) with per_image), as fp16 bits.
  std::vector<uint16_t> fit(const torch::Tensor& features, bool per_image = false) const;
  // A feature value into the format's domain under `map`, and back.
  float to_domain(float v, const uint16_t* map, bool is_signed) const;
  float from_domain(float texel, const uint16_t* map, bool is_signed) const;
};

}  // namespace bcfeat
