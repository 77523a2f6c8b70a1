// CUDA encoders: one thread per block calling the shared inline block code (layer 1 and 2
// of STYLE.md's four). The kernel template is instantiated per format in its own
// translation unit (codec_cuda_encode_*.cu) so that nvcc compiles the heavy BC6H and BC7
// searches in parallel with the rest; codec_cuda.cu dispatches to them.
#pragma once

#include <cuda_runtime.h>

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

// Launches the encoder of one format on device pixels (declared here, instantiated in the
// codec_cuda_encode_*.cu files).
template <FormatId kFormat>
void launch_encode_format(Quality quality, const float* pixels, int width, int height, int channels, BlockGrid grid,
                          uint8_t* blocks, cudaStream_t stream);

#ifdef BCFEAT_CUDA_ENCODE_DEFINITIONS
template <FormatId kFormat>
void launch_encode_format(Quality quality, const float* pixels, int width, int height, int channels, BlockGrid grid,
                          uint8_t* blocks, cudaStream_t stream) {
  const int bytes = format_info(kFormat).bytes_per_block;
  const unsigned launch_blocks = static_cast<unsigned>((grid.blocks() + kThreads - 1) / kThreads);
  switch (quality) {
    case Quality::kFast:
      encode_blocks_kernel<kFormat, Quality::kFast><<<launch_blocks, kThreads, 0, stream>>>(
          pixels, width, height, channels, grid.blocks_x, grid.blocks_y, bytes, blocks);
      break;
    case Quality::kNormal:
      encode_blocks_kernel<kFormat, Quality::kNormal><<<launch_blocks, kThreads, 0, stream>>>(
          pixels, width, height, channels, grid.blocks_x, grid.blocks_y, bytes, blocks);
      break;
    case Quality::kHigh:
      encode_blocks_kernel<kFormat, Quality::kHigh><<<launch_blocks, kThreads, 0, stream>>>(
          pixels, width, height, channels, grid.blocks_x, grid.blocks_y, bytes, blocks);
      break;
  }
}
#endif

}  // namespace cuda_encode
}  // namespace bcfeat
