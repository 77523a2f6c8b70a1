// CUDA ASTC decoder: the block code of astc.h in two phases per CTA.
//
// A CTA owns kBlocks consecutive blocks of one block row. Phase 1: each thread decodes one
// block's parameters (block mode, integer sequences, endpoints, unquantised weights) into
// shared memory. Phase 2: the threads walk the CTA's texels in output order — thread i takes
// columns i, i + kBlocks, ... of each texel row — and compute each texel from its block's
// parameters (weight infill, partition, interpolation), so the per-texel work is spread
// evenly and every warp stores 256 contiguous bytes of half RGBA.
#include <cuda_runtime.h>

#include <stdexcept>

#include "bcfeat/kernels/astc.h"
#include "bcfeat/kernels/astc_codec.h"
#include "cuda_util.cuh"

namespace bcfeat {

namespace {

using cuda_util::check_cuda;
using cuda_util::DeviceBuffer;
using cuda_util::require_gpu;
using cuda_util::time_cuda;

constexpr int kBlocks = 128;  // blocks per CTA = threads per CTA

template <int kBw, int kBh>
__global__ void __launch_bounds__(kBlocks) astc_decode_kernel(const uint4* __restrict__ blocks, int width, int height,
                                                               int blocks_x, bool hdr, uint2* __restrict__ out) {
  __shared__ AstcBlockParams params[kBlocks];
  const int by = blockIdx.y;
  const int first = blockIdx.x * kBlocks;
  if (first + static_cast<int>(threadIdx.x) < blocks_x) {
    const uint4 raw = blocks[static_cast<int64_t>(by) * blocks_x + first + threadIdx.x];
    decode_astc_params(reinterpret_cast<const uint8_t*>(&raw), kBw, kBh, hdr, params[threadIdx.x]);
  }
  __syncthreads();
  const int x0 = first * kBw;  // first texel column of this CTA
  const int columns = min(kBlocks * kBw, width - x0);
  const int rows = min(kBh, height - by * kBh);
  for (int y = 0; y < rows; ++y) {
    uint2* row = out + static_cast<int64_t>(by * kBh + y) * width + x0;
    for (int i = threadIdx.x; i < columns; i += kBlocks) {
      const int block = i / kBw;
      uint16_t t[4];
      astc_texel(params[block], kBw, kBh, i - block * kBw, y, t);
      row[i] = make_uint2(t[0] | (static_cast<uint32_t>(t[1]) << 16), t[2] | (static_cast<uint32_t>(t[3]) << 16));
    }
  }
}

void launch(const AstcFormat& f, const uint8_t* blocks, int width, int height, bool hdr, uint16_t* out,
            cudaStream_t stream) {
  const int blocks_x = (width + f.block_width - 1) / f.block_width;
  const int blocks_y = (height + f.block_height - 1) / f.block_height;
  const dim3 grid((blocks_x + kBlocks - 1) / kBlocks, blocks_y);
  const auto* in = reinterpret_cast<const uint4*>(blocks);
  auto* o = reinterpret_cast<uint2*>(out);
#define BCFEAT_ASTC_CASE(W, H)                                                                         \
  if (f.block_width == W && f.block_height == H) {                                                    \
    astc_decode_kernel<W, H><<<grid, kBlocks, 0, stream>>>(in, width, height, blocks_x, hdr, o); \
    return;                                                                                           \
  }
  BCFEAT_ASTC_CASE(4, 4)
  BCFEAT_ASTC_CASE(5, 4)
  BCFEAT_ASTC_CASE(5, 5)
  BCFEAT_ASTC_CASE(6, 5)
  BCFEAT_ASTC_CASE(6, 6)
  BCFEAT_ASTC_CASE(8, 5)
  BCFEAT_ASTC_CASE(8, 6)
  BCFEAT_ASTC_CASE(8, 8)
  BCFEAT_ASTC_CASE(10, 5)
  BCFEAT_ASTC_CASE(10, 6)
  BCFEAT_ASTC_CASE(10, 8)
  BCFEAT_ASTC_CASE(10, 10)
  BCFEAT_ASTC_CASE(12, 10)
  BCFEAT_ASTC_CASE(12, 12)
#undef BCFEAT_ASTC_CASE
  throw std::invalid_argument(std::string("no CUDA ASTC kernel for ") + f.name);
}

}  // namespace

std::vector<uint16_t> astc_decode_half_cuda(const AstcFormat& format, AstcProfile profile, const uint8_t* blocks,
                                            int width, int height) {
  require_gpu();
  const size_t in_bytes = static_cast<size_t>(astc_compressed_size(format, width, height));
  const size_t texels = static_cast<size_t>(width) * height;
  DeviceBuffer<uint8_t> d_in(in_bytes);
  DeviceBuffer<uint16_t> d_out(texels * 4);
  check_cuda(cudaMemcpy(d_in.data, blocks, in_bytes, cudaMemcpyHostToDevice), "copy blocks to the GPU");
  launch(format, d_in.data, width, height, profile == AstcProfile::kHdr, d_out.data, nullptr);
  check_cuda(cudaGetLastError(), "ASTC decode launch");
  std::vector<uint16_t> out(texels * 4);
  check_cuda(cudaMemcpy(out.data(), d_out.data, texels * 8, cudaMemcpyDeviceToHost), "copy texels from the GPU");
  return out;
}

AstcCudaTiming time_astc_decode_cuda(const AstcFormat& format, AstcProfile profile, const uint8_t* blocks, int width,
                                     int height, int repetitions) {
  require_gpu();
  AstcCudaTiming timing;
  timing.encoded_bytes = astc_compressed_size(format, width, height);
  timing.decoded_bytes = static_cast<int64_t>(width) * height * 8;
  DeviceBuffer<uint8_t> d_in(static_cast<size_t>(timing.encoded_bytes));
  DeviceBuffer<uint16_t> d_out(static_cast<size_t>(width) * height * 4);
  check_cuda(cudaMemcpy(d_in.data, blocks, timing.encoded_bytes, cudaMemcpyHostToDevice), "copy blocks to the GPU");
  const bool hdr = profile == AstcProfile::kHdr;
  timing.decode_s =
      time_cuda(repetitions, [&] { launch(format, d_in.data, width, height, hdr, d_out.data, nullptr); });
  return timing;
}

}  // namespace bcfeat
