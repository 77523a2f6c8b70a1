// BC7 blocks (RGBA, 8 bits per channel, 16 bytes per 4×4 block): decode and encode.
//
// Decoding follows ARB_texture_compression_bptc (= BC7 in Direct3D): 8 modes, 1–3 subsets
// over 64 partitions, endpoints with p-bits expanded to 8 bits by replicating their top
// bits, 2/3/4-bit indices interpolated with weights out of 64, rotation and index selection
// for modes 4 and 5; the reserved mode (byte 0 = 0) decodes to (0, 0, 0, 0). Values are
// returned as byte / 255, which is what the texture units return (tests/data vectors).
//
// Encoding minimises the squared error of the decoded bytes. For each mode and partition it
// tries, every subset is fitted the same way: principal axis of its texels → endpoints at
// the extreme projections → quantisation with the best p-bits → exhaustive index choice →
// least-squares endpoint refit from those indices, repeated while the error falls. The
// partitions tried are the ones whose subsets lie closest to a line (residual of the
// principal axis), so only a few are fitted in full. Levels:
//   fast    mode 6, and modes 1 and 3 on the best 2-subset partition; one refit
//   normal  + modes 4 and 5 (all rotations and index selections), modes 0 and 2 on the best
//           two 3-subset partitions, modes 1/3/7 on the best four; two refits
//   high    every mode; modes 1/3/7 on the 8 partitions (of 64) where a quick fit does
//           best, modes 0 and 2 on the best 12 3-subset partitions; each subset fitted from
//           a grid of 64 starts, then refits trying every p-bit combination and a ±1
//           search on the endpoint fields and p-bits (see fit_subset)
// (On a 1/64 sample of the Kodak blocks, tools/dev/bc7_sample.cpp on the CPU, against
// searching all 64 2-subset partitions from two starts: +0.14 dB, 2.1× the time;
// results/reference/bc7_high_sample_cpu.txt. All of Kodak: 46.08 dB.)
#pragma once

#include <cstdint>

#include "bc1.h"
#include "bptc.h"
#include "bcfeat/kernels/host_device.h"

namespace bcfeat {

struct Bc7Mode {
  int subsets, partition_bits, rotation_bits, selector_bits, color_bits, alpha_bits, endpoint_pbits, shared_pbits,
      index_bits, index_bits2;
};

BCFEAT_HD Bc7Mode bc7_mode(int mode) {
  switch (mode) {
    case 0: return {3, 4, 0, 0, 4, 0, 1, 0, 3, 0};
    case 1: return {2, 6, 0, 0, 6, 0, 0, 1, 3, 0};
    case 2: return {3, 6, 0, 0, 5, 0, 0, 0, 2, 0};
    case 3: return {2, 6, 0, 0, 7, 0, 1, 0, 2, 0};
    case 4: return {1, 0, 2, 1, 5, 6, 0, 0, 2, 3};
    case 5: return {1, 0, 2, 0, 7, 8, 0, 0, 2, 2};
    case 6: return {1, 0, 0, 0, 7, 7, 1, 0, 4, 0};
    default: return {2, 6, 0, 0, 5, 5, 1, 0, 2, 0};
  }
}

namespace bc7_detail {

// An n-bit endpoint value expanded to 8 bits by replicating its top bits (5 ≤ n ≤ 8).
BCFEAT_HD int expand_bits(int value, int n) { return (value << (8 - n)) | (value >> (2 * n - 8)); }

}  // namespace bc7_detail

// Written so that, unrolled on the device, every array index is a compile-time constant
// (endpoints are picked per texel with selects): the decoder then lives in registers.
BCFEAT_HD void decode_bc7_block(const uint8_t* block, float texels[16][4]) {
  using namespace bptc;
  int mode = 0;
  while (mode < 8 && !((block[0] >> mode) & 1)) ++mode;
  if (mode == 8) {
    BCFEAT_UNROLL
    for (int i = 0; i < 16; ++i) texels[i][0] = texels[i][1] = texels[i][2] = texels[i][3] = 0.0f;
    return;
  }
  const Bc7Mode m = bc7_mode(mode);
  const Bits128 bits = load_bits(block);
  int pos = mode + 1;
  const int partition = static_cast<int>(read_bits(bits, pos, m.partition_bits));
  pos += m.partition_bits;
  const int rotation = static_cast<int>(read_bits(bits, pos, m.rotation_bits));
  pos += m.rotation_bits;
  const int selector = static_cast<int>(read_bits(bits, pos, m.selector_bits));
  pos += m.selector_bits;
  int endpoints[3][2][4];
  BCFEAT_UNROLL
  for (int c = 0; c < 4; ++c) {
    const int n = c < 3 ? m.color_bits : m.alpha_bits;
    BCFEAT_UNROLL
    for (int s = 0; s < 3; ++s) {
      BCFEAT_UNROLL
      for (int e = 0; e < 2; ++e) {
        endpoints[s][e][c] = s < m.subsets ? static_cast<int>(read_bits(bits, pos, n)) : 0;
        if (s < m.subsets) pos += n;
      }
    }
  }
  const bool has_pbits = m.endpoint_pbits || m.shared_pbits;
  BCFEAT_UNROLL
  for (int s = 0; s < 3; ++s) {
    int p0 = 0, p1 = 0;
    if (s < m.subsets && m.endpoint_pbits) {
      p0 = static_cast<int>(read_bits(bits, pos, 1));
      p1 = static_cast<int>(read_bits(bits, pos + 1, 1));
      pos += 2;
    } else if (s < m.subsets && m.shared_pbits) {
      p0 = p1 = static_cast<int>(read_bits(bits, pos, 1));
      pos += 1;
    }
    BCFEAT_UNROLL
    for (int c = 0; c < 4; ++c) {
      const int n = c < 3 ? m.color_bits : m.alpha_bits;
      BCFEAT_UNROLL
      for (int e = 0; e < 2; ++e) {
        int& v = endpoints[s][e][c];
        if (n == 0) {
          v = 255;
        } else if (has_pbits) {
          v = bc7_detail::expand_bits((v << 1) | (e == 0 ? p0 : p1), n + 1);
        } else {
          v = bc7_detail::expand_bits(v, n);
        }
      }
    }
  }
  const uint32_t word = m.subsets == 1 ? 0u : (m.subsets == 2 ? partitions2(partition) : partitions3(partition));
  const int anchor1 = m.subsets > 1 ? anchor_of(m.subsets, partition, 1) : 0;
  const int anchor2 = m.subsets > 2 ? anchor_of(m.subsets, partition, 2) : 0;
  int primary_pos = pos;
  int secondary_pos = pos + 16 * m.index_bits - m.subsets;
  BCFEAT_UNROLL
  for (int i = 0; i < 16; ++i) {
    const bool anchor = i == 0 || i == anchor1 || i == anchor2;
    const int n = m.index_bits - (anchor ? 1 : 0);
    const int primary = static_cast<int>(read_bits(bits, primary_pos, n));
    primary_pos += n;
    int secondary = 0;
    if (m.index_bits2) {
      const int n2 = m.index_bits2 - (i == 0 ? 1 : 0);
      secondary = static_cast<int>(read_bits(bits, secondary_pos, n2));
      secondary_pos += n2;
    }
    int color_index = primary, color_bits = m.index_bits, alpha_index = primary, alpha_bits = m.index_bits;
    if (m.index_bits2) {
      if (selector) {
        color_index = secondary;
        color_bits = m.index_bits2;
      } else {
        alpha_index = secondary;
        alpha_bits = m.index_bits2;
      }
    }
    const int s = static_cast<int>((word >> (2 * i)) & 3u);
    const int color_weight = weight(color_bits, color_index), alpha_weight = weight(alpha_bits, alpha_index);
    int value[4];
    BCFEAT_UNROLL
    for (int c = 0; c < 4; ++c) {
      const int e0 = s == 0 ? endpoints[0][0][c] : (s == 1 ? endpoints[1][0][c] : endpoints[2][0][c]);
      const int e1 = s == 0 ? endpoints[0][1][c] : (s == 1 ? endpoints[1][1][c] : endpoints[2][1][c]);
      value[c] = interpolate(e0, e1, c < 3 ? color_weight : alpha_weight);
    }
    const int a = value[3];
    const int r = rotation == 1 ? a : value[0], g = rotation == 2 ? a : value[1], b = rotation == 3 ? a : value[2];
    const int alpha = rotation == 1 ? value[0] : (rotation == 2 ? value[1] : (rotation == 3 ? value[2] : a));
    texels[i][0] = static_cast<float>(r) / 255.0f;
    texels[i][1] = static_cast<float>(g) / 255.0f;
    texels[i][2] = static_cast<float>(b) / 255.0f;
    texels[i][3] = static_cast<float>(alpha) / 255.0f;
  }
}

namespace bc7_detail {

// One subset's fit: quantised endpoint fields (before p-bits), p-bits, indices, error.
struct SubsetFit {
  int q[2][4];
  int p[2];
  uint8_t index[16];
  float error;
};

// What a subset fit encodes: channels [first, first + count), `bits` per channel, p-bit
// kind (0 none, 1 one per endpoint, 2 shared by the pair), index bits.
struct FitSpec {
  int first, count, bits, pbits, index_bits;
};

using bc1_detail::clamp_int;

BCFEAT_HD int expand_endpoint(int q, int p, const FitSpec& spec) {
  return spec.pbits ? expand_bits((q << 1) | p, spec.bits + 1) : expand_bits(q, spec.bits);
}

// Best field value for an 8-bit-scale target with p-bit p; returns its squared error.
BCFEAT_HD float quantize_channel(float target, int p, const FitSpec& spec, int* q_out) {
  const int top = (1 << spec.bits) - 1;
  const float scale = spec.pbits ? static_cast<float>((2 << spec.bits) - 1) : static_cast<float>(top);
  float guess = target * scale / 255.0f;
  if (spec.pbits) guess = (guess - static_cast<float>(p)) * 0.5f;
  const int centre = clamp_int(static_cast<int>(floorf(guess + 0.5f)), 0, top);
  float best = 3.0e38f;
  for (int q = centre - 1; q <= centre + 1; ++q) {
    if (q < 0 || q > top) continue;
    const float d = static_cast<float>(expand_endpoint(q, p, spec)) - target;
    if (d * d < best) {
      best = d * d;
      *q_out = q;
    }
  }
  return best;
}

// Quantises float endpoints (8-bit scale) into `fit` with the best p-bits.
template <int kCount>
BCFEAT_HD void quantize_pair(const float ends[2][4], const FitSpec& spec, SubsetFit& fit) {
  if (spec.pbits == 0) {
    for (int e = 0; e < 2; ++e) {
      fit.p[e] = 0;
      for (int c = 0; c < kCount; ++c) quantize_channel(ends[e][c], 0, spec, &fit.q[e][c]);
    }
    return;
  }
  float error[2][2];  // [endpoint][p]
  int q[2][2][4];
  for (int e = 0; e < 2; ++e) {
    for (int p = 0; p < 2; ++p) {
      error[e][p] = 0.0f;
      for (int c = 0; c < kCount; ++c) error[e][p] += quantize_channel(ends[e][c], p, spec, &q[e][p][c]);
    }
  }
  int p0 = error[0][1] < error[0][0] ? 1 : 0, p1 = error[1][1] < error[1][0] ? 1 : 0;
  if (spec.pbits == 2) p0 = p1 = error[0][1] + error[1][1] < error[0][0] + error[1][0] ? 1 : 0;
  fit.p[0] = p0;
  fit.p[1] = p1;
  for (int c = 0; c < kCount; ++c) {
    fit.q[0][c] = q[0][p0][c];
    fit.q[1][c] = q[1][p1][c];
  }
}

// Chooses every index of the subset's texels for the quantised endpoints; sets fit.error.
// (Channel count and index bits are template arguments so that the device code keeps the
// palette and the loops in registers.)
template <int kCount, int kIndexBits>
BCFEAT_HD void assign_indices(const float target[16][4], uint32_t mask, const FitSpec& spec, SubsetFit& fit) {
  int ends[2][4];
  for (int e = 0; e < 2; ++e) {
    for (int c = 0; c < kCount; ++c) ends[e][c] = expand_endpoint(fit.q[e][c], fit.p[e], spec);
  }
  constexpr int entries = 1 << kIndexBits;
  float palette[entries][kCount];
  BCFEAT_UNROLL
  for (int k = 0; k < entries; ++k) {
    const int w = bptc::weight(kIndexBits, k);
    for (int c = 0; c < kCount; ++c) palette[k][c] = static_cast<float>(bptc::interpolate(ends[0][c], ends[1][c], w));
  }
  fit.error = 0.0f;
  BCFEAT_UNROLL
  for (int i = 0; i < 16; ++i) {
    if (!((mask >> i) & 1u)) continue;
    float best = 3.0e38f;
    int best_k = 0;
    BCFEAT_UNROLL
    for (int k = 0; k < entries; ++k) {
      // d0² + d1² + ..., the sum started at the first square (0 + d² is d², one add less).
      float error;
      BCFEAT_UNROLL
      for (int c = 0; c < kCount; ++c) {
        const float d = target[i][spec.first + c] - palette[k][c];
        error = c == 0 ? d * d : error + d * d;
      }
      if (error < best) {
        best = error;
        best_k = k;
      }
    }
    fit.index[i] = static_cast<uint8_t>(best_k);
    fit.error += best;
  }
}

template <int kCount>
BCFEAT_HD void assign_indices(const float target[16][4], uint32_t mask, const FitSpec& spec, SubsetFit& fit) {
  switch (spec.index_bits) {
    case 2: assign_indices<kCount, 2>(target, mask, spec, fit); break;
    case 3: assign_indices<kCount, 3>(target, mask, spec, fit); break;
    default: assign_indices<kCount, 4>(target, mask, spec, fit); break;
  }
}

// Principal axis of the masked texels (power iteration on the covariance).
template <int kCount>
BCFEAT_HD void principal_axis(const float target[16][4], uint32_t mask, const FitSpec& spec, float mean[4],
                              float axis[4]) {
  float n = 0.0f;
  for (int c = 0; c < 4; ++c) mean[c] = 0.0f;
  for (int i = 0; i < 16; ++i) {
    if (!((mask >> i) & 1u)) continue;
    n += 1.0f;
    for (int c = 0; c < kCount; ++c) mean[c] += target[i][spec.first + c];
  }
  for (int c = 0; c < kCount; ++c) mean[c] /= n;
  float cov[4][4];
  for (int a = 0; a < 4; ++a) {
    for (int b = 0; b < 4; ++b) cov[a][b] = 0.0f;
  }
  for (int i = 0; i < 16; ++i) {
    if (!((mask >> i) & 1u)) continue;
    float d[4];
    for (int c = 0; c < kCount; ++c) d[c] = target[i][spec.first + c] - mean[c];
    for (int a = 0; a < kCount; ++a) {
      for (int b = a; b < kCount; ++b) cov[a][b] += d[a] * d[b];
    }
  }
  for (int a = 0; a < kCount; ++a) {
    for (int b = 0; b < a; ++b) cov[a][b] = cov[b][a];
  }
  // Start from the covariance row of the widest channel.
  int widest = 0;
  for (int c = 1; c < kCount; ++c) {
    if (cov[c][c] > cov[widest][widest]) widest = c;
  }
  for (int c = 0; c < kCount; ++c) axis[c] = cov[widest][c];
  for (int iteration = 0; iteration < 6; ++iteration) {
    float next[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    float length = 0.0f;
    for (int a = 0; a < kCount; ++a) {
      for (int b = 0; b < kCount; ++b) next[a] += cov[a][b] * axis[b];
      length = fmaxf(length, fabsf(next[a]));
    }
    if (length <= 0.0f) break;
    for (int c = 0; c < kCount; ++c) axis[c] = next[c] / length;
  }
  float norm = 0.0f;
  for (int c = 0; c < kCount; ++c) norm += axis[c] * axis[c];
  if (norm <= 0.0f) {
    for (int c = 0; c < kCount; ++c) axis[c] = 0.0f;
    return;
  }
  const float inverse = 1.0f / sqrtf(norm);
  for (int c = 0; c < kCount; ++c) axis[c] *= inverse;
}

// Least-squares endpoints (8-bit scale) for the current indices; false when degenerate.
template <int kCount>
BCFEAT_HD bool refit_endpoints(const float target[16][4], uint32_t mask, const FitSpec& spec, const SubsetFit& fit,
                               float ends[2][4]) {
  float aa = 0.0f, ab = 0.0f, bb = 0.0f, ax[4] = {0, 0, 0, 0}, bx[4] = {0, 0, 0, 0};
  for (int i = 0; i < 16; ++i) {
    if (!((mask >> i) & 1u)) continue;
    const float t = static_cast<float>(bptc::weight(spec.index_bits, fit.index[i])) / 64.0f;
    const float s = 1.0f - t;
    aa += s * s;
    ab += s * t;
    bb += t * t;
    for (int c = 0; c < kCount; ++c) {
      ax[c] += s * target[i][spec.first + c];
      bx[c] += t * target[i][spec.first + c];
    }
  }
  const float det = aa * bb - ab * ab;
  if (det < 1e-6f) return false;
  const float inverse = 1.0f / det;
  for (int c = 0; c < kCount; ++c) {
    ends[0][c] = fminf(255.0f, fmaxf(0.0f, (bb * ax[c] - ab * bx[c]) * inverse));
    ends[1][c] = fminf(255.0f, fmaxf(0.0f, (aa * bx[c] - ab * ax[c]) * inverse));
  }
  return true;
}

// Least-squares refits from `fit`'s indices while the error falls. `thorough`: each refit
// also tries every p-bit combination (re-quantising the endpoints for it).
template <int kCount>
BCFEAT_HD void refine(const float target[16][4], uint32_t mask, const FitSpec& spec, int refits, bool thorough,
                      SubsetFit& fit) {
  float ends[2][4];
  for (int r = 0; r < refits && fit.error > 0.0f; ++r) {
    if (!refit_endpoints<kCount>(target, mask, spec, fit, ends)) break;
    SubsetFit trial = fit;
    quantize_pair<kCount>(ends, spec, trial);
    assign_indices<kCount>(target, mask, spec, trial);
    for (int combo = 0; thorough && spec.pbits && combo < 4; ++combo) {
      if (spec.pbits == 2 && (combo == 1 || combo == 2)) continue;  // shared: 00 or 11
      SubsetFit other = trial;
      for (int e = 0; e < 2; ++e) {
        other.p[e] = (combo >> e) & 1;
        for (int c = 0; c < kCount; ++c) quantize_channel(ends[e][c], other.p[e], spec, &other.q[e][c]);
      }
      assign_indices<kCount>(target, mask, spec, other);
      if (other.error < trial.error) trial = other;
    }
    if (!(trial.error < fit.error)) break;
    fit = trial;
  }
}

// Quantised endpoints and p-bits packed into one word (at most 2 × 4 × 7 + 2 = 58 bits): the
// fit they give is determined by them, so equal keys mean equal fits.
template <int kCount>
BCFEAT_HD uint64_t endpoint_key(const SubsetFit& fit, const FitSpec& spec) {
  uint64_t key = static_cast<uint64_t>(fit.p[0] * 2 + fit.p[1]);
  for (int e = 0; e < 2; ++e) {
    for (int c = 0; c < kCount; ++c) key = (key << spec.bits) | static_cast<uint64_t>(fit.q[e][c]);
  }
  return key;
}

// The full fit of one subset: endpoints at the extreme projections on the principal axis,
// then refine(). `search` (high) starts instead from a grid of 8 × 8 endpoint pairs on the
// axis, each end moved in from its extreme by 0, ½, 1, … 3½ palette steps, refines each
// distinct start (up to 8 refits) and keeps the best; that one is refined again trying every
// p-bit combination, then improved by moving each channel's two endpoint fields by −1, 0 or
// +1 together and flipping each p-bit, while the error falls. (Least-squares refits from the
// extremes stop in a local minimum when a subset has outliers. On a 1/64 sample of Kodak
// blocks, tools/dev/bc7_sample.cpp, this gains 0.14 dB over fitting from two starts;
// the joint ±1 moves and more 3-subset partitions give 0.02 of it, the grid the rest.)
template <int kCount>
BCFEAT_HD SubsetFit fit_subset(const float target[16][4], uint32_t mask, const FitSpec& spec, int refits, bool search) {
  float mean[4], axis[4];
  principal_axis<kCount>(target, mask, spec, mean, axis);
  float low = 0.0f, high = 0.0f;
  for (int i = 0; i < 16; ++i) {
    if (!((mask >> i) & 1u)) continue;
    float t = 0.0f;
    for (int c = 0; c < kCount; ++c) t += (target[i][spec.first + c] - mean[c]) * axis[c];
    low = fminf(low, t);
    high = fmaxf(high, t);
  }
  constexpr int kGrid = 8;
  const int grid = search ? kGrid : 1;
  const float half_step = (high - low) / static_cast<float>(2 * ((1 << spec.index_bits) - 1));
  uint64_t seen[kGrid * kGrid];
  int seen_count = 0;
  SubsetFit best;
  for (int start = 0; start < grid * grid; ++start) {
    const float in_low = static_cast<float>(start % grid) * half_step;
    const float in_high = static_cast<float>(start / grid) * half_step;
    float ends[2][4];
    for (int c = 0; c < kCount; ++c) {
      ends[0][c] = fminf(255.0f, fmaxf(0.0f, mean[c] + (low + in_low) * axis[c]));
      ends[1][c] = fminf(255.0f, fmaxf(0.0f, mean[c] + (high - in_high) * axis[c]));
    }
    SubsetFit fit;
    quantize_pair<kCount>(ends, spec, fit);
    if (search) {
      const uint64_t key = endpoint_key<kCount>(fit, spec);
      bool repeated = false;
      for (int k = 0; k < seen_count; ++k) repeated = repeated || seen[k] == key;
      if (repeated) continue;
      seen[seen_count++] = key;
    }
    assign_indices<kCount>(target, mask, spec, fit);
    refine<kCount>(target, mask, spec, search ? 8 : refits, false, fit);
    if (start == 0 || fit.error < best.error) best = fit;
  }
  if (!search) return best;
  refine<kCount>(target, mask, spec, refits, true, best);
  const int top = (1 << spec.bits) - 1;
  for (int pass = 0; pass < 8 && best.error > 0.0f; ++pass) {
    bool improved = false;
    for (int c = 0; c < kCount; ++c) {
      for (int move = 0; move < 9; ++move) {
        const int d0 = move % 3 - 1, d1 = move / 3 - 1;
        if (d0 == 0 && d1 == 0) continue;
        SubsetFit trial = best;
        trial.q[0][c] += d0;
        trial.q[1][c] += d1;
        if (trial.q[0][c] < 0 || trial.q[0][c] > top || trial.q[1][c] < 0 || trial.q[1][c] > top) continue;
        assign_indices<kCount>(target, mask, spec, trial);
        if (trial.error < best.error) {
          best = trial;
          improved = true;
        }
      }
    }
    for (int e = 0; e < 2 && spec.pbits; ++e) {
      SubsetFit trial = best;
      trial.p[e] ^= 1;
      if (spec.pbits == 2) trial.p[1 - e] = trial.p[e];
      assign_indices<kCount>(target, mask, spec, trial);
      if (trial.error < best.error) {
        best = trial;
        improved = true;
      }
    }
    if (!improved) break;
  }
  return best;
}

// Sums over a subset's texels for its line residual: the count, the sums of the channels'
// deviations from the block's mean, and the sums of their products (upper triangle, row by
// row). (Centred on the block's mean so that the products stay small.)
struct Moments {
  float n, s[4], p[10];
};

template <int kChannels>
BCFEAT_HD void subset_moments(const float target[16][4], const float centre[4], uint32_t mask, Moments& m) {
  m.n = 0.0f;
  for (int c = 0; c < 4; ++c) m.s[c] = 0.0f;
  for (int k = 0; k < 10; ++k) m.p[k] = 0.0f;
  // The subset's texels in order, one iteration each (where the lanes of a warp score the
  // same partition for different blocks, they stay together).
  for (uint32_t rest = mask; rest != 0; rest &= rest - 1) {
    const int i = lowest_bit(rest);
    float d[kChannels];
    for (int c = 0; c < kChannels; ++c) d[c] = target[i][c] - centre[c];
    m.n += 1.0f;
    int k = 0;
    for (int a = 0; a < kChannels; ++a) {
      m.s[a] += d[a];
      for (int b = a; b < kChannels; ++b) m.p[k++] += d[a] * d[b];
    }
  }
}

// Residual of the best line through a subset (sum of squared distances to its principal
// axis) from its moments: the trace of its scatter matrix minus the largest eigenvalue
// (power iteration from the widest channel's row, then the Rayleigh quotient).
template <int kChannels>
BCFEAT_HD float line_residual(const Moments& m) {
  if (!(m.n > 0.0f)) return 0.0f;
  const float inverse_n = 1.0f / m.n;
  float cov[kChannels][kChannels];
  int k = 0;
  for (int a = 0; a < kChannels; ++a) {
    for (int b = a; b < kChannels; ++b) {
      cov[a][b] = cov[b][a] = m.p[k++] - m.s[a] * m.s[b] * inverse_n;
    }
  }
  float trace = 0.0f;
  int widest = 0;
  for (int c = 0; c < kChannels; ++c) {
    trace += cov[c][c];
    if (cov[c][c] > cov[widest][widest]) widest = c;
  }
  float axis[kChannels];
  for (int c = 0; c < kChannels; ++c) axis[c] = cov[widest][c];
  for (int iteration = 0; iteration < 6; ++iteration) {
    float next[kChannels], length = 0.0f;
    for (int a = 0; a < kChannels; ++a) {
      next[a] = 0.0f;
      for (int b = 0; b < kChannels; ++b) next[a] += cov[a][b] * axis[b];
      length = fmaxf(length, fabsf(next[a]));
    }
    if (!(length > 0.0f)) return trace;
    const float scale = 1.0f / length;
    for (int c = 0; c < kChannels; ++c) axis[c] = next[c] * scale;
  }
  // Rayleigh quotient axisᵀ·cov·axis / axisᵀ·axis.
  float along = 0.0f, norm = 0.0f;
  for (int a = 0; a < kChannels; ++a) {
    float row = 0.0f;
    for (int b = 0; b < kChannels; ++b) row += cov[a][b] * axis[b];
    along += axis[a] * row;
    norm += axis[a] * axis[a];
  }
  return trace - along / norm;
}

// What every partition's line residual starts from: the block's mean and its moments about it.
struct ResidualBasis {
  float centre[4];
  Moments block;
};

template <int kChannels>
BCFEAT_HD void residual_basis(const float target[16][4], ResidualBasis& basis) {
  for (int c = 0; c < 4; ++c) basis.centre[c] = 0.0f;
  for (int i = 0; i < 16; ++i) {
    for (int c = 0; c < kChannels; ++c) basis.centre[c] += target[i][c];
  }
  for (int c = 0; c < kChannels; ++c) basis.centre[c] *= 1.0f / 16.0f;
  subset_moments<kChannels>(target, basis.centre, 0xFFFFu, basis.block);
}

// Line residual (sum over the subsets) of one partition into `subsets`: how well it suits
// the block, without quantisation. Subset 0's moments are the block's minus the others'.
template <int kChannels>
BCFEAT_HD float partition_residual(const float target[16][4], const ResidualBasis& basis, int subsets, int partition) {
  const uint32_t word = subsets == 2 ? bptc::partitions2(partition) : bptc::partitions3(partition);
  Moments rest = basis.block, part;
  float total = 0.0f;
  for (int s = 1; s < subsets; ++s) {
    uint32_t mask = 0;
    for (int i = 0; i < 16; ++i) {
      if (((word >> (2 * i)) & 3u) == static_cast<uint32_t>(s)) mask |= 1u << i;
    }
    subset_moments<kChannels>(target, basis.centre, mask, part);
    total += line_residual<kChannels>(part);
    rest.n -= part.n;
    for (int c = 0; c < 4; ++c) rest.s[c] -= part.s[c];
    for (int k = 0; k < 10; ++k) rest.p[k] -= part.p[k];
  }
  return total + line_residual<kChannels>(rest);
}

// The residuals of partitions [first, first + count) into `subsets` → scores[0 .. count).
template <int kChannels>
BCFEAT_HD void partition_residual_range(const float target[16][4], int subsets, int first, int count, float* scores) {
  ResidualBasis basis;
  residual_basis<kChannels>(target, basis);
  for (int k = 0; k < count; ++k) scores[k] = partition_residual<kChannels>(target, basis, subsets, first + k);
}

BCFEAT_HD void partition_residuals(const float target[16][4], int subsets, int count, int channels, float* scores) {
  if (channels == 3) {
    partition_residual_range<3>(target, subsets, 0, count, scores);
  } else {
    partition_residual_range<4>(target, subsets, 0, count, scores);
  }
}

// Inserts (score, partition) into the `kept` best so far (smallest score first, at most
// `count` ≤ 12 kept).
BCFEAT_HD void keep_ranked(float scores[12], int out[12], int& kept, int count, float score, int partition) {
  if (kept == count && !(score < scores[kept - 1])) return;
  int at = kept < count ? kept++ : kept - 1;
  while (at > 0 && score < scores[at - 1]) {
    scores[at] = scores[at - 1];
    out[at] = out[at - 1];
    --at;
  }
  scores[at] = score;
  out[at] = partition;
}

// The `count` (≤ 12) smallest of scores[0 .. limit), best first (of equal scores, the
// lower index first); their indices go to `out`.
BCFEAT_HD int rank_scores(const float* scores, int limit, int count, int out[12]) {
  float kept_scores[12];
  int kept = 0;
  for (int k = 0; k < limit; ++k) keep_ranked(kept_scores, out, kept, count, scores[k], k);
  return kept;
}

// The `count` (≤ 12) partitions of the first `limit` (≤ 64) with the smallest line
// residuals, best first.
BCFEAT_HD int best_partitions(const float target[16][4], int subsets, int limit, int channels, int count, int out[12]) {
  float scores[64];
  partition_residuals(target, subsets, limit, channels, scores);
  return rank_scores(scores, limit, count, out);
}

// A complete candidate block: mode, partition, rotation, selector, per-subset fits of the
// colour (and, for modes 4 and 5, the separate scalar) part, and the total error.
struct Candidate {
  int mode, partition, rotation, selector;
  SubsetFit color[3];
  SubsetFit alpha;  // modes 4 and 5
  float error;
};

// Swaps a subset's endpoints (and p-bits) and mirrors its indices so the anchor's top
// index bit is 0.
BCFEAT_HD void canonicalize(SubsetFit& fit, uint32_t mask, int anchor, int index_bits, int channels) {
  const int top = (1 << index_bits) - 1;
  if (fit.index[anchor] <= (top >> 1)) return;
  for (int c = 0; c < channels; ++c) {
    const int t = fit.q[0][c];
    fit.q[0][c] = fit.q[1][c];
    fit.q[1][c] = t;
  }
  const int t = fit.p[0];
  fit.p[0] = fit.p[1];
  fit.p[1] = t;
  for (int i = 0; i < 16; ++i) {
    if ((mask >> i) & 1u) fit.index[i] = static_cast<uint8_t>(top - fit.index[i]);
  }
}

BCFEAT_HD uint32_t subset_mask(int subsets, int partition, int s) {
  uint32_t mask = 0;
  for (int i = 0; i < 16; ++i) {
    if (bptc::subset_of(subsets, partition, i) == s) mask |= 1u << i;
  }
  return mask;
}

// Modes 0–3, 6, 7: one index set per texel for all the mode's channels.
BCFEAT_HD Candidate fit_mode(const float target[16][4], int mode, int partition, int refits, bool search) {
  const Bc7Mode m = bc7_mode(mode);
  Candidate candidate;
  candidate.mode = mode;
  candidate.partition = partition;
  candidate.rotation = candidate.selector = 0;
  candidate.error = 0.0f;
  const FitSpec spec{0, m.alpha_bits ? 4 : 3, m.color_bits, m.endpoint_pbits ? 1 : (m.shared_pbits ? 2 : 0), m.index_bits};
  for (int s = 0; s < m.subsets; ++s) {
    const uint32_t mask = subset_mask(m.subsets, partition, s);
    candidate.color[s] = m.alpha_bits ? fit_subset<4>(target, mask, spec, refits, search)
                                      : fit_subset<3>(target, mask, spec, refits, search);
    candidate.error += candidate.color[s].error;
  }
  if (!m.alpha_bits) {  // alpha decodes as 255
    for (int i = 0; i < 16; ++i) candidate.error += (255.0f - target[i][3]) * (255.0f - target[i][3]);
  }
  return candidate;
}

// high: the 8 partitions where `mode` fits best by a quick fit (two refits, no search), best
// first. (On a 1/64 sample of Kodak blocks, searching only these loses 0.01 dB against
// searching all 64, at a quarter of the time.)
BCFEAT_HD int best_fitted_partitions(const float target[16][4], int mode, int out[12]) {
  float scores[12];
  int kept = 0;
  for (int partition = 0; partition < 64; ++partition) {
    keep_ranked(scores, out, kept, 8, fit_mode(target, mode, partition, 2, false).error, partition);
  }
  return kept;
}

// Modes 4 and 5: colour and the rotated-out channel fitted separately.
BCFEAT_HD Candidate fit_rotated_mode(const float target[16][4], int mode, int rotation, int selector, int refits,
                                     bool search) {
  const Bc7Mode m = bc7_mode(mode);
  float rotated[16][4];
  for (int i = 0; i < 16; ++i) {
    for (int c = 0; c < 4; ++c) rotated[i][c] = target[i][c];
    if (rotation) {
      rotated[i][3] = target[i][rotation - 1];
      rotated[i][rotation - 1] = target[i][3];
    }
  }
  const int color_index_bits = selector ? m.index_bits2 : m.index_bits;
  const int alpha_index_bits = selector ? m.index_bits : m.index_bits2;
  Candidate candidate;
  candidate.mode = mode;
  candidate.partition = 0;
  candidate.rotation = rotation;
  candidate.selector = selector;
  candidate.color[0] = fit_subset<3>(rotated, 0xFFFFu, FitSpec{0, 3, m.color_bits, 0, color_index_bits}, refits, search);
  candidate.alpha = fit_subset<1>(rotated, 0xFFFFu, FitSpec{3, 1, m.alpha_bits, 0, alpha_index_bits}, refits, search);
  candidate.error = candidate.color[0].error + candidate.alpha.error;
  return candidate;
}

BCFEAT_HD void keep_better(Candidate& best, const Candidate& candidate) {
  if (candidate.error < best.error) best = candidate;
}

BCFEAT_HD void pack(Candidate c, uint8_t* out) {
  const Bc7Mode m = bc7_mode(c.mode);
  bptc::BitWriter writer;
  writer.put(1u << c.mode, c.mode + 1);
  writer.put(static_cast<uint32_t>(c.partition), m.partition_bits);
  writer.put(static_cast<uint32_t>(c.rotation), m.rotation_bits);
  writer.put(static_cast<uint32_t>(c.selector), m.selector_bits);
  const int color_index_bits = m.index_bits2 && c.selector ? m.index_bits2 : m.index_bits;
  const int channels = m.index_bits2 ? 3 : (m.alpha_bits ? 4 : 3);
  for (int s = 0; s < m.subsets; ++s) {
    canonicalize(c.color[s], subset_mask(m.subsets, c.partition, s), bptc::anchor_of(m.subsets, c.partition, s),
                 color_index_bits, channels);
  }
  if (m.index_bits2) canonicalize(c.alpha, 0xFFFFu, 0, c.selector ? m.index_bits : m.index_bits2, 1);
  for (int ch = 0; ch < 3; ++ch) {
    for (int s = 0; s < m.subsets; ++s) {
      for (int e = 0; e < 2; ++e) writer.put(static_cast<uint32_t>(c.color[s].q[e][ch]), m.color_bits);
    }
  }
  if (m.alpha_bits) {
    for (int s = 0; s < m.subsets; ++s) {
      for (int e = 0; e < 2; ++e) {
        writer.put(static_cast<uint32_t>(m.index_bits2 ? c.alpha.q[e][0] : c.color[s].q[e][3]), m.alpha_bits);
      }
    }
  }
  for (int s = 0; s < m.subsets; ++s) {
    if (m.endpoint_pbits) {
      writer.put(static_cast<uint32_t>(c.color[s].p[0]), 1);
      writer.put(static_cast<uint32_t>(c.color[s].p[1]), 1);
    } else if (m.shared_pbits) {
      writer.put(static_cast<uint32_t>(c.color[s].p[0]), 1);
    }
  }
  // Primary indices: colour unless the selector moves colour to the secondary set.
  const bool color_primary = !(m.index_bits2 && c.selector);
  for (int i = 0; i < 16; ++i) {
    const int s = bptc::subset_of(m.subsets, c.partition, i);
    const int n = m.index_bits - (bptc::is_anchor(m.subsets, c.partition, i) ? 1 : 0);
    writer.put(color_primary ? c.color[s].index[i] : c.alpha.index[i], n);
  }
  if (m.index_bits2) {
    for (int i = 0; i < 16; ++i) writer.put(color_primary ? c.alpha.index[i] : c.color[0].index[i], m.index_bits2 - (i == 0 ? 1 : 0));
  }
  writer.store(out);
}

// A block of one colour: mode 5 with every texel on palette entry 1 (weight 21/64), whose
// 7-bit colour endpoints are searched per channel for the exact value, and 8-bit alpha
// endpoints equal to the alpha. (Modes 3 and 6 cannot give, say, (74, 77, 247): their
// one p-bit per endpoint makes every channel of an endpoint even or every one odd.)
BCFEAT_HD Candidate fit_constant(const float colour[4]) {
  Candidate candidate;
  candidate.mode = 5;
  candidate.partition = candidate.rotation = candidate.selector = 0;
  candidate.error = 0.0f;
  const FitSpec spec{0, 3, 7, 0, 2};
  for (int c = 0; c < 3; ++c) {
    const int centre = clamp_int(static_cast<int>(floorf(colour[c] * 127.0f / 255.0f + 0.5f)), 0, 127);
    float best = 3.0e38f;
    for (int a = centre - 3 > 0 ? centre - 3 : 0; a <= centre + 3 && a <= 127; ++a) {
      for (int b = 0; b <= 127 && best > 0.0f; ++b) {
        const float d = static_cast<float>(bptc::interpolate(expand_endpoint(a, 0, spec), expand_endpoint(b, 0, spec), 21)) - colour[c];
        if (d * d < best) {
          best = d * d;
          candidate.color[0].q[0][c] = a;
          candidate.color[0].q[1][c] = b;
        }
      }
    }
    candidate.error += best;
  }
  const int alpha = clamp_int(static_cast<int>(floorf(colour[3] + 0.5f)), 0, 255);
  candidate.alpha.q[0][0] = candidate.alpha.q[1][0] = alpha;
  candidate.error += (static_cast<float>(alpha) - colour[3]) * (static_cast<float>(alpha) - colour[3]);
  candidate.color[0].p[0] = candidate.color[0].p[1] = candidate.alpha.p[0] = candidate.alpha.p[1] = 0;
  for (int i = 0; i < 16; ++i) {
    candidate.color[0].index[i] = 1;
    candidate.alpha.index[i] = 0;
  }
  candidate.color[0].error = candidate.error;
  return candidate;
}

// The texels on the 0–255 scale the encoder fits; true when every alpha is 255.
BCFEAT_HD bool bc7_target(const float texels[16][4], float target[16][4]) {
  bool opaque = true;
  for (int i = 0; i < 16; ++i) {
    for (int c = 0; c < 4; ++c) target[i][c] = fminf(255.0f, fmaxf(0.0f, texels[i][c] * 255.0f));
    opaque = opaque && target[i][3] == 255.0f;
  }
  return opaque;
}

// Least-squares refits per endpoint fit at each quality level (BC7 and BC6H).
BCFEAT_HD int refits_for(Quality quality) {
  return quality == Quality::kFast ? 1 : (quality == Quality::kNormal ? 2 : 4);
}

// The encoder's first step: mode 6 (and, for a block of one colour, the exact mode 5
// block). True when that settles the block: it is of one colour, or fast/normal find mode 6
// good enough (squared error ≤ 56 over the block's 64 bytes). On a 1/16 sample of the Kodak
// blocks (tools/dev/bc7_sample.cpp) normal settles 29% of the blocks at ≤ 32, 38% at ≤ 40, 45% at
// ≤ 48, 50% at ≤ 56 and 54% at ≤ 64, for 45.364, 45.340, 45.319, 45.301 and 45.287 dB (all of
// Kodak: 45.42 dB at ≤ 32, 45.37 at ≤ 48); with no threshold (Kodak images 5–6) normal was
// 1.3× slower than at ≤ 32 for +0.02 dB.
BCFEAT_HD bool settle_with_mode6(const float target[16][4], Quality quality, Candidate& best) {
  const int refits = refits_for(quality);
  best = fit_mode(target, 6, 0, refits, quality == Quality::kHigh);
  bool constant = true;
  for (int i = 1; i < 16; ++i) {
    for (int c = 0; c < 4; ++c) constant = constant && target[i][c] == target[0][c];
  }
  if (constant) {
    keep_better(best, fit_constant(target[0]));
    return true;
  }
  return quality != Quality::kHigh && best.error <= 56.0f;
}

// fast and normal: the fits after mode 6, fixed by the block alone before any is made (a
// search plan), so that they can be made in any order and the best taken as if in the order
// below, the first of equal errors winning (the CUDA encoder fits them side by side).
//   fast    modes 1 and 3 on the best 2-subset partition by line residual
//   normal  modes 1, 3 (and 7 unless opaque) on each of the best four, in turn; then per
//           rotation mode 5, mode 4 selector 0, mode 4 selector 1; then mode 2 on the best
//           two 3-subset partitions of all 64, mode 0 on the best two of the first 16
struct SearchPlan {
  int two[4], three[2], zero[2];  // 2-subset partitions; mode 2's and mode 0's 3-subset ones
  int kept2;
  bool opaque, normal;
};

// The plan from the line residuals of the 64 2-subset partitions and (normal) of the 64
// 3-subset ones.
BCFEAT_HD void plan_from_scores(const float scores2[64], const float scores3[64], bool opaque, Quality quality,
                                SearchPlan& plan) {
  plan.opaque = opaque;
  plan.normal = quality == Quality::kNormal;
  int partitions[12];
  plan.kept2 = rank_scores(scores2, 64, plan.normal ? 4 : 1, partitions);
  for (int k = 0; k < plan.kept2; ++k) plan.two[k] = partitions[k];
  if (!plan.normal) return;
  rank_scores(scores3, 64, 2, partitions);
  plan.three[0] = partitions[0];
  plan.three[1] = partitions[1];
  rank_scores(scores3, 16, 2, partitions);
  plan.zero[0] = partitions[0];
  plan.zero[1] = partitions[1];
}

BCFEAT_HD void plan_search(const float target[16][4], bool opaque, Quality quality, SearchPlan& plan) {
  float scores2[64], scores3[64];
  partition_residuals(target, 2, 64, opaque ? 3 : 4, scores2);
  if (quality == Quality::kNormal) partition_residuals(target, 3, 64, opaque ? 3 : 4, scores3);
  plan_from_scores(scores2, scores3, opaque, quality, plan);
}

// One planned fit: mode, and partition (modes 0-3, 7) or rotation and selector (4, 5).
struct PlannedFit {
  int mode, partition, rotation, selector;
};

BCFEAT_HD int two_subset_modes(const SearchPlan& plan) { return plan.normal && !plan.opaque ? 3 : 2; }

BCFEAT_HD int planned_fits(const SearchPlan& plan) {
  return plan.kept2 * two_subset_modes(plan) + (plan.normal ? 12 + 2 + 2 : 0);
}

// The plan's fit number `order` (0 ≤ order < planned_fits(plan)).
BCFEAT_HD PlannedFit planned_fit(const SearchPlan& plan, int order) {
  const int per = two_subset_modes(plan);
  if (order < plan.kept2 * per) {
    const int r = order % per;
    return {r == 0 ? 1 : (r == 1 ? 3 : 7), plan.two[order / per], 0, 0};
  }
  order -= plan.kept2 * per;
  if (order < 12) {
    const int r = order % 3;
    return {r == 0 ? 5 : 4, 0, order / 3, r == 2 ? 1 : 0};
  }
  order -= 12;
  return order < 2 ? PlannedFit{2, plan.three[order], 0, 0} : PlannedFit{0, plan.zero[order - 2], 0, 0};
}

// The order of the plan's `nth` fit of `mode`, or -1 when it has fewer.
BCFEAT_HD int planned_order(const SearchPlan& plan, int mode, int nth) {
  const int count = planned_fits(plan);
  for (int order = 0; order < count; ++order) {
    if (planned_fit(plan, order).mode == mode && nth-- == 0) return order;
  }
  return -1;
}

BCFEAT_HD Candidate fit_planned(const float target[16][4], const PlannedFit& f, int refits) {
  return f.mode == 4 || f.mode == 5 ? fit_rotated_mode(target, f.mode, f.rotation, f.selector, refits, false)
                                    : fit_mode(target, f.mode, f.partition, refits, false);
}

// high: modes 1/3/7 on the partitions where each fits best, every rotation and selector of
// modes 4/5, modes 2 and 0 on the best 12 3-subset partitions; every fit searched.
BCFEAT_HD void search_high(const float target[16][4], bool opaque, Candidate& best) {
  const int refits = refits_for(Quality::kHigh);
  int partitions[12];
  const int modes[3] = {1, 3, 7};
  for (int k = 0; k < (opaque ? 2 : 3) && best.error > 0.0f; ++k) {
    const int kept = best_fitted_partitions(target, modes[k], partitions);
    for (int j = 0; j < kept; ++j) keep_better(best, fit_mode(target, modes[k], partitions[j], refits, true));
  }
  if (best.error == 0.0f) return;
  for (int rotation = 0; rotation < 4; ++rotation) {
    keep_better(best, fit_rotated_mode(target, 5, rotation, 0, refits, true));
    keep_better(best, fit_rotated_mode(target, 4, rotation, 0, refits, true));
    keep_better(best, fit_rotated_mode(target, 4, rotation, 1, refits, true));
  }
  float scores[64];
  partition_residuals(target, 3, 64, opaque ? 3 : 4, scores);
  const int kept3 = rank_scores(scores, 64, 12, partitions);
  for (int k = 0; k < kept3; ++k) keep_better(best, fit_mode(target, 2, partitions[k], refits, true));
  const int kept0 = rank_scores(scores, 16, 12, partitions);
  for (int k = 0; k < kept0; ++k) keep_better(best, fit_mode(target, 0, partitions[k], refits, true));
}

// The rest of the search, after a mode 6 fit in `best` that did not settle the block. (A fit
// after one of error 0 cannot be better, so fast and normal stop there.)
BCFEAT_HD void search_modes(const float target[16][4], bool opaque, Quality quality, Candidate& best) {
  if (quality == Quality::kHigh) {
    search_high(target, opaque, best);
    return;
  }
  SearchPlan plan;
  plan_search(target, opaque, quality, plan);
  const int refits = refits_for(quality);
  const int count = planned_fits(plan);
  for (int order = 0; order < count && best.error > 0.0f; ++order) {
    keep_better(best, fit_planned(target, planned_fit(plan, order), refits));
  }
}

}  // namespace bc7_detail

// `texels` are RGBA in [0, 1].
BCFEAT_HD void encode_bc7_block(const float texels[16][4], Quality quality, uint8_t* out) {
  using namespace bc7_detail;
  float target[16][4];
  const bool opaque = bc7_target(texels, target);
  Candidate best;
  if (!settle_with_mode6(target, quality, best)) search_modes(target, opaque, quality, best);
  pack(best, out);
}

// encode_bc7_block's first step alone: writes the mode 6 (or one-colour) block and returns
// true when that settles the block (see settle_with_mode6); else `error` is its squared error
// on the 0-255 scale, which the rest of the search must beat. (The CUDA encoder runs this
// over every block, then the planned fits of the blocks left side by side.)
BCFEAT_HD bool encode_bc7_block_settled(const float texels[16][4], Quality quality, uint8_t* out, float* error) {
  using namespace bc7_detail;
  float target[16][4];
  bc7_target(texels, target);
  Candidate best;
  const bool settled = settle_with_mode6(target, quality, best);
  pack(best, out);
  *error = best.error;
  return settled;
}

}  // namespace bcfeat
