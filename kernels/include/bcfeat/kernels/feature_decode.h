// Block-compressed feature textures decoded straight into a model's [B, N, D] tensor on the
// GPU, the inverse value map, channel order and token placement applied in the same pass.
//
// The textures are the texture compressor's spatial layout: per image b and channel group g
// one texture of the grid_h x grid_w token grid, whose texel (x, y) holds channels
// g·slots … g·slots + slots − 1 of token y·grid_w + x; textures are stored image-major, then
// group, back to back. One CTA decodes the block at one position of every group of an image,
// so a warp's stores cover neighbouring channels of the same tokens (contiguous rows of the
// output when the channel map is the identity). The values equal the compressor's CPU decode
// bit for bit (float32), rounded to the output type by round-to-nearest-even.
#pragma once

#include <cstdint>

#include "bcfeat/kernels/format.h"
#include "bcfeat/kernels/host_device.h"

namespace bcfeat {

enum class ElementType : int { kFloat32, kFloat16, kBFloat16 };
enum class MapKind : int { kAffine, kScale, kDirect };  // the texture compressor's value_scale

struct SpatialFeatureDecode {
  const FormatInfo* format = nullptr;
  Profile profile = Profile::kLdr;
  int batch = 0, grid_h = 0, grid_w = 0;
  int dim = 0;    // packed channels D' (those in the textures)
  int slots = 0;  // channels a texel holds (format.value_channels)
  MapKind map = MapKind::kAffine;
  bool is_signed = false;  // the format's domain is snorm or signed half
  // The value maps as the stream stores them, fp16 bits: (low, high) per packed channel
  // (affine) or one scale (scale); unused for direct. Read in place, e.g. from the stream.
  const uint16_t* maps = nullptr;
  const int32_t* channel_out = nullptr;  // [D'] output channel of each packed channel (nullptr: the same)
  const int32_t* token_out = nullptr;    // [grid_h·grid_w] output token of each packed token (nullptr: the same)
  int out_tokens = 0, out_dim = 0;       // the output tensor's N and D
  ElementType out_type = ElementType::kFloat32;
  void* out = nullptr;  // [batch][out_tokens][out_dim]; positions no packed value maps to are not written

  BCFEAT_HD int groups() const { return (dim + slots - 1) / slots; }
};

// Software block decode (backend kCuda: the BC formats) or the texture units (kTexture).
// Device pointers throughout; work queued on `stream`. Throws std::invalid_argument for a
// format or backend it has no kernel for, std::runtime_error without a usable GPU.
bool spatial_feature_decode_supported(const FormatInfo& format, Backend backend);
void decode_spatial_features(const SpatialFeatureDecode& params, Backend backend, const uint8_t* blocks,
                             CudaStream stream);

}  // namespace bcfeat
