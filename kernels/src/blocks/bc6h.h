// BC6H blocks (RGB half floats, 16 bytes per 4×4 block), unsigned (UF16) and signed (SF16):
// decode and encode.
//
// Decoding follows ARB_texture_compression_bptc (= BC6H in Direct3D): 14 modes with one
// region (4-bit indices) or two regions over 32 partitions (3-bit indices); endpoints stored
// directly or as deltas from the first ("transformed", wrapped at the endpoint precision),
// sign-extended where the format is signed or the mode transformed; unquantised to 16 bits,
// interpolated with the BC7 weights and scaled by 31/64 (UF16) or 31/32 on the magnitude
// (SF16) to half-float bits. Reserved modes decode to 0. Values are returned as the float of
// those half bits — exactly what the texture units return (tests/data vectors).
//
// Encoding minimises the squared error of the decoded values themselves (the framework
// measures feature error, not perceptual error). Endpoints are fitted in the "unquantised"
// domain where interpolation is linear (half bits × 64/31, sign–magnitude for SF16), then
// every palette is evaluated on decoded floats and indices are chosen by float error.
// Levels:
//   fast    three one-region modes (Table.MF positions 10-12), and three two-region modes
//           (0, 1 and 9: 10/5/5/5, 7/6/6/6 and untransformed 6/6/6/6) on the best
//           partition; one refit
//   normal  three one-region modes, and five two-region ones (0, 1, 5, 6, 9) on the best
//           three partitions; one refit (see SearchPlan)
//   high    every mode, the two-region ones on the best eight partitions; four refits,
//           then a ±1 search on every quantised endpoint channel
#pragma once

#include <cstdint>

#include "bc1.h"
#include "bc7.h"
#include "bptc.h"
#include "bcfeat/kernels/float_formats.h"
#include "bcfeat/kernels/host_device.h"

namespace bcfeat {

namespace bc6h_detail {

struct ModeInfo {
  int code, transformed, partition_bits, endpoint_bits, delta_bits[3], mode_bits, layout_bits;
};

// Mode `m` (0..13, the order of Table.MF).
BCFEAT_HD ModeInfo mode_info(int m) {
  ModeInfo info;
  info.code = bptc::bc6h_modes(9 * m);
  info.transformed = bptc::bc6h_modes(9 * m + 1);
  info.partition_bits = bptc::bc6h_modes(9 * m + 2);
  info.endpoint_bits = bptc::bc6h_modes(9 * m + 3);
  for (int c = 0; c < 3; ++c) info.delta_bits[c] = bptc::bc6h_modes(9 * m + 4 + c);
  info.mode_bits = bptc::bc6h_modes(9 * m + 7);
  info.layout_bits = bptc::bc6h_modes(9 * m + 8);
  return info;
}

// Table.MF position of a block's mode field, or −1 for the reserved codes.
BCFEAT_HD int find_mode(const uint8_t* block) {
  const int low2 = block[0] & 3;
  const int code = low2 < 2 ? low2 : (block[0] & 31);
  for (int m = 0; m < 14; ++m) {
    if (bptc::bc6h_modes(9 * m) == code) return m;
  }
  return -1;
}

BCFEAT_HD int sign_extend(int value, int bits) {
  const int shift = 32 - bits;
  return static_cast<int>(static_cast<uint32_t>(value) << shift) >> shift;
}

// Endpoint value x of `bits` bits → 16-bit unquantised value.
BCFEAT_HD int unquantize(int x, int bits, bool is_signed) {
  if (!is_signed) {
    if (bits >= 15) return x;
    if (x == 0) return 0;
    if (x == (1 << bits) - 1) return 0xFFFF;
    return ((x << 15) + 0x4000) >> (bits - 1);
  }
  if (bits >= 16) return x;
  const bool negative = x < 0;
  const int magnitude = negative ? -x : x;
  int unq;
  if (magnitude == 0) {
    unq = 0;
  } else if (magnitude >= (1 << (bits - 1)) - 1) {
    unq = 0x7FFF;
  } else {
    unq = ((magnitude << 15) + 0x4000) >> (bits - 1);
  }
  return negative ? -unq : unq;
}

// Interpolated unquantised value → half bits. A negative value whose magnitude scales to 0
// (only −1) gives +0, not −0: the sign goes with a non-zero magnitude, as the texture units do.
BCFEAT_HD uint16_t finish(int value, bool is_signed) {
  if (!is_signed) return static_cast<uint16_t>((value * 31) >> 6);
  if (value < 0) {
    const int magnitude = (-value * 31) >> 5;
    return static_cast<uint16_t>(magnitude ? magnitude | 0x8000 : 0);
  }
  return static_cast<uint16_t>((value * 31) >> 5);
}

// Raw endpoint fields (as stored) → unquantised endpoints [4][3], applying sign extension
// and the inverse transform exactly as the decoder does.
BCFEAT_HD void unquantize_endpoints(const ModeInfo& info, bool is_signed, const int raw[4][3], int out[4][3]) {
  const int regions = info.partition_bits ? 2 : 1;
  const int mask = (1 << info.endpoint_bits) - 1;
  BCFEAT_UNROLL
  for (int c = 0; c < 3; ++c) {
    int e0 = raw[0][c];
    if (is_signed) e0 = sign_extend(e0, info.endpoint_bits);
    out[0][c] = unquantize(e0, info.endpoint_bits, is_signed);
    BCFEAT_UNROLL
    for (int e = 1; e < 4; ++e) {
      if (e >= 2 * regions) {
        out[e][c] = 0;
        continue;
      }
      int value = raw[e][c];
      const int bits = info.transformed ? info.delta_bits[c] : info.endpoint_bits;
      if (is_signed || info.transformed) value = sign_extend(value, bits);
      if (info.transformed) {
        value = (raw[0][c] + value) & mask;
        if (is_signed) value = sign_extend(value, info.endpoint_bits);
      }
      out[e][c] = unquantize(value, info.endpoint_bits, is_signed);
    }
  }
}

}  // namespace bc6h_detail

BCFEAT_HD void decode_bc6h_block(const uint8_t* block, bool is_signed, float texels[16][4]) {
  using namespace bc6h_detail;
  const int m = find_mode(block);
  if (m < 0) {
    for (int i = 0; i < 16; ++i) {
      texels[i][0] = texels[i][1] = texels[i][2] = 0.0f;
      texels[i][3] = 1.0f;
    }
    return;
  }
  const ModeInfo info = mode_info(m);
  const bptc::Bits128 bits = bptc::load_bits(block);
  // Scatter the endpoint bits into one 48-bit word per endpoint (r, g, b at bits 0, 16,
  // 32) with selects rather than indexed stores, so device code keeps them in registers.
  uint64_t words[4] = {0, 0, 0, 0};
  for (int k = 0; k < info.layout_bits; ++k) {
    const int code = bptc::bc6h_layout(75 * m + k);
    const uint64_t bit = static_cast<uint64_t>(bptc::read_bits(bits, info.mode_bits + k, 1)) << (code % 48);
    const int e = code / 48;
    BCFEAT_UNROLL
    for (int j = 0; j < 4; ++j) words[j] |= e == j ? bit : 0;
  }
  int raw[4][3];
  BCFEAT_UNROLL
  for (int e = 0; e < 4; ++e) {
    BCFEAT_UNROLL
    for (int c = 0; c < 3; ++c) raw[e][c] = static_cast<int>((words[e] >> (16 * c)) & 0xFFFFu);
  }
  int endpoints[4][3];
  unquantize_endpoints(info, is_signed, raw, endpoints);
  const int regions = info.partition_bits ? 2 : 1;
  const int partition = regions == 2 ? static_cast<int>(bptc::read_bits(bits, 77, 5)) : 0;
  const uint32_t word = regions == 2 ? bptc::partitions2(partition) : 0u;
  const int anchor1 = regions == 2 ? bptc::anchor2(partition) : 0;
  const int index_bits = regions == 2 ? 3 : 4;
  int pos = regions == 2 ? 82 : 65;
  BCFEAT_UNROLL
  for (int i = 0; i < 16; ++i) {
    const int n = index_bits - (i == 0 || i == anchor1 ? 1 : 0);
    const int index = static_cast<int>(bptc::read_bits(bits, pos, n));
    pos += n;
    const bool second = ((word >> (2 * i)) & 3u) != 0;
    const int w = bptc::weight(index_bits, index);
    BCFEAT_UNROLL
    for (int c = 0; c < 3; ++c) {
      const int e0 = second ? endpoints[2][c] : endpoints[0][c], e1 = second ? endpoints[3][c] : endpoints[1][c];
      texels[i][c] = half_bits_to_float(finish(bptc::interpolate(e0, e1, w), is_signed));
    }
    texels[i][3] = 1.0f;
  }
}

namespace bc6h_detail {

// Value → the unquantised domain, where the format interpolates linearly: the middle of
// the range of interpolated values that finish() turns into the value's half bits.
BCFEAT_HD float to_linear(float value, bool is_signed) {
  if (!is_signed && !(value > 0.0f)) return 0.0f;
  const float clamped = fminf(65504.0f, fmaxf(-65504.0f, value));
#ifdef __CUDA_ARCH__
  uint16_t half;  // the same rounding (to nearest even) in one instruction
  asm("cvt.rn.f16.f32 %0, %1;" : "=h"(half) : "f"(clamped));
#else
  const uint16_t half = float_to_half_bits(clamped);
#endif
  const int magnitude = half & 0x7FFF;
  if (magnitude == 0) return 0.0f;
  if (!is_signed) return (static_cast<float>(magnitude) + 0.5f) * (64.0f / 31.0f);
  const float linear = (static_cast<float>(magnitude) + 0.5f) * (32.0f / 31.0f);
  return (half & 0x8000) ? -linear : linear;
}

// The endpoint value (signed for SF16) whose unquantised value is nearest `target`.
//
// Kept out of line on the device: inlined into the UF16 `normal` encoder kernel (format and
// level fixed at compile time), CUDA 13.0 produced code that returned the candidate one below
// the nearest for every endpoint on an H200, while the same function compiled stand-alone
// (and the host build) returned the nearest: a diagnostic that recorded each stage of the
// fit on both sides showed identical fitted ends and quantised endpoints off by one.
BCFEAT_HD_NOINLINE int quantize_endpoint(float target, int bits, bool is_signed) {
  // Least-squares refits can extrapolate far (or, degenerate, to NaN); bound the target
  // before converting to int, where x86 and CUDA differ out of range (INT_MIN vs
  // saturation) and would pick different blocks.
  if (!(target > -131072.0f)) target = -131072.0f;
  if (!(target < 131072.0f)) target = 131072.0f;
  const int top = is_signed ? (1 << (bits - 1)) - 1 : (1 << bits) - 1;
  const int bottom = is_signed ? -top : 0;
  // target / 2^(16 − bits) as a product with the exact inverse power of two (the same value;
  // a multiply instead of a division on the device).
  const int shift = 16 - (bits < 16 ? bits : 16);
  const float inverse_step = bit_cast_value<float>(static_cast<uint32_t>(127 - shift) << 23);
  const int centre = static_cast<int>(floorf(target * inverse_step));
  // The three values around target / step; the first of equally near ones wins.
  int best = 0;
  float best_error = 3.0e38f;
  for (int x = centre - 1; x <= centre + 1; ++x) {
    const int clamped = x < bottom ? bottom : (x > top ? top : x);
    const float d = static_cast<float>(unquantize(clamped, bits, is_signed)) - target;
    if (d * d < best_error) {
      best_error = d * d;
      best = clamped;
    }
  }
  return best;
}

// A candidate block: mode, partition, endpoint values x (before the transform, one per
// endpoint and channel), indices and the squared error of the decoded values.
struct Candidate {
  int mode, partition;
  int x[4][3];
  uint8_t index[16];
  float error;
};

// Stored fields for endpoint values x: deltas from x[0] in transformed modes, clamped to
// the delta range (the decoded endpoint then lies between x[0] and the wanted one).
BCFEAT_HD void raw_fields(const ModeInfo& info, const int x[4][3], int raw[4][3]) {
  const int regions = info.partition_bits ? 2 : 1;
  const int mask = (1 << info.endpoint_bits) - 1;
  for (int c = 0; c < 3; ++c) {
    raw[0][c] = x[0][c] & mask;
    for (int e = 1; e < 2 * regions; ++e) {
      if (!info.transformed) {
        raw[e][c] = x[e][c] & mask;
        continue;
      }
      const int limit = 1 << (info.delta_bits[c] - 1);
      int delta = x[e][c] - x[0][c];
      delta = delta < -limit ? -limit : (delta > limit - 1 ? limit - 1 : delta);
      raw[e][c] = delta & ((1 << info.delta_bits[c]) - 1);
    }
  }
}

// A palette entry's half bits as a float (finite: finish() clamps), one conversion
// instruction on the device.
BCFEAT_HD float palette_float(uint16_t half) {
#ifdef __CUDA_ARCH__
  float value;
  asm("cvt.f32.f16 %0, %1;" : "=f"(value) : "h"(half));
  return value;
#else
  return half_bits_to_float(half);
#endif
}

// Decoded palettes for the stored fields, indices by least squared error, total error.
// Anchor texels take only the lower half of the palette (their top index bit is implicit
// 0); the result has bit s set when region s's anchor would have preferred the upper half.
// Each texel is visited once, against its region's palette (so that the lanes of a warp,
// fitting different partitions, do not diverge); the total adds region 0's errors, then
// region 1's, each in texel order.
// Out of line on the device, as fit_mode: inlined at every call, the encoder kernels grew to
// 680-1070 KB of code and stalled on instruction fetch; out of line (214-232 KB) `normal` runs
// 1.25x faster on an H200, `fast` 0.95x (results/reference/bptc_noinline_h200.txt).
template <int kRegions>
BCFEAT_HD_NOINLINE int assign_indices(const float values[16][4], bool is_signed, const ModeInfo& info, Candidate& candidate) {
  int raw[4][3], endpoints[4][3];
  raw_fields(info, candidate.x, raw);
  unquantize_endpoints(info, is_signed, raw, endpoints);
  constexpr int index_bits = kRegions == 2 ? 3 : 4, entries = 1 << index_bits;
  float palette[kRegions][entries][3];
  BCFEAT_UNROLL
  for (int s = 0; s < kRegions; ++s) {
    BCFEAT_UNROLL
    for (int k = 0; k < entries; ++k) {
      const int w = bptc::weight(index_bits, k);
      BCFEAT_UNROLL
      for (int c = 0; c < 3; ++c) {
        const int value = bptc::interpolate(endpoints[2 * s][c], endpoints[2 * s + 1][c], w);
        palette[s][k][c] = palette_float(finish(value, is_signed));
      }
    }
  }
  const uint32_t regions = kRegions == 2 ? bptc::partitions2(candidate.partition) : 0u;  // 2 bits per texel
  const int anchors[2] = {bptc::anchor_of(kRegions, candidate.partition, 0),
                          kRegions == 2 ? bptc::anchor_of(kRegions, candidate.partition, 1) : -1};
  int wants_swap = 0;
  float first = 0.0f;  // region 0's errors
  float second[16];    // region 1's, added after
  for (int i = 0; i < 16; ++i) {
    const float v[3] = {values[i][0], values[i][1], values[i][2]};
    const int s = static_cast<int>((regions >> (2 * i)) & 1u);
    const bool anchor = i == anchors[s];
    float best = 3.0e38f, best_lower = 3.0e38f;
    int best_k = 0;
    BCFEAT_UNROLL
    for (int k = 0; k < entries; ++k) {
      // d0² + d1² + d2², the sum started at the first square (0 + d² is d², one add less).
      float error;
      BCFEAT_UNROLL
      for (int c = 0; c < 3; ++c) {
        const float d = (s ? palette[kRegions - 1][k][c] : palette[0][k][c]) - v[c];
        error = c == 0 ? d * d : error + d * d;
      }
      if (error < best) {
        best = error;
        if (!anchor || k < entries / 2) best_k = k;
      }
      if (k < entries / 2 && error < best_lower) best_lower = error;
    }
    if (anchor) {
      if (best < best_lower) wants_swap |= 1 << s;
      best = best_lower;
    }
    candidate.index[i] = static_cast<uint8_t>(best_k);
    if (s == 0) {
      first += best;
    } else {
      second[i] = best;
    }
  }
  float total = first;
  if (kRegions == 2) {
    for (int i = 0; i < 16; ++i) {
      if ((regions >> (2 * i)) & 1u) total += second[i];
    }
  }
  candidate.error = total;
  return wants_swap;
}

BCFEAT_HD int assign_indices(const float values[16][4], bool is_signed, const ModeInfo& info, Candidate& candidate) {
  return info.partition_bits ? assign_indices<2>(values, is_signed, info, candidate)
                             : assign_indices<1>(values, is_signed, info, candidate);
}

// Indices for the candidate's endpoints, also trying each region's endpoints swapped
// where its anchor preferred the upper half (in transformed modes a swap can change what
// the clamped deltas represent, so both orders are evaluated).
BCFEAT_HD void evaluate(const float values[16][4], bool is_signed, const ModeInfo& info, Candidate& candidate) {
  const int wants_swap = assign_indices(values, is_signed, info, candidate);
  if (!wants_swap) return;
  Candidate swapped = candidate;
  for (int s = 0; s < 2; ++s) {
    if (!((wants_swap >> s) & 1)) continue;
    for (int c = 0; c < 3; ++c) {
      const int t = swapped.x[2 * s][c];
      swapped.x[2 * s][c] = swapped.x[2 * s + 1][c];
      swapped.x[2 * s + 1][c] = t;
    }
  }
  assign_indices(values, is_signed, info, swapped);
  if (swapped.error < candidate.error) candidate = swapped;
}

BCFEAT_HD void linear_endpoints(const float linear[16][4], uint32_t mask, float ends[2][4]) {
  const bc7_detail::FitSpec spec{0, 3, 8, 0, 2};
  float mean[4], axis[4];
  bc7_detail::principal_axis<3>(linear, mask, spec, mean, axis);
  float low = 0.0f, high = 0.0f;
  for (int i = 0; i < 16; ++i) {
    if (!((mask >> i) & 1u)) continue;
    float t = 0.0f;
    for (int c = 0; c < 3; ++c) t += (linear[i][c] - mean[c]) * axis[c];
    low = fminf(low, t);
    high = fmaxf(high, t);
  }
  for (int c = 0; c < 3; ++c) {
    ends[0][c] = mean[c] + low * axis[c];
    ends[1][c] = mean[c] + high * axis[c];
  }
}

// Least-squares endpoints in the linear domain for the candidate's indices of region s.
BCFEAT_HD bool refit_region(const float linear[16][4], uint32_t mask, int index_bits, const Candidate& candidate,
                            float ends[2][4]) {
  float aa = 0.0f, ab = 0.0f, bb = 0.0f, ax[3] = {0, 0, 0}, bx[3] = {0, 0, 0};
  for (int i = 0; i < 16; ++i) {
    if (!((mask >> i) & 1u)) continue;
    const float t = static_cast<float>(bptc::weight(index_bits, candidate.index[i])) / 64.0f;
    const float s = 1.0f - t;
    aa += s * s;
    ab += s * t;
    bb += t * t;
    for (int c = 0; c < 3; ++c) {
      ax[c] += s * linear[i][c];
      bx[c] += t * linear[i][c];
    }
  }
  const float det = aa * bb - ab * ab;
  if (det < 1e-6f) return false;
  const float inverse = 1.0f / det;
  for (int c = 0; c < 3; ++c) {
    ends[0][c] = (bb * ax[c] - ab * bx[c]) * inverse;
    ends[1][c] = (aa * bx[c] - ab * ax[c]) * inverse;
  }
  return true;
}

BCFEAT_HD_NOINLINE Candidate fit_mode(const float values[16][4], const float linear[16][4], bool is_signed, int mode,
                                      int partition, int refits, bool search) {
  const ModeInfo info = mode_info(mode);
  const int regions = info.partition_bits ? 2 : 1;
  const int index_bits = regions == 2 ? 3 : 4;
  Candidate best;
  best.mode = mode;
  best.partition = partition;
  uint32_t masks[2];
  for (int s = 0; s < regions; ++s) {
    masks[s] = bc7_detail::subset_mask(regions, partition, s);
    float ends[2][4];
    linear_endpoints(linear, masks[s], ends);
    for (int e = 0; e < 2; ++e) {
      for (int c = 0; c < 3; ++c) best.x[2 * s + e][c] = quantize_endpoint(ends[e][c], info.endpoint_bits, is_signed);
    }
  }
  evaluate(values, is_signed, info, best);
  for (int r = 0; r < refits && best.error > 0.0f; ++r) {
    Candidate trial = best;
    bool moved = false;
    for (int s = 0; s < regions; ++s) {
      float ends[2][4];
      if (!refit_region(linear, masks[s], index_bits, best, ends)) continue;
      moved = true;
      for (int e = 0; e < 2; ++e) {
        for (int c = 0; c < 3; ++c) trial.x[2 * s + e][c] = quantize_endpoint(ends[e][c], info.endpoint_bits, is_signed);
      }
    }
    if (!moved) break;
    evaluate(values, is_signed, info, trial);
    if (!(trial.error < best.error)) break;
    best = trial;
  }
  if (!search) return best;
  const int top = is_signed ? (1 << (info.endpoint_bits - 1)) - 1 : (1 << info.endpoint_bits) - 1;
  const int bottom = is_signed ? -top : 0;
  for (int pass = 0; pass < 2 && best.error > 0.0f; ++pass) {
    bool improved = false;
    for (int e = 0; e < 2 * regions; ++e) {
      for (int c = 0; c < 3; ++c) {
        for (int step = -1; step <= 1; step += 2) {
          Candidate trial = best;
          trial.x[e][c] += step;
          if (trial.x[e][c] < bottom || trial.x[e][c] > top) continue;
          evaluate(values, is_signed, info, trial);
          if (trial.error < best.error) {
            best = trial;
            improved = true;
          }
        }
      }
    }
    if (!improved) break;
  }
  return best;
}

BCFEAT_HD void pack(const Candidate& candidate, uint8_t* out) {
  const ModeInfo info = mode_info(candidate.mode);
  int raw[4][3];
  raw_fields(info, candidate.x, raw);
  bptc::BitWriter writer;
  writer.put(static_cast<uint32_t>(info.code), info.mode_bits);
  for (int k = 0; k < info.layout_bits; ++k) {
    const int code = bptc::bc6h_layout(75 * candidate.mode + k);
    writer.put(static_cast<uint32_t>(raw[code / 48][(code / 16) % 3] >> (code % 16)), 1);
  }
  const int regions = info.partition_bits ? 2 : 1;
  const int index_bits = regions == 2 ? 3 : 4;
  if (regions == 2) writer.put(static_cast<uint32_t>(candidate.partition), 5);
  for (int i = 0; i < 16; ++i) {
    writer.put(candidate.index[i], index_bits - (bptc::is_anchor(regions, candidate.partition, i) ? 1 : 0));
  }
  writer.store(out);
}

// The values the encoder fits (clamped to the half range; UF16 from 0) and their
// unquantised-domain images.
BCFEAT_HD void encoder_inputs(const float texels[16][4], bool is_signed, float values[16][4], float linear[16][4]) {
  for (int i = 0; i < 16; ++i) {
    for (int c = 0; c < 3; ++c) {
      const float v = fminf(65504.0f, fmaxf(is_signed ? -65504.0f : 0.0f, texels[i][c]));
      values[i][c] = v;
      linear[i][c] = to_linear(v, is_signed);
    }
    values[i][3] = linear[i][3] = 0.0f;
  }
}

// The fits of a block's search in order, fixed by the block alone before any is made (so
// that the CUDA encoder can make them side by side and keep the first of the smallest
// error): the level's one-region modes, then per 2-region partition (best first by line
// residual: 1 fast, 3 normal, 8 high) the level's two-region modes (Table.MF positions):
//   fast    10, 11, 12 (and 13 for a block of one value); 0, 1, 9
//   normal  10, 11, 12 (and 13 for a block of one value); 0, 1, 5, 6, 9
//   high    10-13; 0-9
// and least-squares refits per fit: fast 1, normal 1, high 4. Each level's fits include the
// previous level's, so no level is worse than the one before on any block.
// Fast and normal leave out mode 13 (16-bit endpoints with 4-bit deltas) but for blocks of
// one value (equal unquantised-domain texels), which it represents exactly; normal leaves out
// modes 2, 3, 4, 7 and 8 (deltas of other precisions). With all ten two-region modes and two
// refits these were the best fit of 15% (UF16) and 25% (SF16) of the blocks of a 1/16 sample
// of the Kodak images (mapped as the bench maps them), but on that sample:
//   normal as before (all modes, two refits)       UF16 44.67 dB, SF16 37.31 dB
//   modes 0, 1, 2, 5, 6, 9; two refits              44.62
//   the same, one refit                             44.53, 37.10
//   ... without mode 13                             44.53, 37.10
//   ... and without mode 2 (this normal)            44.51, 37.09
// while one refit with all modes gave 44.58 dB, leaving out mode 9 (the untransformed
// 6/6/6/6, for regions too far apart for deltas) cost 0.1 dB more, and mode 1 (7/6/6/6) 0.7
// dB. (Fast: UF16 43.87, SF16 36.32 dB with mode 13 and without.) On an H200 (docs/dev/bptc_cuda.md) six
// modes and one refit ran 1.9x as fast as all ten and two refits on Kodak 1, and this normal
// encodes 554 (UF16) Mtexel/s per Kodak image.
struct SearchPlan {
  int partitions[8];
  int kept;
  int one_region;  // one-region fits: modes 10 .. 10 + one_region − 1
  Quality quality;
};

BCFEAT_HD constexpr int refits_for(Quality quality) { return quality == Quality::kHigh ? 4 : 1; }

// Fits of one-region modes at most (a plan's one_region).
constexpr int kMaxOneRegionFits = 4;

BCFEAT_HD constexpr int two_region_modes(Quality quality) {
  return quality == Quality::kFast ? 3 : (quality == Quality::kNormal ? 5 : 10);
}

// The level's r-th two-region mode.
BCFEAT_HD int two_region_mode(Quality quality, int r) {
  if (quality == Quality::kFast) return r == 2 ? 9 : r;
  if (quality == Quality::kNormal) return r < 2 ? r : (r == 4 ? 9 : r + 3);
  return r;
}

// The plan from the line residuals of the first 32 two-subset partitions (those BC6H has);
// `uniform`: the block's texels are of one value.
BCFEAT_HD void plan_from_scores(const float scores[32], bool uniform, Quality quality, SearchPlan& plan) {
  const int count = quality == Quality::kFast ? 1 : (quality == Quality::kNormal ? 3 : 8);
  int partitions[12];
  plan.kept = bc7_detail::rank_scores(scores, 32, count, partitions);
  for (int k = 0; k < plan.kept; ++k) plan.partitions[k] = partitions[k];
  plan.one_region = quality == Quality::kHigh || uniform ? 4 : 3;
  plan.quality = quality;
}

// Whether the block's unquantised-domain texels are all equal.
BCFEAT_HD bool uniform_block(const float linear[16][4]) {
  bool uniform = true;
  for (int i = 1; i < 16; ++i) {
    for (int c = 0; c < 3; ++c) uniform = uniform && linear[i][c] == linear[0][c];
  }
  return uniform;
}

BCFEAT_HD void plan_search(const float linear[16][4], Quality quality, SearchPlan& plan) {
  float scores[32];
  bc7_detail::partition_residuals(linear, 2, 32, 3, scores);
  plan_from_scores(scores, uniform_block(linear), quality, plan);
}

BCFEAT_HD int planned_fits(const SearchPlan& plan) {
  return plan.one_region + plan.kept * two_region_modes(plan.quality);
}

// Fit number `order` of the plan → its mode (Table.MF position) and partition.
BCFEAT_HD void planned_fit(const SearchPlan& plan, int order, int* mode, int* partition) {
  const int one = plan.one_region;
  if (order < one) {
    *mode = 10 + order;
    *partition = 0;
    return;
  }
  order -= one;
  const int per = two_region_modes(plan.quality);
  *mode = two_region_mode(plan.quality, order % per);
  *partition = plan.partitions[order / per];
}

}  // namespace bc6h_detail

// `texels` hold RGB values (alpha ignored); for UF16, negative values encode as 0.
BCFEAT_HD void encode_bc6h_block(const float texels[16][4], bool is_signed, Quality quality, uint8_t* out) {
  using namespace bc6h_detail;
  float values[16][4], linear[16][4];
  encoder_inputs(texels, is_signed, values, linear);
  const int refits = refits_for(quality);
  const bool search = quality == Quality::kHigh;
  SearchPlan plan;
  plan_search(linear, quality, plan);
  const int count = planned_fits(plan);
  int mode = 0, partition = 0;
  planned_fit(plan, 0, &mode, &partition);
  Candidate best = fit_mode(values, linear, is_signed, mode, partition, refits, search);
  for (int order = 1; order < count && best.error > 0.0f; ++order) {
    planned_fit(plan, order, &mode, &partition);
    const Candidate candidate = fit_mode(values, linear, is_signed, mode, partition, refits, search);
    if (candidate.error < best.error) best = candidate;
  }
  pack(best, out);
}

}  // namespace bcfeat
