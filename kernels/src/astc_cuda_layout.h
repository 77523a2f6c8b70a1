// Sizes of the CUDA ASTC decoder's per-warp span (kernels/src/astc_cuda.cu) that follow from
// the ASTC block layout, in a header of their own so that the CPU tests check them against the
// block code (tests/kernels/test_astc.cpp) on machines without a GPU.
#pragma once

namespace bcfeat {
namespace astc_cuda_layout {

// The block sizes, in the order of the decoder's block-mode tables.
constexpr int kSizes[14][2] = {{4, 4}, {5, 4}, {5, 5}, {6, 5}, {6, 6}, {8, 5}, {8, 6},
                               {8, 8}, {10, 5}, {10, 6}, {10, 8}, {10, 10}, {12, 10}, {12, 12}};

// The index of bw x bh in kSizes, -1 for none.
constexpr int size_index(int bw, int bh) {
  for (int i = 0; i < 14; ++i) {
    if (kSizes[i][0] == bw && kSizes[i][1] == bh) return i;
  }
  return -1;
}

// The most groups (the decoder's step 2: a trit block of 5 values, a quint block of 3, or 5 or
// 8 plain values) of colour values and weights together that a legal block has, per block
// size (kSizes) with 5 and with 8 plain values a group. Colour values and weights share a
// block's 128 - 17 bits, so the two bounds apart (6 colour groups, min(64, 2 w h) / 3 weight
// groups) never meet. The decoder's spans hold this many a block; the CPU test "the CUDA
// decoder's span room" (tests/kernels/test_astc.cpp) finds each to be the most of some legal
// block, over every block layout.
constexpr int kGroupsMax[14][2] = {{13, 13}, {15, 15}, {15, 15}, {16, 15}, {16, 15}, {16, 16}, {16, 16},
                                   {16, 16}, {16, 16}, {16, 16}, {17, 16}, {17, 16}, {17, 16}, {17, 16}};

}  // namespace astc_cuda_layout
}  // namespace bcfeat
