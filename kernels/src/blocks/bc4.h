// BC4 single-channel blocks (also BC3 alpha and both BC5 channels): decode and encode.
//
// Decoding reproduces the NVIDIA texture units bit for bit. They interpolate at 16-bit
// precision with fixed weights, not the textbook i/7 and i/5. Measured on H100/H200
// (tests/data vectors), every palette entry is
//     y = E(a_far) + w · (a_near − a_far)
// with E(a) = 257·a for unorm (y / 65535 returned) and, for snorm (a clamped to ≥ −127),
// E(a) = sign(a)·(258·|a| + (|a| >> 6)) (7-bit magnitude replicated to 15 bits; y / 32767
// returned). The weight w and which endpoint is "near" depend on the index:
//     8-value mode (a0 > a1):  index 2..7 → w = 36, 72, 144, 144, 72, 36;
//                              near endpoint a1 for 2, 3, 5 and a0 for 4, 6, 7
//     6-value mode:            index 2..5 → w = 48, 96, 96, 48; near a1 for 2, 3, a0 for 4, 5;
//                              index 6 → min (0 or −1), 7 → max (1)
// (unorm: 257 is the full weight; snorm: 258.) The mode is chosen on the clamped snorm endpoints:
// (a0, a1) = (-127, -128) is a 6-value block (index 7 decodes to +1), the one pair where that
// differs from comparing the stored bytes (tests/data/texture_bc*_snorm_minus128.bin).
// The alpha block of BC3 uses the same layout but the texture units return it at 8-bit
// precision, with its own weights: y = ((2048 − w)·a0 + w·a1 + 1024) >> 11, returned as
// y / 255, with w = 289, 578, 892, 1156, 1470, 1759 for indices 2..7 of the 8-value mode
// and 385, 770, 1278, 1663 for indices 2..5 of the 6-value mode (6 → 0, 7 → 255).
//
// Encoding minimises the squared error of those decoded values:
//   fast   8-value mode from min/max, one index pass                      (CUDA ≥ 10 Gtexel/s target)
//   normal both modes from the data's extremes (6-value mode spends 0/1 or −1/1 on outliers),
//          then a ±1 endpoint polish
//   high   exhaustive search of both modes over a window of ±4 codes around the extremes
#pragma once

#include <cstdint>

#include "bc1.h"
#include "bcfeat/kernels/host_device.h"

namespace bcfeat {

// How a BC4-layout block is interpreted: BC4/BC5 unorm or snorm, or BC3's alpha.
enum class Bc4Kind : int { kUnorm, kSnorm, kBc3Alpha };

namespace bc4_detail {

BCFEAT_HD int expand(int a, bool is_signed) {
  if (!is_signed) return 257 * a;
  if (a < -127) a = -127;
  const int magnitude = a < 0 ? -a : a;
  const int expanded = 258 * magnitude + (magnitude >> 6);
  return a < 0 ? -expanded : expanded;
}

BCFEAT_HD int alpha8(int a0, int a1, int w) { return ((2048 - w) * a0 + w * a1 + 1024) >> 11; }

}  // namespace bc4_detail

// Units of the palette: the decoded value is palette / bc4_unit(kind).
BCFEAT_HD float bc4_unit(Bc4Kind kind) {
  return kind == Bc4Kind::kSnorm ? 32767.0f : (kind == Bc4Kind::kUnorm ? 65535.0f : 255.0f);
}

// The 8 palette entries for raw endpoint bytes e0, e1 (signed for kSnorm).
BCFEAT_HD void bc4_palette(uint8_t e0, uint8_t e1, Bc4Kind kind, int palette[8]) {
  using namespace bc4_detail;
  const bool is_signed = kind == Bc4Kind::kSnorm;
  const int a0 = is_signed ? static_cast<int>(static_cast<int8_t>(e0)) : e0;
  const int a1 = is_signed ? static_cast<int>(static_cast<int8_t>(e1)) : e1;
  if (kind == Bc4Kind::kBc3Alpha) {
    palette[0] = a0;
    palette[1] = a1;
    if (a0 > a1) {
      const int weights[6] = {289, 578, 892, 1156, 1470, 1759};
      for (int k = 0; k < 6; ++k) palette[2 + k] = alpha8(a0, a1, weights[k]);
    } else {
      const int weights[4] = {385, 770, 1278, 1663};
      for (int k = 0; k < 4; ++k) palette[2 + k] = alpha8(a0, a1, weights[k]);
      palette[6] = 0;
      palette[7] = 255;
    }
    return;
  }
  // snorm: -128 is read as -127 before the mode is chosen, so (-127, -128) is a 6-value block.
  const int c0 = is_signed && a0 < -127 ? -127 : a0, c1 = is_signed && a1 < -127 ? -127 : a1;
  palette[0] = expand(a0, is_signed);
  palette[1] = expand(a1, is_signed);
  if (c0 > c1) {
    palette[2] = expand(c0, is_signed) + 36 * (c1 - c0);
    palette[3] = expand(c0, is_signed) + 72 * (c1 - c0);
    palette[4] = expand(c1, is_signed) + 144 * (c0 - c1);
    palette[5] = expand(c0, is_signed) + 144 * (c1 - c0);
    palette[6] = expand(c1, is_signed) + 72 * (c0 - c1);
    palette[7] = expand(c1, is_signed) + 36 * (c0 - c1);
  } else {
    palette[2] = expand(c0, is_signed) + 48 * (c1 - c0);
    palette[3] = expand(c0, is_signed) + 96 * (c1 - c0);
    palette[4] = expand(c1, is_signed) + 96 * (c0 - c1);
    palette[5] = expand(c1, is_signed) + 48 * (c0 - c1);
    palette[6] = is_signed ? -32767 : 0;
    palette[7] = is_signed ? 32767 : 65535;
  }
}

// Decodes 8 bytes into 16 values (row-major), written to out[i * stride].
BCFEAT_HD void decode_bc4_block(const uint8_t* block, Bc4Kind kind, float* out, int stride) {
  int palette[8];
  bc4_palette(block[0], block[1], kind, palette);
  const float unit = bc4_unit(kind);
  float values[8];
  for (int k = 0; k < 8; ++k) values[k] = static_cast<float>(palette[k]) / unit;
  uint64_t bits = 0;
  for (int k = 0; k < 6; ++k) bits |= static_cast<uint64_t>(block[2 + k]) << (8 * k);
  for (int i = 0; i < 16; ++i) {
    const int index = static_cast<int>((bits >> (3 * i)) & 7);
    // Selects rather than values[index], which CUDA would put in local memory.
    out[i * stride] = index < 4 ? select4(index, values[0], values[1], values[2], values[3])
                                : select4(index - 4, values[4], values[5], values[6], values[7]);
  }
}

namespace bc4_detail {

struct Candidate {
  int e0, e1;  // raw endpoint values (signed when is_signed)
  uint64_t indices;
  float error;
};

BCFEAT_HD Candidate evaluate(int e0, int e1, Bc4Kind kind, const float target[16]) {
  int palette[8];
  bc4_palette(static_cast<uint8_t>(e0), static_cast<uint8_t>(e1), kind, palette);
  Candidate result{e0, e1, 0ull, 0.0f};
  for (int i = 0; i < 16; ++i) {
    float best = 3.0e38f;
    int best_index = 0;
    for (int k = 0; k < 8; ++k) {
      const float diff = target[i] - static_cast<float>(palette[k]);
      if (diff * diff < best) {
        best = diff * diff;
        best_index = k;
      }
    }
    result.indices |= static_cast<uint64_t>(best_index) << (3 * i);
    result.error += best;
  }
  return result;
}

BCFEAT_HD void better(Candidate& best, const Candidate& candidate) {
  if (candidate.error < best.error) best = candidate;
}

}  // namespace bc4_detail

// Encodes 16 values (row-major, read at values[i * stride]) in [0, 1] (unorm, BC3 alpha)
// or [−1, 1] (snorm) into 8 bytes.
BCFEAT_HD void encode_bc4_block(const float* values, int stride, Bc4Kind kind, Quality quality, uint8_t* out) {
  using namespace bc4_detail;
  const bool is_signed = kind == Bc4Kind::kSnorm;
  const float scale = bc4_unit(kind);
  const int code_low = is_signed ? -127 : 0, code_high = is_signed ? 127 : 255;
  const float code_scale = is_signed ? 127.0f : 255.0f;
  float target[16];
  float low = 3.0e38f, high = -3.0e38f;
  for (int i = 0; i < 16; ++i) {
    target[i] = values[i * stride] * scale;
    low = fminf(low, values[i * stride]);
    high = fmaxf(high, values[i * stride]);
  }
  const int q_low = bc1_detail::clamp_int(static_cast<int>(floorf(low * code_scale + 0.5f)), code_low, code_high);
  const int q_high = bc1_detail::clamp_int(static_cast<int>(floorf(high * code_scale + 0.5f)), code_low, code_high);
  // 8-value mode (e0 > e1) spanning the data; equal endpoints for a constant block.
  Candidate best = evaluate(q_high, q_low, kind, target);
  if (quality != Quality::kFast) {
    // 6-value mode: endpoints from the values not better served by the fixed extremes.
    const float extreme_low = is_signed ? -1.0f : 0.0f;
    float inner_low = 3.0e38f, inner_high = -3.0e38f;
    for (int i = 0; i < 16; ++i) {
      const float v = values[i * stride];
      const float to_extreme = fminf(v - extreme_low, 1.0f - v);
      if (to_extreme < (high - low) / 10.0f) continue;
      inner_low = fminf(inner_low, v);
      inner_high = fmaxf(inner_high, v);
    }
    if (inner_low <= inner_high) {
      const int a = bc1_detail::clamp_int(static_cast<int>(floorf(inner_low * code_scale + 0.5f)), code_low, code_high);
      const int b = bc1_detail::clamp_int(static_cast<int>(floorf(inner_high * code_scale + 0.5f)), code_low, code_high);
      better(best, evaluate(a, b, kind, target));
    }
    better(best, evaluate(q_low, q_high, kind, target));  // 6-value mode over the full range
    const int radius = quality == Quality::kHigh ? 4 : 0;
    if (radius > 0) {
      const int centres[2][2] = {{best.e0, best.e1}, {q_high, q_low}};
      for (int centre = 0; centre < 2; ++centre) {
        for (int d0 = -radius; d0 <= radius; ++d0) {
          for (int d1 = -radius; d1 <= radius; ++d1) {
            const int e0 = centres[centre][0] + d0, e1 = centres[centre][1] + d1;
            if (e0 < code_low || e0 > code_high || e1 < code_low || e1 > code_high) continue;
            better(best, evaluate(e0, e1, kind, target));
            better(best, evaluate(e1, e0, kind, target));
          }
        }
      }
    }
    // ±1 polish on each endpoint until no step improves.
    for (int round = 0; round < 8; ++round) {
      bool improved = false;
      for (int which = 0; which < 2; ++which) {
        for (int step = -1; step <= 1; step += 2) {
          const int e0 = best.e0 + (which == 0 ? step : 0), e1 = best.e1 + (which == 1 ? step : 0);
          if (e0 < code_low || e0 > code_high || e1 < code_low || e1 > code_high) continue;
          const Candidate candidate = evaluate(e0, e1, kind, target);
          if (candidate.error < best.error) {
            best = candidate;
            improved = true;
          }
        }
      }
      if (!improved) break;
    }
  }
  out[0] = static_cast<uint8_t>(best.e0);
  out[1] = static_cast<uint8_t>(best.e1);
  for (int k = 0; k < 6; ++k) out[2 + k] = static_cast<uint8_t>(best.indices >> (8 * k));
}

}  // namespace bcfeat
