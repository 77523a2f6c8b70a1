// Moving 4×4 blocks between images and texel arrays (host and device).
#pragma once

#include <cstdint>

#include "bcfeat/kernels/host_device.h"

namespace bcfeat {

// Reads block (bx, by) with edge replication; absent colour channels read 0, alpha 1.
BCFEAT_HD void gather_block(const float* pixels, int width, int height, int channels, int bx, int by,
                            float texels[16][4]) {
  for (int y = 0; y < 4; ++y) {
    const int py = by * 4 + y < height ? by * 4 + y : height - 1;
    for (int x = 0; x < 4; ++x) {
      const int px = bx * 4 + x < width ? bx * 4 + x : width - 1;
      const float* pixel = pixels + (static_cast<int64_t>(py) * width + px) * channels;
      for (int c = 0; c < 4; ++c) texels[y * 4 + x][c] = c < channels ? pixel[c] : (c == 3 ? 1.0f : 0.0f);
    }
  }
}

// Writes the texels of block (bx, by) that fall inside the image.
BCFEAT_HD void scatter_block(const float texels[16][4], int channels, int width, int height, int bx, int by,
                             float* pixels) {
  for (int y = 0; y < 4; ++y) {
    const int py = by * 4 + y;
    if (py >= height) break;
    for (int x = 0; x < 4; ++x) {
      const int px = bx * 4 + x;
      if (px >= width) break;
      float* pixel = pixels + (static_cast<int64_t>(py) * width + px) * channels;
      for (int c = 0; c < channels; ++c) pixel[c] = texels[y * 4 + x][c];
    }
  }
}

// Block `block` of kBytes bytes from `blocks`: one vector load where the blocks are aligned to
// their size, else byte by byte (blocks inside a stream start wherever its side information
// ends).
template <int kBytes, bool kAligned>
BCFEAT_HD void load_block(const uint8_t* blocks, int64_t block, uint8_t bytes[kBytes]) {
#if defined(__CUDACC__)
  if constexpr (kAligned) {
    if constexpr (kBytes == 8) {
      *reinterpret_cast<uint2*>(bytes) = reinterpret_cast<const uint2*>(blocks)[block];
    } else {
      *reinterpret_cast<uint4*>(bytes) = reinterpret_cast<const uint4*>(blocks)[block];
    }
    return;
  }
#endif
  for (int i = 0; i < kBytes; ++i) bytes[i] = blocks[block * kBytes + i];
}

}  // namespace bcfeat
