// Fused decode of spatial-layout feature textures into [B, N, D] (feature_decode.h), in the
// four layers: kernel → launcher on raw pointers and a stream → switch from the runtime
// format and output type to template parameters → host entry that checks the request.
//
// One CTA takes the block at one position (bx, by) of every channel group of one image: its
// threads walk the groups, decode their blocks (or fetch them through the texture units) and
// stage the values of the 16 tokens in shared memory in the output's channel order, then the
// CTA writes those tokens' rows with 16-byte stores. The value map is the texture compressor's
// from_domain with the same float operations (the library is compiled without FMA
// contraction), so float32 outputs equal its CPU decode bit for bit. The texture path keeps
// one block-compressed array per shape and copies each call's blocks into it.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <tuple>

#include "bcfeat/kernels/codec.h"
#include "bcfeat/kernels/feature_decode.h"
#include "block_access.h"
#include "blocks/block_codec.h"
#include "cuda_util.cuh"
#include "texture_units.cuh"

namespace bcfeat {

namespace {

using cuda_util::allow_shared;
using cuda_util::check_cuda;
using cuda_util::require_gpu;

constexpr int kThreads = 256;

template <class Out> __device__ __forceinline__ Out to_out(float v);
template <> __device__ __forceinline__ float to_out<float>(float v) { return v; }
template <> __device__ __forceinline__ __half to_out<__half>(float v) { return __float2half_rn(v); }
template <> __device__ __forceinline__ __nv_bfloat16 to_out<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }

__device__ __forceinline__ float half_value(uint16_t bits) { return __half2float(__ushort_as_half(bits)); }

// A CTA's shared memory: the value maps of every packed channel as (low, high) or (scale, 0)
// floats, then the decoded values of the block position's 16 tokens in the output's channel
// order and type.
template <class Out>
struct Staging {
  float2* maps;  // [dim]
  Out* rows;     // [16][out_dim]
  __device__ Staging(const SpatialFeatureDecode& p, char* shared) {
    maps = reinterpret_cast<float2*>(shared);
    rows = reinterpret_cast<Out*>(shared + ((static_cast<size_t>(p.dim) * sizeof(float2) + 15) / 16) * 16);
  }
};

template <class Out>
size_t staging_bytes(const SpatialFeatureDecode& p) {
  return ((static_cast<size_t>(p.dim) * sizeof(float2) + 15) / 16) * 16 + 16 * static_cast<size_t>(p.out_dim) * sizeof(Out);
}

template <class Out>
__device__ __forceinline__ void load_maps(const SpatialFeatureDecode& p, Staging<Out>& s) {
  for (int d = threadIdx.x; d < p.dim; d += blockDim.x) {
    if (p.map == MapKind::kAffine) {
      s.maps[d] = make_float2(half_value(p.maps[2 * d]), half_value(p.maps[2 * d + 1]));
    } else if (p.map == MapKind::kScale) {
      s.maps[d] = make_float2(half_value(p.maps[d]), 0.0f);
    }
  }
}

// The value of packed channel d from its texel value: ValueMap::from_domain's operations.
__device__ __forceinline__ float from_domain(const SpatialFeatureDecode& p, float2 map, float texel) {
  if (p.map == MapKind::kDirect) return texel;
  if (p.map == MapKind::kScale) return texel * map.x;
  const float unit = p.is_signed ? (texel + 1.0f) * 0.5f : texel;
  return map.x + unit * (map.y - map.x);
}

// Stages the 16 texels of group g's block.
template <class Out>
__device__ __forceinline__ void stage_block(const SpatialFeatureDecode& p, Staging<Out>& s, int g,
                                           const float texels[16][4]) {
  for (int c = 0; c < p.slots; ++c) {
    const int d = g * p.slots + c;
    if (d >= p.dim) break;
    const int column = p.channel_out ? p.channel_out[d] : d;
    const float2 map = s.maps[d];
    for (int i = 0; i < 16; ++i) s.rows[i * p.out_dim + column] = to_out<Out>(from_domain(p, map, texels[i][c]));
  }
}

// Writes the staged rows of the tokens inside the grid, 16 bytes a store where the rows allow.
template <class Out>
__device__ __forceinline__ void write_rows(const SpatialFeatureDecode& p, const Staging<Out>& s, int b, int bx,
                                          int by, Out* out) {
  const int row_bytes = p.out_dim * static_cast<int>(sizeof(Out));
  const bool vectors = row_bytes % 16 == 0;
  const int words = vectors ? row_bytes / 16 : p.out_dim;
  for (int k = threadIdx.x; k < 16 * words; k += blockDim.x) {
    const int i = k / words, w = k % words;
    const int x = bx * 4 + (i & 3), y = by * 4 + (i >> 2);
    if (x >= p.grid_w || y >= p.grid_h) continue;
    const int t = y * p.grid_w + x;
    Out* row = out + (static_cast<int64_t>(b) * p.out_tokens + (p.token_out ? p.token_out[t] : t)) * p.out_dim;
    if (vectors) {
      reinterpret_cast<uint4*>(row)[w] = reinterpret_cast<const uint4*>(s.rows + i * p.out_dim)[w];
    } else {
      row[w] = s.rows[i * p.out_dim + w];
    }
  }
}

template <FormatId kFormat, int kBytes, bool kAligned, class Out>
__global__ void __launch_bounds__(kThreads)
    decode_features_kernel(SpatialFeatureDecode p, const uint8_t* __restrict__ blocks, int blocks_x,
                           int64_t texture_blocks, Out* __restrict__ out) {
  extern __shared__ __align__(16) char shared[];
  Staging<Out> s(p, shared);
  load_maps(p, s);
  __syncthreads();
  const int position = blockIdx.x, b = blockIdx.y;
  const int groups = p.groups();
  for (int g = threadIdx.x; g < groups; g += blockDim.x) {
    uint8_t bytes[kBytes];
    load_block<kBytes, kAligned>(blocks, (static_cast<int64_t>(b) * groups + g) * texture_blocks + position, bytes);
    float texels[16][4];
    decode_block(kFormat, bytes, texels);
    stage_block(p, s, g, texels);
  }
  __syncthreads();
  write_rows(p, s, b, position % blocks_x, position / blocks_x, out);
}

// The texture units: textures [first, first + count) of the stack live in `texture`, stacked
// along y, padded_height texel rows each.
template <class Out>
__global__ void __launch_bounds__(kThreads)
    fetch_features_kernel(SpatialFeatureDecode p, cudaTextureObject_t texture, int blocks_x, int padded_height,
                          int64_t first, int64_t count, Out* __restrict__ out) {
  extern __shared__ __align__(16) char shared[];
  Staging<Out> s(p, shared);
  load_maps(p, s);
  __syncthreads();
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
    stage_block(p, s, g, texels);
  }
  __syncthreads();
  write_rows(p, s, b, bx, by, out);
}

template <FormatId kFormat, int kBytes, class Out>
void launch_format(const SpatialFeatureDecode& p, const uint8_t* blocks, Out* out, cudaStream_t stream) {
  const BlockGrid grid = block_grid(*p.format, p.grid_w, p.grid_h);
  const dim3 launch(static_cast<unsigned>(grid.blocks()), static_cast<unsigned>(p.batch));
  const size_t shared = staging_bytes<Out>(p);
  // Blocks inside a stream may start off their size's alignment (after the side information).
  if (reinterpret_cast<uintptr_t>(blocks) % kBytes == 0) {
    auto kernel = decode_features_kernel<kFormat, kBytes, true, Out>;
    allow_shared(kernel, shared);
    kernel<<<launch, kThreads, shared, stream>>>(p, blocks, grid.blocks_x, grid.blocks(), out);
  } else {
    auto kernel = decode_features_kernel<kFormat, kBytes, false, Out>;
    allow_shared(kernel, shared);
    kernel<<<launch, kThreads, shared, stream>>>(p, blocks, grid.blocks_x, grid.blocks(), out);
  }
}

template <class Out>
void launch_software(const SpatialFeatureDecode& p, const uint8_t* blocks, Out* out, cudaStream_t stream) {
  switch (p.format->id) {
    case FormatId::kBC1: launch_format<FormatId::kBC1, 8>(p, blocks, out, stream); break;
    case FormatId::kBC2: launch_format<FormatId::kBC2, 16>(p, blocks, out, stream); break;
    case FormatId::kBC3: launch_format<FormatId::kBC3, 16>(p, blocks, out, stream); break;
    case FormatId::kBC4Unorm: launch_format<FormatId::kBC4Unorm, 8>(p, blocks, out, stream); break;
    case FormatId::kBC4Snorm: launch_format<FormatId::kBC4Snorm, 8>(p, blocks, out, stream); break;
    case FormatId::kBC5Unorm: launch_format<FormatId::kBC5Unorm, 16>(p, blocks, out, stream); break;
    case FormatId::kBC5Snorm: launch_format<FormatId::kBC5Snorm, 16>(p, blocks, out, stream); break;
    case FormatId::kBC6HUf16: launch_format<FormatId::kBC6HUf16, 16>(p, blocks, out, stream); break;
    case FormatId::kBC6HSf16: launch_format<FormatId::kBC6HSf16, 16>(p, blocks, out, stream); break;
    case FormatId::kBC7: launch_format<FormatId::kBC7, 16>(p, blocks, out, stream); break;
    default: throw std::invalid_argument(std::string("no fused feature decoder for ") + p.format->name);
  }
  check_cuda(cudaGetLastError(), "feature decode launch");
}

// Block-compressed arrays kept between calls, one per (format, width, height): the blocks of
// each call are copied in, so nothing is allocated, freed or synchronised per batch.
struct CachedArray {
  cudaArray_t array = nullptr;
  cudaTextureObject_t texture = 0;
};

CachedArray& cached_array(const FormatInfo& format, int width, int height) {
  static std::mutex mutex;
  static std::map<std::tuple<int, int, int>, CachedArray> arrays;
  std::lock_guard<std::mutex> lock(mutex);
  CachedArray& cached = arrays[{static_cast<int>(format.id), width, height}];
  if (cached.array) return cached;
  const cudaChannelFormatDesc desc = texture_channel_desc(format.id);
  check_cuda(cudaMallocArray(&cached.array, &desc, width, height), "cudaMallocArray");
  cached.texture = block_texture_object(cached.array, format);
  return cached;
}

template <class Out>
void launch_texture(const SpatialFeatureDecode& p, const uint8_t* blocks, Out* out, cudaStream_t stream) {
  const BlockGrid grid = block_grid(*p.format, p.grid_w, p.grid_h);
  const int padded_height = grid.blocks_y * 4;
  const int64_t textures = static_cast<int64_t>(p.batch) * p.groups();
  const int64_t texture_bytes = grid.blocks() * p.format->bytes_per_block;
  const size_t shared = staging_bytes<Out>(p);
  allow_shared(fetch_features_kernel<Out>, shared);
  // Textures stacked along y in arrays of at most kTextureRows rows, whole images to an array
  // (a CTA writes whole token rows, every channel group of its image).
  const int64_t image_rows = static_cast<int64_t>(padded_height) * p.groups();
  if (image_rows > kTextureRows) {
    throw std::invalid_argument("an image's textures (" + std::to_string(image_rows) +
                                " rows) do not fit one texture array (" + std::to_string(kTextureRows) + ")");
  }
  const int64_t per_array = (kTextureRows / image_rows) * p.groups();
  for (int64_t first = 0; first < textures; first += per_array) {
    const int64_t count = std::min(per_array, textures - first);
    const int rows = static_cast<int>(count * padded_height);
    CachedArray& cached = cached_array(*p.format, grid.blocks_x * 4, rows);
    const size_t pitch = static_cast<size_t>(grid.blocks_x) * p.format->bytes_per_block;
    check_cuda(cudaMemcpy2DToArrayAsync(cached.array, 0, 0, blocks + first * texture_bytes, pitch, pitch, rows / 4,
                                        cudaMemcpyDeviceToDevice, stream),
               "cudaMemcpy2DToArray");
    const int64_t first_image = first / p.groups(), last_image = (first + count - 1) / p.groups();
    const dim3 launch(static_cast<unsigned>(grid.blocks()), static_cast<unsigned>(last_image - first_image + 1));
    SpatialFeatureDecode band = p;  // images [first_image, last_image] of this band
    band.batch = static_cast<int>(last_image - first_image + 1);
    fetch_features_kernel<Out><<<launch, kThreads, shared, stream>>>(
        band, cached.texture, grid.blocks_x, padded_height, first - first_image * p.groups(), count,
        out + first_image * static_cast<int64_t>(p.out_tokens) * p.out_dim);
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
