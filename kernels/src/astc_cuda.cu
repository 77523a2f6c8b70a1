// CUDA ASTC decoder: the block code of astc.h, one thread per block.
//
// A CTA decodes kThreads consecutive blocks of one block row and stages each texel row of
// those blocks in shared memory, so the half RGBA output (8 bytes per texel) leaves as
// contiguous 16-byte stores instead of one scattered 8-byte store per texel and thread.
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

constexpr int kThreads = 32;

template <int kBw, int kBh>
__global__ void astc_decode_kernel(const uint4* __restrict__ blocks, int width, int height, int blocks_x, bool hdr,
                                   uint2* __restrict__ out) {
  __shared__ uint2 staged[kThreads * kBw];  // one texel row of kThreads blocks
  const int by = blockIdx.y;
  const int bx = blockIdx.x * kThreads + threadIdx.x;
  uint16_t texels[kBw * kBh * 4];
  if (bx < blocks_x) {
    const uint4 raw = blocks[static_cast<int64_t>(by) * blocks_x + bx];
    decode_astc_block(reinterpret_cast<const uint8_t*>(&raw), kBw, kBh, hdr, texels);
  }
  const int x0 = blockIdx.x * kThreads * kBw;  // first pixel column of this CTA
  const int columns = min(kThreads * kBw, width - x0);
  for (int y = 0; y < kBh; ++y) {
    const int py = by * kBh + y;
    if (py >= height) break;  // uniform across the CTA
    __syncthreads();
    if (bx < blocks_x) {
      for (int x = 0; x < kBw; ++x) {
        const uint16_t* t = texels + 4 * (y * kBw + x);
        staged[threadIdx.x * kBw + x] = make_uint2(t[0] | (static_cast<uint32_t>(t[1]) << 16),
                                                   t[2] | (static_cast<uint32_t>(t[3]) << 16));
      }
    }
    __syncthreads();
    uint2* row = out + static_cast<int64_t>(py) * width + x0;
    for (int i = threadIdx.x; i < columns; i += kThreads) row[i] = staged[i];
  }
}

void launch(const AstcFormat& f, const uint8_t* blocks, int width, int height, bool hdr, uint16_t* out,
            cudaStream_t stream) {
  const int blocks_x = (width + f.block_width - 1) / f.block_width;
  const int blocks_y = (height + f.block_height - 1) / f.block_height;
  const dim3 grid((blocks_x + kThreads - 1) / kThreads, blocks_y);
  const auto* in = reinterpret_cast<const uint4*>(blocks);
  auto* o = reinterpret_cast<uint2*>(out);
#define BCFEAT_ASTC_CASE(W, H)                                                                         \
  if (f.block_width == W && f.block_height == H) {                                                    \
    astc_decode_kernel<W, H><<<grid, kThreads, 0, stream>>>(in, width, height, blocks_x, hdr, o); \
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
  launch(format, d_in.data, width, height, hdr, d_out.data, nullptr);  // warm-up
  check_cuda(cudaDeviceSynchronize(), "ASTC decode");
  cudaEvent_t start, stop;
  check_cuda(cudaEventCreate(&start), "event");
  check_cuda(cudaEventCreate(&stop), "event");
  check_cuda(cudaEventRecord(start), "event record");
  for (int r = 0; r < repetitions; ++r) launch(format, d_in.data, width, height, hdr, d_out.data, nullptr);
  check_cuda(cudaEventRecord(stop), "event record");
  check_cuda(cudaEventSynchronize(stop), "ASTC decode");
  float ms = 0;
  check_cuda(cudaEventElapsedTime(&ms, start, stop), "elapsed");
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  timing.decode_s = ms / 1000.0 / repetitions;
  return timing;
}

}  // namespace bcfeat
