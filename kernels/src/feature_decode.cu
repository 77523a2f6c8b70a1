// Fused decode of spatial-layout feature textures into [B, N, D] (feature_decode.h), in the
// four layers: kernel → launcher on raw pointers and a stream → switch from the runtime
// format and output type to template parameters → host entry that checks the request.
//
// One CTA takes the block at one position (bx, by) of every channel group of one image: its
// threads walk the groups, so a warp's lanes decode the same block position of neighbouring
// groups and store neighbouring channels of the same 16 tokens. The value map is the texture
// compressor's from_domain with the same float operations (the library is compiled without
// FMA contraction), so float32 outputs equal its CPU decode bit for bit.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <stdexcept>
#include <string>

#include "bcfeat/kernels/codec.h"
#include "bcfeat/kernels/feature_decode.h"
#include "block_access.h"
#include "blocks/block_codec.h"
#include "cuda_util.cuh"
#include "texture_units.cuh"

namespace bcfeat {

namespace {

using cuda_util::check_cuda;
using cuda_util::require_gpu;

constexpr int kThreads = 128;

__device__ __forceinline__ void store(float* out, int64_t i, float v) { out[i] = v; }
__device__ __forceinline__ void store(__half* out, int64_t i, float v) { out[i] = __float2half_rn(v); }
__device__ __forceinline__ void store(__nv_bfloat16* out, int64_t i, float v) { out[i] = __float2bfloat16_rn(v); }

// The value of packed channel d from its texel value (ValueMap::from_domain).
__device__ __forceinline__ float half_value(uint16_t bits) { return __half2float(__ushort_as_half(bits)); }

__device__ __forceinline__ float from_domain(const SpatialFeatureDecode& p, int d, float texel) {
  if (p.map == MapKind::kDirect) return texel;
  if (p.map == MapKind::kScale) return texel * half_value(p.maps[d]);
  const float low = half_value(p.maps[2 * d]), high = half_value(p.maps[2 * d + 1]);
  const float unit = p.is_signed ? (texel + 1.0f) * 0.5f : texel;
  return low + unit * (high - low);
}

// Writes the 16 texels of the block at (bx, by) of group g of image b.
template <class Out>
__device__ __forceinline__ void write_block(const SpatialFeatureDecode& p, int b, int g, int bx, int by,
                                           const float texels[16][4], Out* out) {
  for (int i = 0; i < 16; ++i) {
    const int x = bx * 4 + (i & 3), y = by * 4 + (i >> 2);
    if (x >= p.grid_w || y >= p.grid_h) continue;
    const int t = y * p.grid_w + x;
    const int64_t row = (static_cast<int64_t>(b) * p.out_tokens + (p.token_out ? p.token_out[t] : t)) * p.out_dim;
    for (int c = 0; c < p.slots; ++c) {
      const int d = g * p.slots + c;
      if (d >= p.dim) break;
      store(out, row + (p.channel_out ? p.channel_out[d] : d), from_domain(p, d, texels[i][c]));
    }
  }
}

template <FormatId kFormat, int kBytes, bool kAligned, class Out>
__global__ void __launch_bounds__(kThreads)
    decode_features_kernel(SpatialFeatureDecode p, const uint8_t* __restrict__ blocks, int blocks_x,
                           int64_t texture_blocks, Out* __restrict__ out) {
  const int position = blockIdx.x, b = blockIdx.y;
  const int bx = position % blocks_x, by = position / blocks_x;
  const int groups = p.groups();
  for (int g = threadIdx.x; g < groups; g += blockDim.x) {
    const int64_t block = (static_cast<int64_t>(b) * groups + g) * texture_blocks + position;
    uint8_t bytes[kBytes];
    load_block<kBytes, kAligned>(blocks, block, bytes);
    float texels[16][4];
    decode_block(kFormat, bytes, texels);
    write_block(p, b, g, bx, by, texels, out);
  }
}

// The texture units: textures [first, first + count) of the stack live in `texture`, stacked
// along y, padded_height texel rows each.
template <class Out>
__global__ void __launch_bounds__(kThreads)
    fetch_features_kernel(SpatialFeatureDecode p, cudaTextureObject_t texture, int blocks_x, int padded_height,
                          int64_t first, int64_t count, Out* __restrict__ out) {
  const int position = blockIdx.x, b = blockIdx.y;
  const int bx = position % blocks_x, by = position / blocks_x;
  const int groups = p.groups();
  for (int g = threadIdx.x; g < groups; g += blockDim.x) {
    const int64_t index = static_cast<int64_t>(b) * groups + g - first;
    if (index < 0 || index >= count) continue;
    float texels[16][4];
    for (int i = 0; i < 16; ++i) {
      const float4 v = tex2D<float4>(texture, bx * 4 + (i & 3) + 0.5f,
                                     static_cast<float>(index * padded_height + by * 4 + (i >> 2)) + 0.5f);
      texels[i][0] = v.x;
      texels[i][1] = v.y;
      texels[i][2] = v.z;
      texels[i][3] = v.w;
    }
    write_block(p, b, g, bx, by, texels, out);
  }
}

template <class Out>
void launch_software(const SpatialFeatureDecode& p, const uint8_t* blocks, Out* out, cudaStream_t stream) {
  const BlockGrid grid = block_grid(*p.format, p.grid_w, p.grid_h);
  const dim3 launch(static_cast<unsigned>(grid.blocks()), static_cast<unsigned>(p.batch));
  // Blocks inside a stream may start off their size's alignment (after the side information).
  const bool aligned = reinterpret_cast<uintptr_t>(blocks) % p.format->bytes_per_block == 0;
#define BCFEAT_FEATURE_CASE(ID, BYTES)                                                                            \
  case ID:                                                                                                        \
    if (aligned) {                                                                                                \
      decode_features_kernel<ID, BYTES, true, Out>                                                                \
          <<<launch, kThreads, 0, stream>>>(p, blocks, grid.blocks_x, grid.blocks(), out);                        \
    } else {                                                                                                      \
      decode_features_kernel<ID, BYTES, false, Out>                                                               \
          <<<launch, kThreads, 0, stream>>>(p, blocks, grid.blocks_x, grid.blocks(), out);                        \
    }                                                                                                             \
    break;
  switch (p.format->id) {
    BCFEAT_FEATURE_CASE(FormatId::kBC1, 8)
    BCFEAT_FEATURE_CASE(FormatId::kBC2, 16)
    BCFEAT_FEATURE_CASE(FormatId::kBC3, 16)
    BCFEAT_FEATURE_CASE(FormatId::kBC4Unorm, 8)
    BCFEAT_FEATURE_CASE(FormatId::kBC4Snorm, 8)
    BCFEAT_FEATURE_CASE(FormatId::kBC5Unorm, 16)
    BCFEAT_FEATURE_CASE(FormatId::kBC5Snorm, 16)
    BCFEAT_FEATURE_CASE(FormatId::kBC6HUf16, 16)
    BCFEAT_FEATURE_CASE(FormatId::kBC6HSf16, 16)
    BCFEAT_FEATURE_CASE(FormatId::kBC7, 16)
    default:
      throw std::invalid_argument(std::string("no fused feature decoder for ") + p.format->name);
  }
#undef BCFEAT_FEATURE_CASE
  check_cuda(cudaGetLastError(), "feature decode launch");
}

template <class Out>
void launch_texture(const SpatialFeatureDecode& p, const uint8_t* blocks, Out* out, cudaStream_t stream) {
  const BlockGrid grid = block_grid(*p.format, p.grid_w, p.grid_h);
  const int padded_height = grid.blocks_y * 4;
  const int64_t textures = static_cast<int64_t>(p.batch) * p.groups();
  const int64_t texture_bytes = grid.blocks() * p.format->bytes_per_block;
  // Textures stacked along y in arrays of at most kTextureRows rows.
  const int64_t per_array = std::max<int64_t>(1, kTextureRows / padded_height);
  for (int64_t first = 0; first < textures; first += per_array) {
    const int64_t count = std::min(per_array, textures - first);
    BlockTexture texture(*p.format, blocks + first * texture_bytes, grid.blocks_x * 4,
                         static_cast<int>(count * padded_height), stream);
    const int64_t first_image = first / p.groups(), last_image = (first + count - 1) / p.groups();
    const dim3 launch(static_cast<unsigned>(grid.blocks()), static_cast<unsigned>(last_image - first_image + 1));
    SpatialFeatureDecode shifted = p;  // images [first_image, last_image] of this band
    Out* band_out = out + first_image * static_cast<int64_t>(p.out_tokens) * p.out_dim;
    shifted.batch = static_cast<int>(last_image - first_image + 1);
    fetch_features_kernel<Out><<<launch, kThreads, 0, stream>>>(shifted, texture.texture, grid.blocks_x, padded_height,
                                                               first - first_image * p.groups(), count, band_out);
    check_cuda(cudaGetLastError(), "feature fetch launch");
  }
}

template <class Out>
void launch(const SpatialFeatureDecode& p, Backend backend, const uint8_t* blocks, cudaStream_t stream) {
  Out* out = static_cast<Out*>(p.out);
  if (backend == Backend::kTexture) {
    launch_texture(p, blocks, out, stream);
  } else {
    launch_software(p, blocks, out, stream);
  }
}

}  // namespace

void decode_spatial_features(const SpatialFeatureDecode& p, Backend backend, const uint8_t* blocks,
                             CudaStream stream) {
  if (!p.format || !spatial_feature_decode_supported(*p.format, backend)) {
    throw std::invalid_argument(std::string("no fused ") + backend_name(backend) + " feature decoder for " +
                                (p.format ? p.format->name : "no format"));
  }
  if (p.batch <= 0 || p.grid_h <= 0 || p.grid_w <= 0 || p.dim <= 0 || p.slots <= 0 || !p.out ||
      (p.map != MapKind::kDirect && !p.maps)) {
    throw std::invalid_argument("decode_spatial_features: empty request");
  }
  require_gpu();
  const auto cuda_stream = static_cast<cudaStream_t>(stream);
  switch (p.out_type) {
    case ElementType::kFloat32: launch<float>(p, backend, blocks, cuda_stream); break;
    case ElementType::kFloat16: launch<__half>(p, backend, blocks, cuda_stream); break;
    case ElementType::kBFloat16: launch<__nv_bfloat16>(p, backend, blocks, cuda_stream); break;
  }
}

}  // namespace bcfeat
