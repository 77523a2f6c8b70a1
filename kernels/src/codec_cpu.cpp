// CPU drivers: split the block grid into rows of blocks over std::threads; every block is
// encoded or decoded by the same inline block functions the CUDA kernels call.
#include <algorithm>
#include <thread>

#include "bc_codec.h"
#include "block_access.h"
#include "blocks/block_codec.h"

namespace bcfeat {

namespace {

template <class Body>
void for_block_rows(int rows, int threads, Body body) {
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  threads = std::min(threads, rows);
  if (threads <= 1) {
    for (int row = 0; row < rows; ++row) body(row);
    return;
  }
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([=] {
      for (int row = t; row < rows; row += threads) body(row);
    });
  }
  for (auto& thread : pool) thread.join();
}

}  // namespace

std::vector<uint8_t> bc_encode_cpu(const FormatInfo& format, const float* pixels, int width, int height, int channels,
                                   const CodecSettings& settings) {
  const Quality quality = settings.quality;
  const int threads = settings.threads;
  const BlockGrid grid = block_grid(format, width, height);
  std::vector<uint8_t> blocks(grid.blocks() * format.bytes_per_block);
  for_block_rows(grid.blocks_y, threads, [&](int by) {
    float texels[16][4];
    for (int bx = 0; bx < grid.blocks_x; ++bx) {
      gather_block(pixels, width, height, channels, bx, by, texels);
      encode_block(format.id, texels, quality,
                   &blocks[(static_cast<int64_t>(by) * grid.blocks_x + bx) * format.bytes_per_block]);
    }
  });
  return blocks;
}

std::vector<float> bc_decode_cpu(const FormatInfo& format, const uint8_t* blocks, int width, int height,
                                 const CodecSettings& settings) {
  const int threads = settings.threads;
  const BlockGrid grid = block_grid(format, width, height);
  std::vector<float> pixels(static_cast<size_t>(width) * height * format.channels);
  for_block_rows(grid.blocks_y, threads, [&](int by) {
    float texels[16][4];
    for (int bx = 0; bx < grid.blocks_x; ++bx) {
      decode_block(format.id, &blocks[(static_cast<int64_t>(by) * grid.blocks_x + bx) * format.bytes_per_block],
                   texels);
      scatter_block(texels, format.channels, width, height, bx, by, pixels.data());
    }
  });
  return pixels;
}

}  // namespace bcfeat
