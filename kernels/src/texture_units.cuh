// The GPU texture units as a block decoder: a block-compressed CUDA array over device
// blocks and a texture object on it, point-sampled at texel centres (x + 0.5, y + 0.5).
// BC6H texels are fetched as they are (half floats), the other formats as normalised floats.
#pragma once

#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "bcfeat/kernels/codec.h"
#include "cuda_util.cuh"

namespace bcfeat {

// The tallest array the texture units read (the H100's and H200's maxTexture2D height): taller
// images go through several arrays, a band of rows each.
constexpr int kTextureRows = 65536;

inline cudaChannelFormatDesc texture_channel_desc(FormatId id, bool srgb = false) {
  if (srgb) {  // the sRGB block kinds: the fetch converts colour to linear
    switch (id) {
      case FormatId::kBC1: return cudaCreateChannelDesc<cudaChannelFormatKindUnsignedBlockCompressed1SRGB>();
      case FormatId::kBC2: return cudaCreateChannelDesc<cudaChannelFormatKindUnsignedBlockCompressed2SRGB>();
      case FormatId::kBC3: return cudaCreateChannelDesc<cudaChannelFormatKindUnsignedBlockCompressed3SRGB>();
      case FormatId::kBC7: return cudaCreateChannelDesc<cudaChannelFormatKindUnsignedBlockCompressed7SRGB>();
      default: throw std::invalid_argument("format has no sRGB variant");
    }
  }
  switch (id) {
    case FormatId::kBC1: return cudaCreateChannelDesc<cudaChannelFormatKindUnsignedBlockCompressed1>();
    case FormatId::kBC2: return cudaCreateChannelDesc<cudaChannelFormatKindUnsignedBlockCompressed2>();
    case FormatId::kBC3: return cudaCreateChannelDesc<cudaChannelFormatKindUnsignedBlockCompressed3>();
    case FormatId::kBC4Unorm: return cudaCreateChannelDesc<cudaChannelFormatKindUnsignedBlockCompressed4>();
    case FormatId::kBC4Snorm: return cudaCreateChannelDesc<cudaChannelFormatKindSignedBlockCompressed4>();
    case FormatId::kBC5Unorm: return cudaCreateChannelDesc<cudaChannelFormatKindUnsignedBlockCompressed5>();
    case FormatId::kBC5Snorm: return cudaCreateChannelDesc<cudaChannelFormatKindSignedBlockCompressed5>();
    case FormatId::kBC6HUf16: return cudaCreateChannelDesc<cudaChannelFormatKindUnsignedBlockCompressed6H>();
    case FormatId::kBC6HSf16: return cudaCreateChannelDesc<cudaChannelFormatKindSignedBlockCompressed6H>();
    case FormatId::kBC7: return cudaCreateChannelDesc<cudaChannelFormatKindUnsignedBlockCompressed7>();
    default: break;
  }
  throw std::invalid_argument("format has no texture-unit decoder");
}

// A point-sampled texture object over a block-compressed array (unnormalised coordinates,
// clamped): BC6H texels are fetched as the half floats they are, the other formats as
// normalised integers; sRGB arrays return linear colour.
inline cudaTextureObject_t block_texture_object(cudaArray_t array, const FormatInfo& format, bool srgb = false) {
  cudaResourceDesc resource{};
  resource.resType = cudaResourceTypeArray;
  resource.res.array.array = array;
  cudaTextureDesc texture_desc{};
  texture_desc.addressMode[0] = texture_desc.addressMode[1] = cudaAddressModeClamp;
  texture_desc.filterMode = cudaFilterModePoint;
  texture_desc.readMode = value_domain_is_float(format.domain) ? cudaReadModeElementType : cudaReadModeNormalizedFloat;
  texture_desc.normalizedCoords = 0;
  texture_desc.sRGB = srgb ? 1 : 0;
  cudaTextureObject_t texture = 0;
  cuda_util::check_cuda(cudaCreateTextureObject(&texture, &resource, &texture_desc, nullptr), "cudaCreateTextureObject");
  return texture;
}

// A texture object over the blocks (device pointer); destroyed with the struct (after the
// work on the array is done: the destructor synchronises the device).
struct BlockTexture {
  cudaArray_t array = nullptr;
  cudaTextureObject_t texture = 0;
  BlockTexture(const FormatInfo& format, const uint8_t* device_blocks, int width, int height,
               cudaStream_t stream = nullptr, bool srgb = false) {
    const BlockGrid grid = block_grid(format, width, height);
    const cudaChannelFormatDesc desc = texture_channel_desc(format.id, srgb);
    cuda_util::check_cuda(cudaMallocArray(&array, &desc, grid.blocks_x * 4, grid.blocks_y * 4), "cudaMallocArray");
    const size_t pitch = static_cast<size_t>(grid.blocks_x) * format.bytes_per_block;
    cuda_util::check_cuda(cudaMemcpy2DToArrayAsync(array, 0, 0, device_blocks, pitch, pitch, grid.blocks_y,
                                        cudaMemcpyDeviceToDevice, stream),
               "cudaMemcpy2DToArray");
    texture = block_texture_object(array, format, srgb);
  }
  ~BlockTexture() {
    cudaDeviceSynchronize();
    if (texture) cudaDestroyTextureObject(texture);
    if (array) cudaFreeArray(array);
  }
  BlockTexture(const BlockTexture&) = delete;
  BlockTexture& operator=(const BlockTexture&) = delete;
};

}  // namespace bcfeat
