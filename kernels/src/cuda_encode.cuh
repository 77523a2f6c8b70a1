// CUDA encoders: one thread per block calling the shared host/device block code (layer 1 and 2
// of STYLE.md's four); BC7 fast/normal in two passes (bc7_settle_kernel). The kernel template is instantiated per format in its own
// translation unit (codec_cuda_encode_*.cu) so that nvcc compiles the heavy BC6H and BC7
// searches in parallel with the rest; codec_cuda.cu dispatches to them.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#include "bcfeat/kernels/block_codec.h"
#include "bcfeat/kernels/codec.h"
#include "block_access.h"

namespace bcfeat {
namespace cuda_encode {

constexpr int kThreads = 128;

template <FormatId kFormat, Quality kQuality>
__global__ void encode_blocks_kernel(const float* pixels, int width, int height, int channels, int blocks_x,
                                     int blocks_y, int bytes_per_block, uint8_t* blocks) {
  const int64_t block = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (block >= static_cast<int64_t>(blocks_x) * blocks_y) return;
  const int bx = static_cast<int>(block % blocks_x), by = static_cast<int>(block / blocks_x);
  float texels[16][4];
  gather_block(pixels, width, height, channels, bx, by, texels);
  encode_block(kFormat, texels, kQuality, blocks + block * bytes_per_block);
}

// BC7 fast/normal in two passes. Mode 6 settles 29% of the blocks of a Kodak sample at
// normal (tools/bc7_sample.cpp, results/reference/bc7_sample_ranking_cpu.txt), but in one pass a warp whose 32 blocks mix settled and unsettled ones
// runs as long as its longest search. The first pass settles what it can and lists the rest
// (`pending`, in any order: each block's result depends on the block alone); the second runs
// the whole search over the listed blocks, the warps then all searching. (The second pass fits
// mode 6 again rather than storing the first pass's candidate: one fit of the tens a normal
// search makes.)
template <Quality kQuality>
__global__ void bc7_settle_kernel(const float* pixels, int width, int height, int channels, int blocks_x, int blocks_y,
                                  uint8_t* blocks, int* pending, unsigned* pending_count) {
  const int64_t block = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (block >= static_cast<int64_t>(blocks_x) * blocks_y) return;
  float texels[16][4];
  gather_block(pixels, width, height, channels, static_cast<int>(block % blocks_x), static_cast<int>(block / blocks_x),
               texels);
  if (!encode_bc7_block_settled(texels, kQuality, blocks + block * 16)) {
    pending[atomicAdd(pending_count, 1u)] = static_cast<int>(block);
  }
}

template <Quality kQuality>
__global__ void bc7_search_kernel(const float* pixels, int width, int height, int channels, int blocks_x,
                                  const int* pending, const unsigned* pending_count, uint8_t* blocks) {
  const int64_t k = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (k >= static_cast<int64_t>(*pending_count)) return;
  const int block = pending[k];
  float texels[16][4];
  gather_block(pixels, width, height, channels, block % blocks_x, block / blocks_x, texels);
  encode_bc7_block(texels, kQuality, blocks + static_cast<int64_t>(block) * 16);
}

// Launches the encoder of one format on device pixels (declared here, instantiated in the
// codec_cuda_encode_*.cu files).
template <FormatId kFormat>
void launch_encode_format(Quality quality, const float* pixels, int width, int height, int channels, BlockGrid grid,
                          uint8_t* blocks, cudaStream_t stream);

#ifdef BCFEAT_CUDA_ENCODE_DEFINITIONS
template <Quality kQuality>
void launch_bc7_two_pass(const float* pixels, int width, int height, int channels, BlockGrid grid, uint8_t* blocks,
                         cudaStream_t stream) {
  if (grid.blocks() > INT32_MAX) throw std::invalid_argument("BC7 encode: more than 2^31 - 1 blocks in one image");
  const unsigned launch_blocks = static_cast<unsigned>((grid.blocks() + kThreads - 1) / kThreads);
  void* scratch = nullptr;  // the pending count, then the pending list
  const size_t bytes = sizeof(unsigned) * static_cast<size_t>(grid.blocks() + 1);
  const cudaError_t status = cudaMallocAsync(&scratch, bytes, stream);
  if (status != cudaSuccess) {
    throw std::runtime_error(std::string("BC7 encode: cudaMallocAsync of the pending-block list: ") +
                             cudaGetErrorString(status));
  }
  unsigned* count = static_cast<unsigned*>(scratch);
  int* pending = static_cast<int*>(scratch) + 1;
  cudaMemsetAsync(count, 0, sizeof(unsigned), stream);
  bc7_settle_kernel<kQuality><<<launch_blocks, kThreads, 0, stream>>>(pixels, width, height, channels, grid.blocks_x,
                                                                      grid.blocks_y, blocks, pending, count);
  bc7_search_kernel<kQuality><<<launch_blocks, kThreads, 0, stream>>>(pixels, width, height, channels, grid.blocks_x,
                                                                      pending, count, blocks);
  cudaFreeAsync(scratch, stream);
}

template <FormatId kFormat, Quality kQuality>
void launch_one_pass(const float* pixels, int width, int height, int channels, BlockGrid grid, uint8_t* blocks,
                     cudaStream_t stream) {
  const unsigned launch_blocks = static_cast<unsigned>((grid.blocks() + kThreads - 1) / kThreads);
  encode_blocks_kernel<kFormat, kQuality><<<launch_blocks, kThreads, 0, stream>>>(
      pixels, width, height, channels, grid.blocks_x, grid.blocks_y, format_info(kFormat).bytes_per_block, blocks);
}

template <FormatId kFormat>
void launch_encode_format(Quality quality, const float* pixels, int width, int height, int channels, BlockGrid grid,
                          uint8_t* blocks, cudaStream_t stream) {
  switch (quality) {
    case Quality::kFast:
      if constexpr (kFormat == FormatId::kBC7) {
        launch_bc7_two_pass<Quality::kFast>(pixels, width, height, channels, grid, blocks, stream);
      } else {
        launch_one_pass<kFormat, Quality::kFast>(pixels, width, height, channels, grid, blocks, stream);
      }
      break;
    case Quality::kNormal:
      if constexpr (kFormat == FormatId::kBC7) {
        launch_bc7_two_pass<Quality::kNormal>(pixels, width, height, channels, grid, blocks, stream);
      } else {
        launch_one_pass<kFormat, Quality::kNormal>(pixels, width, height, channels, grid, blocks, stream);
      }
      break;
    case Quality::kHigh:
      launch_one_pass<kFormat, Quality::kHigh>(pixels, width, height, channels, grid, blocks, stream);
      break;
  }
}
#endif

}  // namespace cuda_encode
}  // namespace bcfeat
