// CUDA BC codecs, in four layers:
//   kernels (one thread per block, calling the shared inline block code; the encoders live
//   in cuda_encode.cuh and codec_cuda_encode_*.cu)
//   → launchers on raw device pointers and a stream
//   → a switch from the runtime format/quality to template parameters
//   → host wrappers that move host buffers, check every call, and time the kernels.
// The texture-unit decoder (texture_units.cuh) uploads the blocks into a block-compressed CUDA
// array and fetches every texel.
#include <cuda_runtime.h>

#include <algorithm>
#include <stdexcept>
#include <string>

#include "bc_codec.h"
#include "bcfeat/kernels/cuda_device.h"
#include "block_access.h"
#include "blocks/block_codec.h"
#include "cuda_encode.cuh"
#include "cuda_util.cuh"
#include "texture_units.cuh"

namespace bcfeat {

namespace {

using cuda_util::check_cuda;
using cuda_util::DeviceBuffer;
using cuda_util::require_gpu;
using cuda_util::time_cuda;

// ---- kernels --------------------------------------------------------------------------

// Decoding writes 16·C floats per 8 or 16 bytes read, so stores dominate. A CTA of
// kThreads threads decodes kThreads consecutive blocks of one block row, stages the four
// texel rows in shared memory and writes each as one contiguous, float4-coalesced run.
// (One thread writing its own 4×4 block directly reached 41% of copy bandwidth for BC1 on
// H200: each warp store touched 32 scattered 16-byte pieces.)
template <FormatId kFormat, int kChannels, int kBytes, int kThreadsPerCta, bool kAligned>
__global__ void decode_blocks_kernel(const uint8_t* __restrict__ blocks, int width, int height, int blocks_x,
                                     float* __restrict__ pixels) {
  __shared__ float4 staged[4][kThreadsPerCta * kChannels];  // 4 rows × (blocks × 4 texels × C) floats
  const int by = blockIdx.y;
  const int bx = blockIdx.x * kThreadsPerCta + threadIdx.x;
  const int valid = min(kThreadsPerCta, blocks_x - static_cast<int>(blockIdx.x) * kThreadsPerCta);
  float texels[16][4];
  if (bx < blocks_x) {
    const int64_t block = static_cast<int64_t>(by) * blocks_x + bx;
    uint8_t bytes[kBytes];
    load_block<kBytes, kAligned>(blocks, block, bytes);
    decode_block(kFormat, bytes, texels);
  }
  const bool aligned = width % 4 == 0;  // rows start 16-byte aligned, no partial blocks in x
  if (!aligned) {
    if (bx < blocks_x) scatter_block(texels, kChannels, width, height, bx, by, pixels);
    return;
  }
  if (bx < blocks_x) {
    for (int y = 0; y < 4; ++y) {
      float* row = reinterpret_cast<float*>(staged[y]) + threadIdx.x * 4 * kChannels;
      for (int x = 0; x < 4; ++x) {
        for (int c = 0; c < kChannels; ++c) row[x * kChannels + c] = texels[y * 4 + x][c];
      }
    }
  }
  __syncthreads();
  const int vectors = valid * kChannels;  // float4s per texel row of this CTA
  for (int y = 0; y < 4; ++y) {
    const int py = by * 4 + y;
    if (py >= height) break;
    float4* out = reinterpret_cast<float4*>(pixels + (static_cast<int64_t>(py) * width +
                                                      static_cast<int64_t>(blockIdx.x) * kThreadsPerCta * 4) * kChannels);
    for (int i = threadIdx.x; i < vectors; i += kThreadsPerCta) out[i] = staged[y][i];
  }
}

__global__ void texture_fetch_kernel(cudaTextureObject_t texture, int width, int height, int channels,
                                     float* pixels) {
  const int x = blockIdx.x * blockDim.x + threadIdx.x;
  const int y = blockIdx.y * blockDim.y + threadIdx.y;
  if (x >= width || y >= height) return;
  const float4 texel = tex2D<float4>(texture, x + 0.5f, y + 0.5f);
  float* pixel = pixels + (static_cast<int64_t>(y) * width + x) * channels;
  pixel[0] = texel.x;
  if (channels > 1) pixel[1] = texel.y;
  if (channels > 2) pixel[2] = texel.z;
  if (channels > 3) pixel[3] = texel.w;
}

// ---- launchers ------------------------------------------------------------------------

constexpr int kThreads = 128;

void launch_encode(const FormatInfo& format, Quality quality, const float* pixels, int width, int height, int channels,
                   uint8_t* blocks, cudaStream_t stream) {
  const BlockGrid grid = block_grid(format, width, height);
  switch (format.id) {
    case FormatId::kBC1: cuda_encode::launch_encode_format<FormatId::kBC1>(quality, pixels, width, height, channels, grid, blocks, stream); break;
    case FormatId::kBC2: cuda_encode::launch_encode_format<FormatId::kBC2>(quality, pixels, width, height, channels, grid, blocks, stream); break;
    case FormatId::kBC3: cuda_encode::launch_encode_format<FormatId::kBC3>(quality, pixels, width, height, channels, grid, blocks, stream); break;
    case FormatId::kBC4Unorm: cuda_encode::launch_encode_format<FormatId::kBC4Unorm>(quality, pixels, width, height, channels, grid, blocks, stream); break;
    case FormatId::kBC4Snorm: cuda_encode::launch_encode_format<FormatId::kBC4Snorm>(quality, pixels, width, height, channels, grid, blocks, stream); break;
    case FormatId::kBC5Unorm: cuda_encode::launch_encode_format<FormatId::kBC5Unorm>(quality, pixels, width, height, channels, grid, blocks, stream); break;
    case FormatId::kBC5Snorm: cuda_encode::launch_encode_format<FormatId::kBC5Snorm>(quality, pixels, width, height, channels, grid, blocks, stream); break;
#if BCFEAT_CUDA_BPTC_ENCODERS
    case FormatId::kBC6HUf16: cuda_encode::launch_encode_format<FormatId::kBC6HUf16>(quality, pixels, width, height, channels, grid, blocks, stream); break;
    case FormatId::kBC6HSf16: cuda_encode::launch_encode_format<FormatId::kBC6HSf16>(quality, pixels, width, height, channels, grid, blocks, stream); break;
    case FormatId::kBC7: cuda_encode::launch_encode_format<FormatId::kBC7>(quality, pixels, width, height, channels, grid, blocks, stream); break;
#else
    case FormatId::kBC6HUf16:
    case FormatId::kBC6HSf16:
    case FormatId::kBC7:
      throw std::runtime_error("this build has no CUDA BC6H/BC7 encoders (configured with BCFEAT_CUDA_BPTC_ENCODERS=OFF)");
#endif
    default:
      throw std::invalid_argument(std::string(format.name) + " is not a BC format");
  }
  check_cuda(cudaGetLastError(), "encode kernel launch");
}

void launch_decode(const FormatInfo& format, const uint8_t* blocks, int width, int height, float* pixels,
                   cudaStream_t stream) {
  const BlockGrid grid = block_grid(format, width, height);
  const dim3 launch((grid.blocks_x + kThreads - 1) / kThreads, grid.blocks_y);
  const bool aligned = reinterpret_cast<uintptr_t>(blocks) % format.bytes_per_block == 0;
#define BCFEAT_DECODE_CASE(ID, CHANNELS, BYTES)                                                                  \
  case ID:                                                                                                       \
    if (aligned) {                                                                                               \
      decode_blocks_kernel<ID, CHANNELS, BYTES, kThreads, true>                                                  \
          <<<launch, kThreads, 0, stream>>>(blocks, width, height, grid.blocks_x, pixels);                       \
    } else {                                                                                                     \
      decode_blocks_kernel<ID, CHANNELS, BYTES, kThreads, false>                                                 \
          <<<launch, kThreads, 0, stream>>>(blocks, width, height, grid.blocks_x, pixels);                       \
    }                                                                                                            \
    break;
  switch (format.id) {
    BCFEAT_DECODE_CASE(FormatId::kBC1, 4, 8)
    BCFEAT_DECODE_CASE(FormatId::kBC2, 4, 16)
    BCFEAT_DECODE_CASE(FormatId::kBC3, 4, 16)
    BCFEAT_DECODE_CASE(FormatId::kBC4Unorm, 1, 8)
    BCFEAT_DECODE_CASE(FormatId::kBC4Snorm, 1, 8)
    BCFEAT_DECODE_CASE(FormatId::kBC5Unorm, 2, 16)
    BCFEAT_DECODE_CASE(FormatId::kBC5Snorm, 2, 16)
    BCFEAT_DECODE_CASE(FormatId::kBC6HUf16, 3, 16)
    BCFEAT_DECODE_CASE(FormatId::kBC6HSf16, 3, 16)
    BCFEAT_DECODE_CASE(FormatId::kBC7, 4, 16)
    default:
      throw std::invalid_argument(std::string(format.name) + " is not a BC format");
  }
#undef BCFEAT_DECODE_CASE
  check_cuda(cudaGetLastError(), "decode kernel launch");
}

void launch_texture_decode(const FormatInfo& format, const BlockTexture& texture, int width, int height,
                           float* pixels, cudaStream_t stream) {
  const dim3 threads(32, 8), grid((width + 31) / 32, (height + 7) / 8);
  texture_fetch_kernel<<<grid, threads, 0, stream>>>(texture.texture, width, height, format.channels, pixels);
  check_cuda(cudaGetLastError(), "texture fetch launch");
}

}  // namespace

bool cuda_codec_available() { return cuda_device_count() > 0; }

std::vector<uint8_t> bc_encode_cuda(const FormatInfo& format, const float* pixels, int width, int height, int channels,
                                    const CodecSettings& settings) {
  require_gpu();
  const size_t pixel_count = static_cast<size_t>(width) * height * channels;
  const size_t bytes = static_cast<size_t>(compressed_size(format, width, height));
  DeviceBuffer<float> device_pixels(pixel_count);
  DeviceBuffer<uint8_t> device_blocks(bytes);
  check_cuda(cudaMemcpy(device_pixels.data, pixels, pixel_count * sizeof(float), cudaMemcpyHostToDevice), "upload");
  launch_encode(format, settings.quality, device_pixels.data, width, height, channels, device_blocks.data, nullptr);
  std::vector<uint8_t> blocks(bytes);
  check_cuda(cudaMemcpy(blocks.data(), device_blocks.data, bytes, cudaMemcpyDeviceToHost), "download");
  return blocks;
}

namespace {

// Uploads the blocks, decodes them with the software kernel or the texture units, downloads.
std::vector<float> decode_on_device(const FormatInfo& format, bool texture_units, const uint8_t* blocks, int width,
                                    int height, bool srgb = false) {
  require_gpu();
  const size_t bytes = static_cast<size_t>(compressed_size(format, width, height));
  const size_t pixel_count = static_cast<size_t>(width) * height * format.channels;
  DeviceBuffer<uint8_t> device_blocks(bytes);
  DeviceBuffer<float> device_pixels(pixel_count);
  check_cuda(cudaMemcpy(device_blocks.data, blocks, bytes, cudaMemcpyHostToDevice), "upload");
  if (texture_units) {
    BlockTexture texture(format, device_blocks.data, width, height, nullptr, srgb);
    launch_texture_decode(format, texture, width, height, device_pixels.data, nullptr);
  } else {
    launch_decode(format, device_blocks.data, width, height, device_pixels.data, nullptr);
  }
  std::vector<float> pixels(pixel_count);
  check_cuda(cudaMemcpy(pixels.data(), device_pixels.data, pixel_count * sizeof(float), cudaMemcpyDeviceToHost),
             "download");
  return pixels;
}

}  // namespace

std::vector<float> bc_decode_cuda(const FormatInfo& format, const uint8_t* blocks, int width, int height,
                                  const CodecSettings&) {
  return decode_on_device(format, false, blocks, width, height);
}

std::vector<float> bc_decode_texture(const FormatInfo& format, const uint8_t* blocks, int width, int height,
                                     const CodecSettings& settings) {
  return decode_on_device(format, true, blocks, width, height, settings.srgb);
}

CudaTiming bc_time_encode_cuda(const FormatInfo& format, const float* pixels, int width, int height, int channels,
                               const CodecSettings& settings, int repetitions) {
  require_gpu();
  const size_t pixel_count = static_cast<size_t>(width) * height * channels;
  const size_t bytes = static_cast<size_t>(compressed_size(format, width, height));
  DeviceBuffer<float> device_pixels(pixel_count);
  DeviceBuffer<uint8_t> device_blocks(bytes);
  check_cuda(cudaMemcpy(device_pixels.data, pixels, pixel_count * sizeof(float), cudaMemcpyHostToDevice), "upload");
  CudaTiming timing;
  timing.seconds = time_cuda(repetitions, [&] {
    launch_encode(format, settings.quality, device_pixels.data, width, height, channels, device_blocks.data, nullptr);
  });
  timing.bytes_read = static_cast<int64_t>(pixel_count * sizeof(float));
  timing.bytes_written = static_cast<int64_t>(bytes);
  return timing;
}

CudaTiming bc_time_decode_cuda(const FormatInfo& format, Backend backend, const uint8_t* blocks, int width, int height,
                               const CodecSettings&, int repetitions) {
  require_gpu();
  const size_t bytes = static_cast<size_t>(compressed_size(format, width, height));
  const size_t decoded_count = static_cast<size_t>(width) * height * format.channels;
  DeviceBuffer<uint8_t> device_blocks(bytes);
  DeviceBuffer<float> device_decoded(decoded_count);
  check_cuda(cudaMemcpy(device_blocks.data, blocks, bytes, cudaMemcpyHostToDevice), "upload");
  CudaTiming timing;
  if (backend == Backend::kTexture) {
    BlockTexture texture(format, device_blocks.data, width, height);
    timing.seconds = time_cuda(repetitions, [&] {
      launch_texture_decode(format, texture, width, height, device_decoded.data, nullptr);
    });
  } else {
    timing.seconds = time_cuda(repetitions, [&] {
      launch_decode(format, device_blocks.data, width, height, device_decoded.data, nullptr);
    });
  }
  timing.bytes_read = static_cast<int64_t>(bytes);
  timing.bytes_written = static_cast<int64_t>(decoded_count * sizeof(float));
  return timing;
}

void bc_encode_device(const FormatInfo& format, const float* pixels, int width, int height, const CodecSettings& settings,
                      uint8_t* blocks, CudaStream stream) {
  require_gpu();
  launch_encode(format, settings.quality, pixels, width, height, 4, blocks, static_cast<cudaStream_t>(stream));
}

void bc_decode_device(const FormatInfo& format, Backend backend, const uint8_t* blocks, int width, int height,
                      const CodecSettings&, float* texels, CudaStream stream) {
  require_gpu();
  const auto cuda_stream = static_cast<cudaStream_t>(stream);
  // Bands of kTextureRows rows also keep the software kernel's grid inside gridDim.y.
  const int64_t row_bytes = static_cast<int64_t>(block_grid(format, width, 1).blocks_x) * format.bytes_per_block;
  for (int first = 0; first < height; first += kTextureRows) {
    const int rows = std::min(kTextureRows, height - first);
    const uint8_t* band = blocks + first / 4 * row_bytes;
    float* out = texels + static_cast<int64_t>(first) * width * format.channels;
    if (backend == Backend::kTexture) {
      BlockTexture texture(format, band, width, rows, cuda_stream);
      launch_texture_decode(format, texture, width, rows, out, cuda_stream);
    } else {
      launch_decode(format, band, width, rows, out, cuda_stream);
    }
  }
}

double measure_copy_bandwidth(int64_t bytes, int repetitions) {
  require_gpu();
  DeviceBuffer<uint8_t> source(static_cast<size_t>(bytes)), target(static_cast<size_t>(bytes));
  check_cuda(cudaMemset(source.data, 1, bytes), "memset");
  const double seconds = time_cuda(repetitions, [&] {
    check_cuda(cudaMemcpyAsync(target.data, source.data, bytes, cudaMemcpyDeviceToDevice), "copy");
  });
  return 2.0 * static_cast<double>(bytes) / seconds;  // bytes read + written per second
}

}  // namespace bcfeat
