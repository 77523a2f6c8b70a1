// Pieces shared by BC6H and BC7 (the BPTC formats): 128-bit block bit access, the
// interpolation weights, partitions and anchor texels.
//
// Bits are numbered from the least significant bit of byte 0 (ARB_texture_compression_bptc).
#pragma once

#include <cstdint>

#include "bptc_tables.h"
#include "bcfeat/kernels/host_device.h"

namespace bcfeat {
namespace bptc {

struct Bits128 {
  uint64_t lo, hi;
};

BCFEAT_HD Bits128 load_bits(const uint8_t* block) {
  Bits128 bits{0, 0};
  for (int i = 7; i >= 0; --i) {
    bits.lo = (bits.lo << 8) | block[i];
    bits.hi = (bits.hi << 8) | block[8 + i];
  }
  return bits;
}

// `count` (≤ 32) bits starting at bit `pos`.
BCFEAT_HD uint32_t read_bits(const Bits128& bits, int pos, int count) {
  uint64_t value;
  if (pos >= 64) {
    value = bits.hi >> (pos - 64);
  } else if (pos + count <= 64 || pos == 0) {
    value = bits.lo >> pos;
  } else {
    value = (bits.lo >> pos) | (bits.hi << (64 - pos));
  }
  return static_cast<uint32_t>(value & ((1ull << count) - 1));
}

// Appends fields from bit 0 upwards.
struct BitWriter {
  uint64_t lo = 0, hi = 0;
  int pos = 0;
  BCFEAT_HD void put(uint32_t value, int count) {
    const uint64_t v = static_cast<uint64_t>(value) & ((1ull << count) - 1);
    if (pos >= 64) {
      hi |= v << (pos - 64);
    } else {
      lo |= v << pos;
      if (pos + count > 64) hi |= v >> (64 - pos);
    }
    pos += count;
  }
  BCFEAT_HD void store(uint8_t* out) const {
    for (int i = 0; i < 8; ++i) {
      out[i] = static_cast<uint8_t>(lo >> (8 * i));
      out[8 + i] = static_cast<uint8_t>(hi >> (8 * i));
    }
  }
};

// Interpolation weight (out of 64) of palette entry `index` for 2-, 3- and 4-bit indices:
// round(64·index / (2^bits − 1)), i.e. 0 21 43 64 / 0 9 18 27 37 46 55 64 /
// 0 4 9 13 17 21 26 30 34 38 43 47 51 55 60 64 (no table: device code keeps it in registers).
BCFEAT_HD int weight(int index_bits, int index) {
  if (index_bits == 2) return (64 * index + 1) / 3;
  if (index_bits == 3) return (64 * index + 3) / 7;
  return (64 * index + 7) / 15;
}

BCFEAT_HD int interpolate(int e0, int e1, int w) { return ((64 - w) * e0 + w * e1 + 32) >> 6; }

// Subset (0..subsets−1) of `texel` in `partition`.
BCFEAT_HD int subset_of(int subsets, int partition, int texel) {
  if (subsets == 1) return 0;
  const uint32_t word = subsets == 2 ? partitions2(partition) : partitions3(partition);
  return static_cast<int>((word >> (2 * texel)) & 3u);
}

// Anchor texel of `subset` (its index is stored without the top bit).
BCFEAT_HD int anchor_of(int subsets, int partition, int subset) {
  if (subset == 0) return 0;
  if (subsets == 2) return anchor2(partition);
  return subset == 1 ? anchor3_second(partition) : anchor3_third(partition);
}

BCFEAT_HD bool is_anchor(int subsets, int partition, int texel) {
  for (int s = 0; s < subsets; ++s) {
    if (anchor_of(subsets, partition, s) == texel) return true;
  }
  return false;
}

}  // namespace bptc
}  // namespace bcfeat
