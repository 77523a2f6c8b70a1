// BC1 colour blocks (also the colour half of BC2 and BC3): decode and encode one block.
//
// Decoding reproduces the NVIDIA texture units bit for bit (checked against texture-unit
// vectors in tests/data). Endpoints expand by bit replication (5 → 8: x<<3 | x>>2,
// 6 → 8: x<<2 | x>>4). The interpolated colours are not the textbook (2a+b)/3 of the
// expanded values; measured on H100/H200 they are, per channel:
//   5-bit channels, a and b raw 5-bit:  one third: ((2a + b)·22) >> 3    half: ((a + b)·33) >> 3
//   6-bit channel, A and B expanded:    d = B − A,  one third: (256A + d/4 + 128 + 80d) >> 8
//                                                   half:      (256A + d/4 + 128 + 128d) >> 8
// 4-colour mode when c0 > c1 (BC2/BC3 colour is always 4-colour); otherwise 3 colours
// plus transparent black. Texels come back as k/255.
//
// Encoding minimises the squared error of exactly those decoded values over R, G, B and A
// (so an opaque texel never takes the transparent index):
//   fast   bounding-box diagonal, inset, one index pass                 (CUDA ≥ 10 Gtexel/s target)
//   normal principal axis, two least-squares endpoint refits, both modes, ±1 endpoint polish
//   high   cluster fit over all orderings along the principal axis (4 and 3 clusters),
//          rounding-aware endpoint choice and a greedy ±1 search to convergence
#pragma once

#include <cmath>
#include <cstdint>

#include "bcfeat/kernels/format.h"
#include "bcfeat/kernels/host_device.h"

namespace bcfeat {

namespace bc1_detail {

BCFEAT_HD int expand5(int x) { return (x << 3) | (x >> 2); }
BCFEAT_HD int expand6(int x) { return (x << 2) | (x >> 4); }
BCFEAT_HD int third5(int a, int b) { return ((2 * a + b) * 22) >> 3; }
BCFEAT_HD int half5(int a, int b) { return ((a + b) * 33) >> 3; }
BCFEAT_HD int third6(int a, int b) {
  const int ea = expand6(a), eb = expand6(b), d = eb - ea;
  return (256 * ea + d / 4 + 128 + d * 80) >> 8;
}
BCFEAT_HD int half6(int a, int b) {
  const int ea = expand6(a), eb = expand6(b), d = eb - ea;
  return (256 * ea + d / 4 + 128 + d * 128) >> 8;
}

}  // namespace bc1_detail

// The four RGBA palette entries (0..255) the hardware derives from two RGB565 endpoints.
BCFEAT_HD void bc1_palette(uint32_t c0, uint32_t c1, bool force_four_colour, int palette[4][4]) {
  using namespace bc1_detail;
  const int r0 = (c0 >> 11) & 31, g0 = (c0 >> 5) & 63, b0 = c0 & 31;
  const int r1 = (c1 >> 11) & 31, g1 = (c1 >> 5) & 63, b1 = c1 & 31;
  palette[0][0] = expand5(r0); palette[0][1] = expand6(g0); palette[0][2] = expand5(b0); palette[0][3] = 255;
  palette[1][0] = expand5(r1); palette[1][1] = expand6(g1); palette[1][2] = expand5(b1); palette[1][3] = 255;
  if (c0 > c1 || force_four_colour) {
    palette[2][0] = third5(r0, r1); palette[2][1] = third6(g0, g1); palette[2][2] = third5(b0, b1);
    palette[3][0] = third5(r1, r0); palette[3][1] = third6(g1, g0); palette[3][2] = third5(b1, b0);
    palette[2][3] = palette[3][3] = 255;
  } else {
    palette[2][0] = half5(r0, r1); palette[2][1] = half6(g0, g1); palette[2][2] = half5(b0, b1);
    palette[2][3] = 255;
    palette[3][0] = palette[3][1] = palette[3][2] = palette[3][3] = 0;
  }
}

// Picks entry `index` (0..3) of a 4-entry palette with selects, not a dynamically indexed
// array, which the CUDA compiler would place in local memory.
BCFEAT_HD float select4(int index, float e0, float e1, float e2, float e3) {
  return index < 2 ? (index == 0 ? e0 : e1) : (index == 2 ? e2 : e3);
}

// Decodes 8 bytes into 16 RGBA texels (row-major), values k/255.
BCFEAT_HD void decode_bc1_block(const uint8_t* block, bool force_four_colour, float texels[16][4]) {
  const uint32_t c0 = block[0] | (block[1] << 8), c1 = block[2] | (block[3] << 8);
  const uint32_t indices = block[4] | (block[5] << 8) | (block[6] << 16) | (static_cast<uint32_t>(block[7]) << 24);
  int palette[4][4];
  bc1_palette(c0, c1, force_four_colour, palette);
  float colours[4][4];
  for (int k = 0; k < 4; ++k) {
    for (int c = 0; c < 4; ++c) colours[k][c] = static_cast<float>(palette[k][c]) / 255.0f;
  }
  for (int i = 0; i < 16; ++i) {
    const int index = (indices >> (2 * i)) & 3;
    for (int c = 0; c < 4; ++c) texels[i][c] = select4(index, colours[0][c], colours[1][c], colours[2][c], colours[3][c]);
  }
}

namespace bc1_detail {

struct Candidate {
  uint32_t c0, c1, indices;
  float error;
};

BCFEAT_HD uint32_t pack565(int r, int g, int b) { return (static_cast<uint32_t>(r) << 11) | (g << 5) | b; }

BCFEAT_HD int clamp_int(int x, int low, int high) { return x < low ? low : (x > high ? high : x); }

// Best indices and their error for endpoints (c0, c1). `target` is RGBA scaled to 0..255.
BCFEAT_HD Candidate evaluate(uint32_t c0, uint32_t c1, bool force_four, const float target[16][4]) {
  int palette[4][4];
  bc1_palette(c0, c1, force_four, palette);
  Candidate result{c0, c1, 0u, 0.0f};
  // In 3-colour mode index 3 is transparent black: transparent texels take it, opaque
  // texels never do. (4-colour mode is only tried for fully opaque blocks.)
  const bool three_colour = palette[3][3] == 0;
  for (int i = 0; i < 16; ++i) {
    float best = 3.0e38f;
    int best_index = 0;
    const bool transparent = target[i][3] < 127.5f;
    const int first = three_colour && transparent ? 3 : 0;
    const int last = three_colour && !transparent ? 3 : 4;
    for (int k = first; k < last; ++k) {
      float error = 0.0f;
      for (int c = 0; c < 4; ++c) {
        const float diff = target[i][c] - static_cast<float>(palette[k][c]);
        error += diff * diff;
      }
      if (error < best) {
        best = error;
        best_index = k;
      }
    }
    result.indices |= static_cast<uint32_t>(best_index) << (2 * i);
    result.error += best;
  }
  return result;
}

// Endpoint pair in the requested mode: 4-colour needs c0 > c1, 3-colour c0 <= c1.
// (Swapping endpoints only relabels the palette; evaluate() re-picks the indices.)
BCFEAT_HD Candidate evaluate_mode(uint32_t a, uint32_t b, bool four, bool force_four, const float target[16][4]) {
  if (force_four) return evaluate(a, b, true, target);
  if (four) {
    if (a == b) return evaluate(a, b, false, target);  // equal endpoints: one colour either way
    return a > b ? evaluate(a, b, false, target) : evaluate(b, a, false, target);
  }
  return a <= b ? evaluate(a, b, false, target) : evaluate(b, a, false, target);
}

BCFEAT_HD void better(Candidate& best, const Candidate& candidate) {
  if (candidate.error < best.error) best = candidate;
}

// Quantizes a float colour (0..255) to 565 with per-channel floor/ceil choice bits.
BCFEAT_HD uint32_t quantize565(const float colour[3], int rounding_bits) {
  const float scale[3] = {31.0f / 255.0f, 63.0f / 255.0f, 31.0f / 255.0f};
  const int limit[3] = {31, 63, 31};
  int q[3];
  for (int c = 0; c < 3; ++c) {
    const float x = colour[c] * scale[c];
    int v = static_cast<int>(floorf(x));
    if (rounding_bits < 0) {
      v = static_cast<int>(floorf(x + 0.5f));
    } else if ((rounding_bits >> c) & 1) {
      v += 1;
    }
    q[c] = clamp_int(v, 0, limit[c]);
  }
  return pack565(q[0], q[1], q[2]);
}

// Greedy ±1 search over the six endpoint channels until no step improves.
BCFEAT_HD void polish(Candidate& best, bool four, bool force_four, const float target[16][4], int max_rounds) {
  for (int round = 0; round < max_rounds; ++round) {
    bool improved = false;
    for (int endpoint = 0; endpoint < 2; ++endpoint) {
      for (int channel = 0; channel < 3; ++channel) {
        for (int step = -1; step <= 1; step += 2) {
          const uint32_t base = endpoint == 0 ? best.c0 : best.c1;
          const int shift = channel == 0 ? 11 : (channel == 1 ? 5 : 0);
          const int limit = channel == 1 ? 63 : 31;
          const int value = static_cast<int>((base >> shift) & limit) + step;
          if (value < 0 || value > limit) continue;
          const uint32_t moved = (base & ~(static_cast<uint32_t>(limit) << shift)) | (static_cast<uint32_t>(value) << shift);
          const Candidate candidate = endpoint == 0 ? evaluate_mode(moved, best.c1, four, force_four, target)
                                                    : evaluate_mode(best.c0, moved, four, force_four, target);
          if (candidate.error < best.error) {
            best = candidate;
            improved = true;
          }
        }
      }
    }
    if (!improved) break;
  }
}

// Principal axis of the (opaque) texels by power iteration; returns false when all equal.
BCFEAT_HD bool principal_axis(const float target[16][4], const bool use[16], float mean[3], float axis[3]) {
  float count = 0.0f;
  mean[0] = mean[1] = mean[2] = 0.0f;
  for (int i = 0; i < 16; ++i) {
    if (!use[i]) continue;
    for (int c = 0; c < 3; ++c) mean[c] += target[i][c];
    count += 1.0f;
  }
  if (count == 0.0f) return false;
  for (int c = 0; c < 3; ++c) mean[c] /= count;
  float cov[6] = {0, 0, 0, 0, 0, 0};  // xx xy xz yy yz zz
  for (int i = 0; i < 16; ++i) {
    if (!use[i]) continue;
    const float x = target[i][0] - mean[0], y = target[i][1] - mean[1], z = target[i][2] - mean[2];
    cov[0] += x * x; cov[1] += x * y; cov[2] += x * z; cov[3] += y * y; cov[4] += y * z; cov[5] += z * z;
  }
  // Start from the largest-variance channel's column.
  float v[3] = {cov[0], cov[1], cov[2]};
  if (cov[3] > cov[0] && cov[3] >= cov[5]) { v[0] = cov[1]; v[1] = cov[3]; v[2] = cov[4]; }
  else if (cov[5] > cov[0] && cov[5] > cov[3]) { v[0] = cov[2]; v[1] = cov[4]; v[2] = cov[5]; }
  for (int iteration = 0; iteration < 8; ++iteration) {
    const float x = cov[0] * v[0] + cov[1] * v[1] + cov[2] * v[2];
    const float y = cov[1] * v[0] + cov[3] * v[1] + cov[4] * v[2];
    const float z = cov[2] * v[0] + cov[4] * v[1] + cov[5] * v[2];
    const float norm = fmaxf(fabsf(x), fmaxf(fabsf(y), fabsf(z)));
    if (norm <= 0.0f) return false;
    v[0] = x / norm; v[1] = y / norm; v[2] = z / norm;
  }
  const float length = sqrtf(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
  if (!(length > 0.0f)) return false;
  for (int c = 0; c < 3; ++c) axis[c] = v[c] / length;
  return true;
}

// Least-squares endpoints for given per-texel weights w (colour = (1−w)·a + w·b).
BCFEAT_HD bool solve_endpoints(const float target[16][4], const bool use[16], const float weight[16], float a[3],
                               float b[3]) {
  float aa = 0, ab = 0, bb = 0, ax[3] = {0, 0, 0}, bx[3] = {0, 0, 0};
  for (int i = 0; i < 16; ++i) {
    if (!use[i]) continue;
    const float beta = weight[i], alpha = 1.0f - beta;
    aa += alpha * alpha; ab += alpha * beta; bb += beta * beta;
    for (int c = 0; c < 3; ++c) { ax[c] += alpha * target[i][c]; bx[c] += beta * target[i][c]; }
  }
  const float det = aa * bb - ab * ab;
  if (fabsf(det) < 1e-6f) return false;
  for (int c = 0; c < 3; ++c) {
    a[c] = fminf(255.0f, fmaxf(0.0f, (ax[c] * bb - bx[c] * ab) / det));
    b[c] = fminf(255.0f, fmaxf(0.0f, (bx[c] * aa - ax[c] * ab) / det));
  }
  return true;
}

// Tries float endpoints (a, b) with every floor/ceil rounding when `all_roundings`,
// otherwise nearest only.
BCFEAT_HD void try_endpoints(Candidate& best, const float a[3], const float b[3], bool four, bool force_four,
                             const float target[16][4], bool all_roundings) {
  if (!all_roundings) {
    better(best, evaluate_mode(quantize565(a, -1), quantize565(b, -1), four, force_four, target));
    return;
  }
  for (int ra = 0; ra < 8; ++ra) {
    for (int rb = 0; rb < 8; ++rb) {
      better(best, evaluate_mode(quantize565(a, ra), quantize565(b, rb), four, force_four, target));
    }
  }
}

// Cluster fit: texels sorted along the axis, every split into `clusters` contiguous runs
// (4 → weights 0, 1/3, 2/3, 1; 3 → 0, 1/2, 1), least-squares endpoints for each split;
// the splits with the lowest least-squares error are quantized and evaluated exactly.
BCFEAT_HD void cluster_fit(Candidate& best, const float target[16][4], const bool use[16], const float axis[3],
                           const float mean[3], bool four, bool force_four) {
  int order[16];
  float key[16];
  int n = 0;
  for (int i = 0; i < 16; ++i) {
    if (!use[i]) continue;
    key[n] = (target[i][0] - mean[0]) * axis[0] + (target[i][1] - mean[1]) * axis[1] + (target[i][2] - mean[2]) * axis[2];
    order[n++] = i;
  }
  for (int i = 1; i < n; ++i) {  // insertion sort by projection
    const float k = key[i];
    const int o = order[i];
    int j = i - 1;
    while (j >= 0 && key[j] > k) { key[j + 1] = key[j]; order[j + 1] = order[j]; --j; }
    key[j + 1] = k;
    order[j + 1] = o;
  }
  const int clusters = four ? 4 : 3;
  float best_ls = 3.0e38f;
  float best_a[3] = {0, 0, 0}, best_b[3] = {0, 0, 0};
  bool found = false;
  // Boundaries s1 <= s2 <= s3 (s3 = n for three clusters).
  for (int s1 = 0; s1 <= n; ++s1) {
    for (int s2 = s1; s2 <= n; ++s2) {
      for (int s3 = (clusters == 4 ? s2 : n); s3 <= n; ++s3) {
        float weight[16];
        bool in[16];
        for (int i = 0; i < 16; ++i) in[i] = false;
        for (int r = 0; r < n; ++r) {
          const int i = order[r];
          in[i] = true;
          if (clusters == 4) weight[i] = r < s1 ? 0.0f : (r < s2 ? 1.0f / 3.0f : (r < s3 ? 2.0f / 3.0f : 1.0f));
          else weight[i] = r < s1 ? 0.0f : (r < s2 ? 0.5f : 1.0f);
        }
        float a[3], b[3];
        if (!solve_endpoints(target, in, weight, a, b)) continue;
        float error = 0.0f;
        for (int r = 0; r < n; ++r) {
          const int i = order[r];
          for (int c = 0; c < 3; ++c) {
            const float d = (1.0f - weight[i]) * a[c] + weight[i] * b[c] - target[i][c];
            error += d * d;
          }
        }
        if (error < best_ls) {
          best_ls = error;
          for (int c = 0; c < 3; ++c) { best_a[c] = a[c]; best_b[c] = b[c]; }
          found = true;
        }
      }
    }
  }
  if (found) try_endpoints(best, best_a, best_b, four, force_four, target, true);
}

}  // namespace bc1_detail

// Encodes 16 RGBA texels in [0, 1] (row-major) into 8 bytes. Texels with alpha < 0.5 are
// transparent (3-colour mode, index 3) unless `force_four_colour` (BC2/BC3 colour).
BCFEAT_HD void encode_bc1_block(const float texels[16][4], Quality quality, bool force_four_colour, uint8_t* out) {
  using namespace bc1_detail;
  float target[16][4];
  bool use[16];
  bool any_transparent = false;
  for (int i = 0; i < 16; ++i) {
    for (int c = 0; c < 3; ++c) target[i][c] = texels[i][c] * 255.0f;
    const bool transparent = !force_four_colour && texels[i][3] < 0.5f;
    target[i][3] = force_four_colour ? 255.0f : (transparent ? 0.0f : 255.0f);
    use[i] = !transparent;
    any_transparent = any_transparent || transparent;
  }
  // Modes to try: 4-colour (not with transparent texels), 3-colour (normal/high, or needed).
  const bool try_four = !any_transparent;
  const bool try_three = !force_four_colour && (any_transparent || quality != Quality::kFast);

  float mean[3], axis[3];
  const bool has_axis = principal_axis(target, use, mean, axis);
  Candidate best{0, 0, 0, 3.0e38f};

  // Bounding box (fast) / extreme projections: the starting candidates of every level.
  float low[3] = {255, 255, 255}, high[3] = {0, 0, 0};
  for (int i = 0; i < 16; ++i) {
    if (!use[i]) continue;
    for (int c = 0; c < 3; ++c) { low[c] = fminf(low[c], target[i][c]); high[c] = fmaxf(high[c], target[i][c]); }
  }
  if (low[0] > high[0]) {  // fully transparent block: 3-colour mode, every index 3
    best = evaluate(0, 0, false, target);
  } else {
    float a[3], b[3];
    if (quality == Quality::kFast || !has_axis) {
      // Diagonal of the box that follows the colour correlation (sign of the axis).
      for (int c = 0; c < 3; ++c) { a[c] = high[c]; b[c] = low[c]; }
      if (has_axis) {
        const int major = fabsf(axis[0]) >= fabsf(axis[1]) ? (fabsf(axis[0]) >= fabsf(axis[2]) ? 0 : 2)
                                                           : (fabsf(axis[1]) >= fabsf(axis[2]) ? 1 : 2);
        for (int c = 0; c < 3; ++c) {
          if (c != major && axis[c] * axis[major] < 0.0f) { a[c] = low[c]; b[c] = high[c]; }
        }
      }
      for (int c = 0; c < 3; ++c) {  // inset by 1/16 of the range
        const float inset = (a[c] - b[c]) / 16.0f;
        a[c] -= inset;
        b[c] += inset;
      }
      if (try_four) try_endpoints(best, a, b, true, force_four_colour, target, false);
      if (try_three) try_endpoints(best, a, b, false, force_four_colour, target, false);
    } else {
      float t_low = 3.0e38f, t_high = -3.0e38f;
      for (int i = 0; i < 16; ++i) {
        if (!use[i]) continue;
        const float t = (target[i][0] - mean[0]) * axis[0] + (target[i][1] - mean[1]) * axis[1] +
                        (target[i][2] - mean[2]) * axis[2];
        t_low = fminf(t_low, t);
        t_high = fmaxf(t_high, t);
      }
      for (int c = 0; c < 3; ++c) {
        a[c] = fminf(255.0f, fmaxf(0.0f, mean[c] + axis[c] * t_high));
        b[c] = fminf(255.0f, fmaxf(0.0f, mean[c] + axis[c] * t_low));
      }
      for (int mode = 0; mode < 2; ++mode) {
        const bool four = mode == 0;
        if ((four && !try_four) || (!four && !try_three)) continue;
        Candidate local{0, 0, 0, 3.0e38f};
        try_endpoints(local, a, b, four, force_four_colour, target, quality == Quality::kHigh);
        // Least-squares refits from the current indices.
        for (int refit = 0; refit < 2; ++refit) {
          float weight[16];
          int palette[4][4];
          bc1_palette(local.c0, local.c1, four || force_four_colour, palette);
          for (int i = 0; i < 16; ++i) {
            const int index = (local.indices >> (2 * i)) & 3;
            weight[i] = four ? (index == 0 ? 0.0f : index == 1 ? 1.0f : index == 2 ? 1.0f / 3.0f : 2.0f / 3.0f)
                             : (index == 0 ? 0.0f : index == 1 ? 1.0f : 0.5f);
          }
          float fa[3], fb[3];
          if (!solve_endpoints(target, use, weight, fa, fb)) break;
          try_endpoints(local, fa, fb, four, force_four_colour, target, quality == Quality::kHigh);
        }
        if (quality == Quality::kHigh) cluster_fit(local, target, use, axis, mean, four, force_four_colour);
        polish(local, four, force_four_colour, target, quality == Quality::kHigh ? 16 : 1);
        better(best, local);
      }
    }
  }
  out[0] = static_cast<uint8_t>(best.c0 & 0xff);
  out[1] = static_cast<uint8_t>(best.c0 >> 8);
  out[2] = static_cast<uint8_t>(best.c1 & 0xff);
  out[3] = static_cast<uint8_t>(best.c1 >> 8);
  for (int k = 0; k < 4; ++k) out[4 + k] = static_cast<uint8_t>(best.indices >> (8 * k));
}

}  // namespace bcfeat
