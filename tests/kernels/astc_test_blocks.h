// Random ASTC block encodings for the decoder tests (CPU suite and GPU suite): libastcenc's
// decoder picks the valid ones, so the blocks reach every block mode, partition count,
// endpoint mode and integer-sequence range a block size allows.
#pragma once

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "astc_codec.h"
#include "catch.h"

namespace bcfeat {

// `count` blocks: random 128-bit words (a quarter with the low two mode bits cleared, to
// reach the block modes that need them), keeping every block libastcenc decodes to a colour
// and error blocks (reserved modes, too many values, bad void extents, ...; one candidate in
// thirty, up to a tenth of the blocks).
inline std::vector<uint8_t> random_astc_blocks(const FormatInfo& f, Profile profile, int count,
                                               std::mt19937_64& rng, int& error_blocks) {
  const int side = 400, candidates = side * side;
  std::vector<uint8_t> pool(16 * static_cast<size_t>(candidates));
  for (int i = 0; i < candidates; ++i) {
    const uint64_t lo = rng(), hi = rng();
    memcpy(&pool[16 * i], &lo, 8);
    memcpy(&pool[16 * i + 8], &hi, 8);
    if (rng() % 4 == 0) pool[16 * i] &= 0xfc;
  }
  const int width = side * f.block_width;
  const std::vector<uint16_t> reference =
      astc_decode_half_reference(f, profile, pool.data(), width, side * f.block_height);
  std::vector<uint8_t> out;
  error_blocks = 0;
  for (int i = 0; i < candidates && static_cast<int>(out.size()) < 16 * count; ++i) {
    const size_t texel =
        static_cast<size_t>(i / side) * f.block_height * width + static_cast<size_t>(i % side) * f.block_width;
    bool error = true;
    for (int c = 0; c < 4; ++c) error = error && reference[4 * texel + c] == 0xffff;
    if (error && (error_blocks >= count / 10 || rng() % 30 != 0)) continue;
    error_blocks += error;
    out.insert(out.end(), pool.begin() + 16 * i, pool.begin() + 16 * i + 16);
  }
  REQUIRE(static_cast<int>(out.size()) == 16 * count);
  return out;
}

}  // namespace bcfeat
