// ASTC (2D, LDR and HDR profiles): one 128-bit block → its texels as half-float bits.
//
// Written from the Khronos Data Format Specification (chapter "ASTC Compressed Texture
// Image Formats"): block mode, partitions and the partition hash, colour endpoint modes
// 0-15 (LDR and HDR), integer sequence encoding with trits and quints, weight unquantisation
// and the bilinear weight infill, dual planes, void-extent blocks. The output follows ARM's
// libastcenc decoder (the reference the tests compare with, bit for bit, as float16):
//  - LDR channels interpolate 16-bit unorm values and become half floats by truncation
//    (0xFFFF → 1.0); HDR channels interpolate 16-bit LNS values (→ half, at most 65504);
//  - error blocks (reserved block modes, too many weights or colour values, dual plane with
//    four partitions, bad void extents, a grid larger than the block) decode to 0xFFFF
//    (NaN) in every channel, as do HDR void-extent blocks under the LDR profile; HDR
//    endpoints under the LDR profile decode to the error colour (0xFF00, 0, 0xFF00, 0xFF00)
//    in unorm16.
// Everything is BCFEAT_HD so the CPU driver and the CUDA kernel run the same code.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "bcfeat/kernels/host_device.h"

namespace bcfeat {

constexpr int kAstcMaxTexels = 144;  // 12x12

namespace astc_detail {

// The 128-bit block as two little-endian words; bit i of the block is bit i of lo:hi.
struct Bits {
  uint64_t lo, hi;
};

BCFEAT_HD uint32_t bits_at(const Bits& b, int pos, int count) {
  if (count <= 0 || pos >= 128) return 0;
  uint64_t v;
  if (pos >= 64) {
    v = b.hi >> (pos - 64);
  } else if (pos == 0) {
    v = b.lo;
  } else {
    v = (b.lo >> pos) | (b.hi << (64 - pos));
  }
  return static_cast<uint32_t>(v & ((count >= 32 ? 0xffffffffull : ((1ull << count) - 1))));
}

BCFEAT_HD uint64_t reverse64(uint64_t x) {
  x = ((x >> 1) & 0x5555555555555555ull) | ((x & 0x5555555555555555ull) << 1);
  x = ((x >> 2) & 0x3333333333333333ull) | ((x & 0x3333333333333333ull) << 2);
  x = ((x >> 4) & 0x0f0f0f0f0f0f0f0full) | ((x & 0x0f0f0f0f0f0f0f0full) << 4);
  x = ((x >> 8) & 0x00ff00ff00ff00ffull) | ((x & 0x00ff00ff00ff00ffull) << 8);
  x = ((x >> 16) & 0x0000ffff0000ffffull) | ((x & 0x0000ffff0000ffffull) << 16);
  return (x >> 32) | (x << 32);
}

// The 21 quantisation ranges of the integer sequence encoding, index 0..20 =
// 2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 24, 32, 40, 48, 64, 80, 96, 128, 160, 192, 256 values.
// kind: 0 = bits only, 1 = trits, 2 = quints.
struct Range {
  int bits, kind;
};

BCFEAT_HD Range range_of(int index) {
  // The levels in order: bits only, trits (3·2^b) or quints (5·2^b), each with b low bits:
  // 1 0 2 0 1 3 1 2 4 2 3 5 3 4 6 4 5 7 5 6 8 low bits, of kinds b t b q t b q t b q t b q t b q t b q t b.
  // Packed as 4-bit and 2-bit fields so that the lookup has no branches (the CUDA decoder
  // calls it with a different range in every lane).
  const uint32_t bits = index < 16 ? static_cast<uint32_t>(0x4643532421310201ull >> (4 * index))
                                   : 0x86575u >> (4 * (index - 16));
  return {static_cast<int>(bits & 15), static_cast<int>((0x6186186184ull >> (2 * index)) & 3)};
}

BCFEAT_HD int sequence_bits(int count, int index) {
  const Range r = range_of(index);
  int bits = count * r.bits;
  if (r.kind == 1) bits += (8 * count + 4) / 5;
  if (r.kind == 2) bits += (7 * count + 2) / 3;
  return bits;
}

// The five trits packed in the 8 bits `t` of a trit block (specification, "Integer Sequence
// Encoding"), returned two bits per trit: trit k in bits 2k..2k+1.
BCFEAT_HD uint32_t unpack_trits(uint32_t t) {
  uint32_t c, t0, t1, t2, t3, t4;
  if (((t >> 2) & 7) == 7) {
    c = ((t >> 5) << 2) | (t & 3);
    t4 = 2;
    t3 = 2;
  } else {
    c = t & 0x1f;
    if (((t >> 5) & 3) == 3) {
      t4 = 2;
      t3 = (t >> 7) & 1;
    } else {
      t4 = (t >> 7) & 1;
      t3 = (t >> 5) & 3;
    }
  }
  if ((c & 3) == 3) {
    t2 = 2;
    t1 = (c >> 4) & 1;
    t0 = (((c >> 3) & 1) << 1) | (((c >> 2) & 1) & ~((c >> 3) & 1));
  } else if (((c >> 2) & 3) == 3) {
    t2 = 2;
    t1 = 2;
    t0 = c & 3;
  } else {
    t2 = (c >> 4) & 1;
    t1 = (c >> 2) & 3;
    t0 = (((c >> 1) & 1) << 1) | ((c & 1) & ~((c >> 1) & 1));
  }
  return t0 | (t1 << 2) | (t2 << 4) | (t3 << 6) | (t4 << 8);
}

// The three quints packed in the 7 bits `q` of a quint block, three bits per quint: quint k
// in bits 3k..3k+2.
BCFEAT_HD uint32_t unpack_quints(uint32_t q) {
  uint32_t q0, q1, q2;
  if (((q >> 1) & 3) == 3 && ((q >> 5) & 3) == 0) {
    const uint32_t b0 = q & 1;
    q2 = (b0 << 2) | ((((q >> 4) & 1) & ~b0) << 1) | (((q >> 3) & 1) & ~b0);
    q1 = 4;
    q0 = 4;
  } else {
    uint32_t c;
    if (((q >> 1) & 3) == 3) {
      q2 = 4;
      c = (((q >> 3) & 3) << 3) | ((~(q >> 5) & 3) << 1) | (q & 1);
    } else {
      q2 = (q >> 5) & 3;
      c = q & 0x1f;
    }
    if ((c & 7) == 5) {
      q1 = 4;
      q0 = (c >> 3) & 3;
    } else {
      q1 = (c >> 3) & 3;
      q0 = c & 7;
    }
  }
  return q0 | (q1 << 3) | (q2 << 6);
}

// Reads `count` (≤ 64) values of range `index` starting at bit `start`; bits past the end of
// the sequence read as zero. Value k goes to out[k], or with `split_planes` (interleaved dual
// plane weights, count ≤ 64) even values to out[k / 2] and odd ones to out[32 + k / 2].
BCFEAT_HD void decode_sequence(const Bits& b, int start, int count, int index, uint8_t* out, bool split_planes = false) {
  auto slot = [&](int k) { return split_planes ? ((k & 1) << 5) | (k >> 1) : k; };
  const Range r = range_of(index);
  const int end = start + sequence_bits(count, index);
  int pos = start;
  auto take = [&](int n) -> uint32_t {
    const int avail = end - pos;
    const uint32_t v = avail <= 0 ? 0u : bits_at(b, pos, n < avail ? n : avail);
    pos += n;
    return v;
  };
  if (r.kind == 0) {
    for (int i = 0; i < count; ++i) out[slot(i)] = static_cast<uint8_t>(take(r.bits));
    return;
  }
  if (r.kind == 1) {
    for (int first = 0; first < count; first += 5) {
      uint32_t m[5];
      uint32_t t = 0;
      m[0] = take(r.bits);
      t |= take(2);
      m[1] = take(r.bits);
      t |= take(2) << 2;
      m[2] = take(r.bits);
      t |= take(1) << 4;
      m[3] = take(r.bits);
      t |= take(2) << 5;
      m[4] = take(r.bits);
      t |= take(1) << 7;
      const uint32_t trits = unpack_trits(t);
      for (int k = 0; k < 5 && first + k < count; ++k) {
        out[slot(first + k)] = static_cast<uint8_t>((((trits >> (2 * k)) & 3) << r.bits) | m[k]);
      }
    }
    return;
  }
  for (int first = 0; first < count; first += 3) {
    uint32_t m[3];
    uint32_t q = 0;
    m[0] = take(r.bits);
    q |= take(3);
    m[1] = take(r.bits);
    q |= take(2) << 3;
    m[2] = take(r.bits);
    q |= take(2) << 5;
    const uint32_t quints = unpack_quints(q);
    for (int k = 0; k < 3 && first + k < count; ++k) {
      out[slot(first + k)] = static_cast<uint8_t>((((quints >> (3 * k)) & 7) << r.bits) | m[k]);
    }
  }
}

// Bit replication of a `bits`-bit value to `to` bits (most significant bits first).
BCFEAT_HD uint32_t replicate(uint32_t v, int bits, int to) {
  uint32_t r = v;
  int have = bits;
  while (have < to) {
    r = (r << bits) | v;
    have += bits;
  }
  return r >> (have - to);
}

// Colour endpoint value of range `index` (≥ 4: at least 6 values) → 0..255.
BCFEAT_HD int unquantize_colour(uint32_t v, int index) {
  const Range r = range_of(index);
  if (r.kind == 0) return static_cast<int>(replicate(v, r.bits, 8));
  const uint32_t m = v & ((1u << r.bits) - 1);
  const uint32_t d = v >> r.bits;
  const uint32_t a = (v & 1) ? 0x1ffu : 0u;
  const uint32_t b1 = (m >> 1) & 1, c = (m >> 2) & 1, dd = (m >> 3) & 1, e = (m >> 4) & 1, f = (m >> 5) & 1;
  uint32_t bb = 0, cc = 0;
  if (r.kind == 1) {
    switch (r.bits) {
      case 1: bb = 0; cc = 204; break;
      case 2: bb = b1 * 0x116; cc = 93; break;
      case 3: bb = c * 0x10a + b1 * 0x85; cc = 44; break;
      case 4: bb = dd * 0x104 + c * 0x82 + b1 * 0x41; cc = 22; break;
      case 5: bb = e * 0x102 + dd * 0x81 + c * 0x40 + b1 * 0x20; cc = 11; break;
      default: bb = f * 0x101 + e * 0x80 + dd * 0x40 + c * 0x20 + b1 * 0x10; cc = 5; break;
    }
  } else {
    switch (r.bits) {
      case 1: bb = 0; cc = 113; break;
      case 2: bb = b1 * 0x10c; cc = 54; break;
      case 3: bb = c * 0x105 + b1 * 0x82; cc = 26; break;
      case 4: bb = dd * 0x102 + c * 0x81 + b1 * 0x40; cc = 13; break;
      default: bb = e * 0x101 + dd * 0x80 + c * 0x40 + b1 * 0x20; cc = 6; break;
    }
  }
  uint32_t t = d * cc + bb;
  t ^= a;
  return static_cast<int>((a & 0x80) | (t >> 2));
}

// Weight value of range `index` (0..11) → 0..64.
BCFEAT_HD int unquantize_weight(uint32_t v, int index) {
  const Range r = range_of(index);
  uint32_t t;
  if (r.kind == 0) {
    t = replicate(v, r.bits, 6);
  } else if (r.bits == 0) {
    if (r.kind == 1) {
      t = v == 0 ? 0 : v == 1 ? 32 : 63;
    } else {
      t = v == 0 ? 0 : v == 1 ? 16 : v == 2 ? 32 : v == 3 ? 47 : 63;
    }
  } else {
    const uint32_t m = v & ((1u << r.bits) - 1);
    const uint32_t d = v >> r.bits;
    const uint32_t a = (v & 1) ? 0x7fu : 0u;
    const uint32_t b1 = (m >> 1) & 1, c = (m >> 2) & 1;
    uint32_t bb = 0, cc = 0;
    if (r.kind == 1) {
      if (r.bits == 1) { bb = 0; cc = 50; }
      else if (r.bits == 2) { bb = b1 * 0x45; cc = 23; }
      else { bb = c * 0x42 + b1 * 0x21; cc = 11; }
    } else {
      if (r.bits == 1) { bb = 0; cc = 28; }
      else { bb = b1 * 0x42; cc = 13; }
    }
    t = d * cc + bb;
    t ^= a;
    t = (a & 0x20) | (t >> 2);
  }
  if (t > 32) ++t;
  return static_cast<int>(t);
}

struct BlockMode {
  int grid_w, grid_h;
  bool dual;
  int weight_range;  // 0..11
  int weight_bits;
};

// Decodes the 11-bit block mode; false for reserved modes and for weight counts / bit
// counts outside the limits (≤ 64 weights, 24..96 bits).
BCFEAT_HD bool decode_block_mode(uint32_t mode, BlockMode& out) {
  int r = static_cast<int>((mode >> 4) & 1);
  int h = static_cast<int>((mode >> 9) & 1);
  int d = static_cast<int>((mode >> 10) & 1);
  const int a = static_cast<int>((mode >> 5) & 3);
  int w = 0, hh = 0;
  if ((mode & 3) != 0) {
    r |= static_cast<int>(mode & 3) << 1;
    int b = static_cast<int>((mode >> 7) & 3);
    switch ((mode >> 2) & 3) {
      case 0: w = b + 4; hh = a + 2; break;
      case 1: w = b + 8; hh = a + 2; break;
      case 2: w = a + 2; hh = b + 8; break;
      default:
        b &= 1;
        if (mode & 0x100) {
          w = b + 2;
          hh = a + 2;
        } else {
          w = a + 2;
          hh = b + 6;
        }
        break;
    }
  } else {
    r |= static_cast<int>((mode >> 2) & 3) << 1;
    if (((mode >> 2) & 3) == 0) return false;
    const int b = static_cast<int>((mode >> 9) & 3);
    switch ((mode >> 7) & 3) {
      case 0: w = 12; hh = a + 2; break;
      case 1: w = a + 2; hh = 12; break;
      case 2: w = a + 6; hh = b + 6; d = 0; h = 0; break;
      default:
        if (((mode >> 5) & 3) == 0) {
          w = 6;
          hh = 10;
        } else if (((mode >> 5) & 3) == 1) {
          w = 10;
          hh = 6;
        } else {
          return false;
        }
        break;
    }
  }
  out.grid_w = w;
  out.grid_h = hh;
  out.dual = d != 0;
  out.weight_range = (r - 2) + 6 * h;
  const int count = w * hh * (d + 1);
  out.weight_bits = sequence_bits(count, out.weight_range);
  return count <= 64 && out.weight_bits >= 24 && out.weight_bits <= 96;
}

BCFEAT_HD uint32_t partition_hash(uint32_t p) {
  p ^= p >> 15;
  p -= p << 17;
  p += p << 7;
  p += p << 4;
  p ^= p >> 5;
  p += p << 16;
  p ^= p >> 7;
  p ^= p >> 3;
  p ^= p << 6;
  p ^= p >> 17;
  return p;
}

// The partition pattern `seed` (10 bits) of `count` partitions as four lines: texel (x, y)
// scores (mul[2i] * x + mul[2i+1] * y + add[i]) & 63 on line i and belongs to the partition of
// the highest score (the first on ties). Unused lines score 0; small blocks (< 31 texels)
// double the slopes, as the specification doubles x and y.
BCFEAT_HD void partition_pattern(int seed, int count, bool small_block, uint8_t* mul, uint8_t* add) {
  seed += (count - 1) * 1024;
  const uint32_t rnum = partition_hash(static_cast<uint32_t>(seed));
  uint32_t s[12];
  for (int i = 0; i < 8; ++i) s[i] = (rnum >> (4 * i)) & 0xf;
  s[8] = (rnum >> 18) & 0xf;
  s[9] = (rnum >> 22) & 0xf;
  s[10] = (rnum >> 26) & 0xf;
  s[11] = ((rnum >> 30) | (rnum << 2)) & 0xf;
  for (int i = 0; i < 12; ++i) s[i] *= s[i];
  int sh1, sh2;
  if (seed & 1) {
    sh1 = (seed & 2) ? 4 : 5;
    sh2 = count == 3 ? 6 : 5;
  } else {
    sh1 = count == 3 ? 6 : 5;
    sh2 = (seed & 2) ? 4 : 5;
  }
  // s[8..11] are the z slopes, unused for 2D blocks (z = 0).
  for (int i = 0; i < 8; i += 2) {
    s[i] >>= sh1;
    s[i + 1] >>= sh2;
  }
  const int lines = count < 3 ? 2 : count;
  for (int i = 0; i < 4; ++i) {
    const bool used = i < lines;
    mul[2 * i] = static_cast<uint8_t>(used ? s[2 * i] << (small_block ? 1 : 0) : 0);
    mul[2 * i + 1] = static_cast<uint8_t>(used ? s[2 * i + 1] << (small_block ? 1 : 0) : 0);
    add[i] = static_cast<uint8_t>(used ? (rnum >> (14 - 4 * i)) & 0x3f : 0);
  }
}

BCFEAT_HD int partition_of(const uint8_t* mul, const uint8_t* add, int x, int y) {
  const int a = (mul[0] * x + mul[1] * y + add[0]) & 0x3f;
  const int b = (mul[2] * x + mul[3] * y + add[1]) & 0x3f;
  const int c = (mul[4] * x + mul[5] * y + add[2]) & 0x3f;
  const int d = (mul[6] * x + mul[7] * y + add[3]) & 0x3f;
  if (a >= b && a >= c && a >= d) return 0;
  if (b >= c && b >= d) return 1;
  if (c >= d) return 2;
  return 3;
}

BCFEAT_HD int clamp_int(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }

// One endpoint pair: 16-bit values per channel (unorm16 or LNS), and which channels are HDR.
struct Endpoints {
  int e0[4], e1[4];
  bool rgb_hdr, alpha_hdr;
};

// "bit_transfer_signed": moves the top bit of `a` into `b` and makes `a` a signed 6-bit delta.
BCFEAT_HD void bit_transfer_signed(int& a, int& b) {
  b = (b >> 1) | (a & 0x80);
  a = (a >> 1) & 0x3f;
  if (a & 0x20) a -= 0x40;
}

BCFEAT_HD void set4(int* e, int r, int g, int b, int a) {
  e[0] = r;
  e[1] = g;
  e[2] = b;
  e[3] = a;
}

// HDR RGB direct (mode 11) into 12-bit values.
BCFEAT_HD void hdr_rgb_direct(const int* v, int* e0, int* e1) {
  const int mode = ((v[1] >> 7) & 1) | (((v[2] >> 7) & 1) << 1) | (((v[3] >> 7) & 1) << 2);
  const int major = ((v[4] >> 7) & 1) | (((v[5] >> 7) & 1) << 1);
  if (major == 3) {
    set4(e0, v[0] << 4, v[2] << 4, (v[4] & 0x7f) << 5, 0);
    set4(e1, v[1] << 4, v[3] << 4, (v[5] & 0x7f) << 5, 0);
    return;
  }
  int a = v[0] | ((v[1] & 0x40) << 2);
  int b0 = v[2] & 0x3f, b1 = v[3] & 0x3f;
  int c = v[1] & 0x3f;
  int d0 = v[4] & 0x7f, d1 = v[5] & 0x7f;
  const int x0 = (v[2] >> 6) & 1, x1 = (v[3] >> 6) & 1, x2 = (v[4] >> 6) & 1, x3 = (v[5] >> 6) & 1;
  const int x4 = (v[4] >> 5) & 1, x5 = (v[5] >> 5) & 1;
  const int onehot = 1 << mode;
  // Where the six variable bits go, per mode (specification table "HDR mode 11").
  if (onehot & 0xa4) a |= x0 << 9;
  if (onehot & 0x08) a |= x2 << 9;
  if (onehot & 0x50) a |= x4 << 9;
  if (onehot & 0x50) a |= x5 << 10;
  if (onehot & 0xa0) a |= x1 << 10;
  if (onehot & 0xc0) a |= x2 << 11;
  if (onehot & 0x04) c |= x1 << 6;
  if (onehot & 0xe8) c |= x3 << 6;
  if (onehot & 0x20) c |= x2 << 7;
  if (onehot & 0x5b) {
    b0 |= x0 << 6;
    b1 |= x1 << 6;
  }
  if (onehot & 0x12) {
    b0 |= x2 << 7;
    b1 |= x3 << 7;
  }
  if (onehot & 0xaf) {
    d0 |= x4 << 5;
    d1 |= x5 << 5;
  }
  if (onehot & 0x05) {
    d0 |= x2 << 6;
    d1 |= x3 << 6;
  }
  const int dbits = (mode & 1) ? 6 : (mode == 4 || mode == 6) ? 5 : 7;
  // Sign-extend d0, d1 from dbits.
  d0 = (d0 & ((1 << dbits) - 1)) - ((d0 >> (dbits - 1) & 1) << dbits);
  d1 = (d1 & ((1 << dbits) - 1)) - ((d1 >> (dbits - 1) & 1) << dbits);
  const int shift = (mode >> 1) ^ 3;
  a <<= shift;
  b0 <<= shift;
  b1 <<= shift;
  c <<= shift;
  d0 *= 1 << shift;
  d1 *= 1 << shift;
  int rgb1[3] = {a, a - b0, a - b1};
  int rgb0[3] = {a - c, a - b0 - c - d0, a - b1 - c - d1};
  for (int i = 0; i < 3; ++i) {
    rgb0[i] = clamp_int(rgb0[i], 0, 0xfff);
    rgb1[i] = clamp_int(rgb1[i], 0, 0xfff);
  }
  if (major == 1 || major == 2) {  // swap red with green (1) or blue (2)
    const int other = major;
    int t = rgb0[0]; rgb0[0] = rgb0[other]; rgb0[other] = t;
    t = rgb1[0]; rgb1[0] = rgb1[other]; rgb1[other] = t;
  }
  set4(e0, rgb0[0], rgb0[1], rgb0[2], 0);
  set4(e1, rgb1[0], rgb1[1], rgb1[2], 0);
}

// HDR RGB base + scale (mode 7) into 12-bit values.
BCFEAT_HD void hdr_rgb_scale(const int* v, int* e0, int* e1) {
  const int modeval = ((v[0] & 0xc0) >> 6) | (((v[1] & 0x80) >> 7) << 2) | (((v[2] & 0x80) >> 7) << 3);
  int major, mode;
  if ((modeval & 0xc) != 0xc) {
    major = modeval >> 2;
    mode = modeval & 3;
  } else if (modeval != 0xf) {
    major = modeval & 3;
    mode = 4;
  } else {
    major = 0;
    mode = 5;
  }
  int red = v[0] & 0x3f, green = v[1] & 0x1f, blue = v[2] & 0x1f, scale = v[3] & 0x1f;
  const int x0 = (v[1] >> 6) & 1, x1 = (v[1] >> 5) & 1, x2 = (v[2] >> 6) & 1, x3 = (v[2] >> 5) & 1;
  const int x4 = (v[3] >> 7) & 1, x5 = (v[3] >> 6) & 1, x6 = (v[3] >> 5) & 1;
  const int onehot = 1 << mode;
  if (onehot & 0x30) green |= x0 << 6;
  if (onehot & 0x3a) green |= x1 << 5;
  if (onehot & 0x30) blue |= x2 << 6;
  if (onehot & 0x3a) blue |= x3 << 5;
  if (onehot & 0x3d) scale |= x6 << 5;
  if (onehot & 0x2d) scale |= x5 << 6;
  if (onehot & 0x04) scale |= x4 << 7;
  if (onehot & 0x3b) red |= x4 << 6;
  if (onehot & 0x04) red |= x3 << 6;
  if (onehot & 0x10) red |= x5 << 7;
  if (onehot & 0x0f) red |= x2 << 7;
  if (onehot & 0x05) red |= x1 << 8;
  if (onehot & 0x0a) red |= x0 << 8;
  if (onehot & 0x05) red |= x0 << 9;
  if (onehot & 0x02) red |= x6 << 9;
  if (onehot & 0x01) red |= x3 << 10;
  if (onehot & 0x02) red |= x5 << 10;
  const int shift = mode < 2 ? 1 : mode;  // 1, 1, 2, 3, 4, 5
  red <<= shift;
  green <<= shift;
  blue <<= shift;
  scale <<= shift;
  if (mode != 5) {
    green = red - green;
    blue = red - blue;
  }
  if (major == 1) {
    const int t = red; red = green; green = t;
  } else if (major == 2) {
    const int t = red; red = blue; blue = t;
  }
  set4(e1, clamp_int(red, 0, 0xfff), clamp_int(green, 0, 0xfff), clamp_int(blue, 0, 0xfff), 0);
  set4(e0, clamp_int(red - scale, 0, 0xfff), clamp_int(green - scale, 0, 0xfff), clamp_int(blue - scale, 0, 0xfff), 0);
}

// HDR alpha (the second half of mode 15) into 12-bit values.
BCFEAT_HD void hdr_alpha(int v6, int v7, int& a0, int& a1) {
  const int selector = ((v6 >> 7) & 1) | ((v7 >> 6) & 2);
  v6 &= 0x7f;
  v7 &= 0x7f;
  if (selector == 3) {
    a0 = v6 << 5;
    a1 = v7 << 5;
    return;
  }
  v6 |= (v7 << (selector + 1)) & 0x780;
  v7 &= 0x3f >> selector;
  v7 ^= 32 >> selector;
  v7 -= 32 >> selector;
  v6 <<= 4 - selector;
  v7 *= 1 << (4 - selector);
  v7 += v6;
  a0 = v6;
  a1 = clamp_int(v7, 0, 0xfff);
}

// Colour endpoint mode `cem` from unquantised values `v` (0..255).
BCFEAT_HD Endpoints decode_endpoints(int cem, const int* v, bool hdr_profile) {
  Endpoints ep;
  ep.rgb_hdr = false;
  ep.alpha_hdr = false;
  bool default_alpha = false;  // HDR modes without alpha
  auto blue_contract = [](int* e) {
    e[0] = (e[0] + e[2]) >> 1;
    e[1] = (e[1] + e[2]) >> 1;
  };
  switch (cem) {
    case 0:
      set4(ep.e0, v[0], v[0], v[0], 255);
      set4(ep.e1, v[1], v[1], v[1], 255);
      break;
    case 1: {
      const int l0 = (v[0] >> 2) | (v[1] & 0xc0);
      const int l1 = l0 + (v[1] & 0x3f) > 255 ? 255 : l0 + (v[1] & 0x3f);
      set4(ep.e0, l0, l0, l0, 255);
      set4(ep.e1, l1, l1, l1, 255);
      break;
    }
    case 2: {
      int y0, y1;
      if (v[1] >= v[0]) {
        y0 = v[0] << 4;
        y1 = v[1] << 4;
      } else {
        y0 = (v[1] << 4) + 8;
        y1 = (v[0] << 4) - 8;
      }
      set4(ep.e0, y0, y0, y0, 0);
      set4(ep.e1, y1, y1, y1, 0);
      ep.rgb_hdr = true;
      default_alpha = true;
      break;
    }
    case 3: {
      int y0, y1;
      if (v[0] & 0x80) {
        y0 = ((v[1] & 0xe0) << 4) | ((v[0] & 0x7f) << 2);
        y1 = (v[1] & 0x1f) << 2;
      } else {
        y0 = ((v[1] & 0xf0) << 4) | ((v[0] & 0x7f) << 1);
        y1 = (v[1] & 0x0f) << 1;
      }
      y1 += y0;
      if (y1 > 0xfff) y1 = 0xfff;
      set4(ep.e0, y0, y0, y0, 0);
      set4(ep.e1, y1, y1, y1, 0);
      ep.rgb_hdr = true;
      default_alpha = true;
      break;
    }
    case 4:
      set4(ep.e0, v[0], v[0], v[0], v[2]);
      set4(ep.e1, v[1], v[1], v[1], v[3]);
      break;
    case 5: {
      int l0 = v[0], l1 = v[1], a0 = v[2], a1 = v[3];
      bit_transfer_signed(l1, l0);
      bit_transfer_signed(a1, a0);
      set4(ep.e0, l0, l0, l0, a0);
      const int l = clamp_int(l0 + l1, 0, 255);
      set4(ep.e1, l, l, l, clamp_int(a0 + a1, 0, 255));
      break;
    }
    case 6:
      set4(ep.e0, (v[0] * v[3]) >> 8, (v[1] * v[3]) >> 8, (v[2] * v[3]) >> 8, 255);
      set4(ep.e1, v[0], v[1], v[2], 255);
      break;
    case 7:
      hdr_rgb_scale(v, ep.e0, ep.e1);
      ep.rgb_hdr = true;
      default_alpha = true;
      break;
    case 8:
    case 12: {
      const int a0 = cem == 12 ? v[6] : 255, a1 = cem == 12 ? v[7] : 255;
      if (v[1] + v[3] + v[5] >= v[0] + v[2] + v[4]) {
        set4(ep.e0, v[0], v[2], v[4], a0);
        set4(ep.e1, v[1], v[3], v[5], a1);
      } else {
        set4(ep.e0, v[1], v[3], v[5], a1);
        set4(ep.e1, v[0], v[2], v[4], a0);
        blue_contract(ep.e0);
        blue_contract(ep.e1);
      }
      break;
    }
    case 9:
    case 13: {
      int base[4] = {v[0], v[2], v[4], cem == 13 ? v[6] : 0};
      int delta[4] = {v[1], v[3], v[5], cem == 13 ? v[7] : 0};
      for (int i = 0; i < 4; ++i) bit_transfer_signed(delta[i], base[i]);
      int sum[4];
      for (int i = 0; i < 4; ++i) sum[i] = base[i] + delta[i];
      if (cem == 9) {
        base[3] = 255;
        sum[3] = 255;
      }
      if (delta[0] + delta[1] + delta[2] >= 0) {
        set4(ep.e0, base[0], base[1], base[2], base[3]);
        set4(ep.e1, sum[0], sum[1], sum[2], sum[3]);
      } else {
        set4(ep.e0, sum[0], sum[1], sum[2], sum[3]);
        set4(ep.e1, base[0], base[1], base[2], base[3]);
        blue_contract(ep.e0);
        blue_contract(ep.e1);
      }
      for (int i = 0; i < 4; ++i) {
        ep.e0[i] = clamp_int(ep.e0[i], 0, 255);
        ep.e1[i] = clamp_int(ep.e1[i], 0, 255);
      }
      break;
    }
    case 10:
      set4(ep.e0, (v[0] * v[3]) >> 8, (v[1] * v[3]) >> 8, (v[2] * v[3]) >> 8, v[4]);
      set4(ep.e1, v[0], v[1], v[2], v[5]);
      break;
    case 11:
      hdr_rgb_direct(v, ep.e0, ep.e1);
      ep.rgb_hdr = true;
      default_alpha = true;
      break;
    case 14:
      hdr_rgb_direct(v, ep.e0, ep.e1);
      ep.e0[3] = v[6];
      ep.e1[3] = v[7];
      ep.rgb_hdr = true;
      break;
    default:  // 15
      hdr_rgb_direct(v, ep.e0, ep.e1);
      hdr_alpha(v[6], v[7], ep.e0[3], ep.e1[3]);
      ep.rgb_hdr = true;
      ep.alpha_hdr = true;
      break;
  }
  // 12-bit HDR values → 16-bit LNS; 8-bit LDR values → unorm16 (x257).
  if (ep.rgb_hdr && !hdr_profile) {
    set4(ep.e0, 0xff00, 0, 0xff00, 0xff00);
    set4(ep.e1, 0xff00, 0, 0xff00, 0xff00);
    ep.rgb_hdr = false;
    ep.alpha_hdr = false;
    return ep;
  }
  if (default_alpha) {
    ep.e0[3] = ep.e1[3] = 0x780;  // LNS of 1.0 (0x7800) before the 16-bit shift below
    ep.alpha_hdr = true;
  }
  for (int i = 0; i < 4; ++i) {
    const bool hdr = i < 3 ? ep.rgb_hdr : ep.alpha_hdr;
    ep.e0[i] = hdr ? ep.e0[i] << 4 : ep.e0[i] * 257;
    ep.e1[i] = hdr ? ep.e1[i] << 4 : ep.e1[i] * 257;
  }
  return ep;
}

// Leading zero bits of a 16-bit value (p > 0).
BCFEAT_HD int leading_zeros16(uint32_t p) {
#if defined(__CUDA_ARCH__)
  return __clz(p) - 16;
#else
  return __builtin_clz(p) - 16;
#endif
}

// Unorm16 → half bits, truncating (0xFFFF → 1.0).
BCFEAT_HD uint16_t unorm16_to_half(uint32_t p) {
  if (p == 0xffff) return 0x3c00;
  if (p < 4) return static_cast<uint16_t>(p << 8);
  const int lz = leading_zeros16(p);
  const uint32_t mantissa = ((p << (lz + 1)) & 0xffff) >> 6;
  return static_cast<uint16_t>(((14 - lz) << 10) | mantissa);
}

// The CUDA decoder's unorm16 → half in float, for truncation to half (cvt.rz) to give
// unorm16_to_half(p). Its interpolation x = 2^23 + e0 (64 - w) + e1 w + 32 carries the float
// bits of 2^23 (the sum is below 2^22), so x with its low 6 bits cleared is the float
// 2^23 + 64 p, p = the unorm16 value. Scaled by `scale` = 2^-22 less 2 it gives f = p / 65536
// exactly. Then f (1 + 2^-16) + 2^-28, rounded toward zero, lies in [f, next half above f) for
// p < 0xFFFF (p (1 + 2^-16) + 2^-12 < p + 1 in units of 2^-16), so it truncates to the same half;
// and for p = 0xFFFF it is at least 1 (65535 + 65535 / 65536 + 1 / 4096 > 65536). Two
// multiply-adds instead of a second scale and a max. (`lift` = 1 + 2^-16 and `nudge` = 2^-28
// come as parameters, so that the kernel keeps them in registers across its texel loop.)
BCFEAT_HD float unorm16_interpolation_float(uint32_t x, float scale, float lift, float nudge) {
  const uint32_t bits = x & ~63u;
  float v;
  memcpy(&v, &bits, sizeof v);
  const float f = fmaf(v, scale, -2.0f);
#if defined(__CUDA_ARCH__)
  return __fmaf_rz(f, lift, nudge);
#else
  // f lift + nudge is exact in double (f has 16 significant bits, lift 17); truncate to float.
  const double exact = static_cast<double>(f) * lift + nudge;
  float r = static_cast<float>(exact);
  if (static_cast<double>(r) > exact) r = std::nextafter(r, 0.0f);
  return r;
#endif
}

// 16-bit LNS → half bits (at most 0x7BFF = 65504).
BCFEAT_HD uint16_t lns_to_half(uint32_t p) {
  // The mantissa is a piecewise linear map: 3 mc below 512, 4 mc - 512 below 1536, 5 mc - 2048
  // above; written as 3 mc plus the parts above each knee, it needs no branch.
  const uint32_t mc = p & 0x7ff;
  const uint32_t m = 3 * mc + (mc > 512 ? mc - 512 : 0u) + (mc > 1536 ? mc - 1536 : 0u);
  const uint32_t h = ((p >> 11) << 10) | (m >> 3);
  return static_cast<uint16_t>(h < 0x7bff ? h : 0x7bff);
}

// Per 16-bit half: max(a + b, 0) of signed halves, and min(a, b) of unsigned ones (Hopper's
// 16x2 VIADDMNMX instructions on the GPU; the arguments here never overflow a half).
BCFEAT_HD uint32_t add_max0_s16x2(uint32_t a, uint32_t b) {
#if defined(__CUDA_ARCH__)
  return __viaddmax_s16x2(a, b, 0u);
#else
  uint32_t r = 0;
  for (int shift = 0; shift < 32; shift += 16) {
    const int sum = static_cast<int16_t>(a >> shift) + static_cast<int16_t>(b >> shift);
    r |= static_cast<uint32_t>(sum > 0 ? sum : 0) << shift;
  }
  return r;
#endif
}
BCFEAT_HD uint32_t min_u16x2(uint32_t a, uint32_t b) {
#if defined(__CUDA_ARCH__)
  return __viaddmin_u16x2(a, 0u, b);
#else
  const uint32_t lo = (a & 0xffffu) < (b & 0xffffu) ? a & 0xffffu : b & 0xffffu;
  const uint32_t hi = (a >> 16) < (b >> 16) ? a >> 16 : b >> 16;
  return lo | (hi << 16);
#endif
}

// lns_to_half of two 16-bit LNS values packed in one word, the first in the low 16 bits, where
// both are at most 0xF7FF (whose half, 0x7BFF, is the largest: no clamp): per half the mantissa
// mc = v & 0x7FF, its parts above the knees 512 and 1536, 3 mc plus those (at most 8187, so no
// carry crosses into the other half) >> 3, and the exponent bits (v - mc) >> 1 (each half of
// v - mc holds only its bits 11..15, so the shift moves no bit across the halves). On the GPU
// v - mc is one IMAD: the kernel is bound by the ALU pipe (an H200 profile: 85% busy, the FMA
// pipe 45%), where the mask it replaces, (v >> 1) & 0x7C007C00, ran.
BCFEAT_HD uint32_t lns_half2_below_max(uint32_t v) {
  const uint32_t m = v & 0x07ff07ffu;
  const uint32_t mantissa = 3 * m + add_max0_s16x2(m, 0xfe00fe00u) + add_max0_s16x2(m, 0xfa00fa00u);
#if defined(__CUDA_ARCH__)
  uint32_t exponent;  // (as v - m, the compiler makes it a LOP3 on the ALU pipe)
  asm("mad.lo.u32 %0, %1, 0xffffffff, %2;" : "=r"(exponent) : "r"(m), "r"(v));
#else
  const uint32_t exponent = v - m;
#endif
  return ((mantissa >> 3) & 0x03ff03ffu) | (exponent >> 1);
}

// lns_to_half of two 16-bit LNS values packed in one word, the first in the low 16 bits: as
// lns_half2_below_max, then the clamp to 0x7BFF (values from 0xF800 have exponent 31).
BCFEAT_HD uint32_t lns_half2(uint32_t v) { return min_u16x2(lns_half2_below_max(v), 0x7bff7bffu); }

// lns_to_half of two interpolations x = 2^23 + e0 (64 - w) + e1 w + 32 at once (see
// unorm16_interpolation_float; the value p = (x >> 6) & 0xFFFF), x's half in the low 16 bits:
// the two values side by side (one PRMT on the GPU), then lns_half2.
BCFEAT_HD uint32_t lns_interpolation_half2(uint32_t x, uint32_t y) {
#if defined(__CUDA_ARCH__)
  return lns_half2(__byte_perm(x >> 6, y << 10, 0x7610));  // one PRMT (the masks took two LOP3)
#else
  return lns_half2(((x >> 6) & 0xffffu) | ((y << 10) & 0xffff0000u));
#endif
}

// The interpolation of LNS channels in the CUDA decoder's texel loops without partitions, from
// a channel's endpoints e0 | e1 << 16: lns_base = 256 e0 + 128 and lns_slope = 4 (e1 - e0) made
// once a column, then per texel lns_base + lns_slope w (one IMAD) = 4 (e0 (64 - w) + e1 w) + 128,
// below 2^24, whose bits 8..23 are the interpolated value (e0 (64 - w) + e1 w + 32) >> 6; so
// lns_pack2 puts two side by side with one byte permute, no shifts (the interpolation as above
// took a dot product and, per pair, two shifts, and its weight pair an IMAD).
BCFEAT_HD uint32_t lns_base(uint32_t ends) {
#if defined(__CUDA_ARCH__)
  return __byte_perm(ends, 0x80u, 0x5104);  // bytes 0x80, e0's two, 0
#else
  return ((ends & 0xffffu) << 8) | 0x80u;
#endif
}
BCFEAT_HD uint32_t lns_slope(uint32_t ends) {
#if defined(__CUDA_ARCH__)
  uint32_t slope;  // e0 (-4) + e1 4: unsigned halves, signed bytes
  asm("dp2a.lo.u32.s32 %0, %1, %2, 0;" : "=r"(slope) : "r"(ends), "r"(0x04fcu));
  return slope;
#else
  return 4u * ((ends >> 16) - (ends & 0xffffu));  // (modulo 2^32: a negative slope wraps)
#endif
}
BCFEAT_HD uint32_t lns_pack2(uint32_t x, uint32_t y) {
#if defined(__CUDA_ARCH__)
  return __byte_perm(x, y, 0x6521);
#else
  return ((x >> 8) & 0xffffu) | ((y << 8) & 0xffff0000u);
#endif
}

// One interpolation's LNS → half (a partition whose RGB and alpha differ): the pair's low half.
BCFEAT_HD uint32_t lns_interpolation_half(uint32_t x) { return lns_interpolation_half2(x, x) & 0xffffu; }

}  // namespace astc_detail

// One block decoded down to what its texels need: decode_astc_params does the per-block work
// (block mode, integer sequences, endpoints), astc_texel the per-texel work (weight infill,
// partition, interpolation). The CPU driver runs both per block. The CUDA kernel
// (kernels/src/astc_cuda.cu) shares a block's work across a warp instead, from the same
// pieces: decode_astc_header, unpack_trits / unpack_quints, the unquantisers,
// endpoints_from, grid_coord / infill_at.
struct AstcBlockParams {
  uint16_t e0[4][4], e1[4][4];  // per partition and channel: unorm16 or 16-bit LNS
  // Unquantised weights (0..64) in weight-grid order; with dual planes (at most 32 weights
  // each) plane 1 is at [0, 32) and plane 2 at [32, 64).
  uint8_t weights[64];
  uint16_t constant[4];         // half bits of every texel when is_constant
  uint8_t part_mul[8], part_add[4];  // partition lines (see astc_detail::partition_pattern)
  uint8_t is_constant, partitions, grid_w, grid_h;
  int8_t plane2_channel;        // channel that uses the second weight plane, -1: none
  uint8_t lns[4];               // per partition: bit 0 = RGB are LNS, bit 1 = alpha is LNS
};

// What a block's first bits say, before its integer sequences are read: a constant colour
// (void extent or error block), or the layout of its colour values and weights.
struct AstcHeader {
  bool is_constant;
  uint16_t constant[4];  // half bits when is_constant
  int partitions, partition_seed, cem[4];
  int colour_values, colour_range, colour_start, colour_end;  // colour values: count, ISE range, bits [start, end)
  int grid_w, grid_h, weight_range, weight_bits;
  bool dual;
  int plane2_channel;  // -1: no second plane
};

namespace astc_detail {

// The range of a block's `values` colour values in `available` bits: the largest range 4..20
// whose sequence fits, and the bits it takes (`used`); false when not even range 4 fits.
BCFEAT_HD bool colour_range_for(int values, int available, int& range, int& used) {
  // sequence_bits grows with the range, so a binary search finds it.
  int lo_bits = sequence_bits(values, 4);
  if (lo_bits > available) return false;
  int lo = 4, hi = 20;
  while (lo < hi) {
    const int mid = (lo + hi + 1) / 2;
    const int mid_bits = sequence_bits(values, mid);
    if (mid_bits <= available) {
      lo = mid;
      lo_bits = mid_bits;
    } else {
      hi = mid - 1;
    }
  }
  range = lo;
  used = lo_bits;
  return true;
}

// What lies between a block's header and its weights (`weight_bits` of them at the top).
struct ColourLayout {
  int cem[4];     // colour endpoint mode per partition (entries past the block's partitions unused)
  int values;     // colour values of all partitions
  int start;      // their first bit
  int available;  // bits for them: up to the extra endpoint-mode bits, or the plane-2 index
  int below;      // where the extra endpoint-mode bits end; a plane-2 index is the 2 bits below
};

BCFEAT_HD ColourLayout colour_layout(const Bits& b, int partitions, int weight_bits, bool dual) {
  ColourLayout out;
  out.below = 128 - weight_bits;
  if (partitions == 1) {
    for (int p = 0; p < 4; ++p) out.cem[p] = static_cast<int>(bits_at(b, 13, 4));
  } else {
    const uint32_t low = bits_at(b, 23, 6);
    if ((low & 3) == 0) {
      for (int p = 0; p < 4; ++p) out.cem[p] = static_cast<int>(low >> 2);
    } else {
      const int extra = 3 * partitions - 4;
      const uint32_t encoded = low | (bits_at(b, out.below - extra, extra) << 6);
      const int base = static_cast<int>(encoded & 3) - 1;
      for (int p = 0; p < 4; ++p) {
        const int cls = base + static_cast<int>((encoded >> (2 + p)) & 1);
        out.cem[p] = (cls << 2) | static_cast<int>((encoded >> (2 + partitions + 2 * p)) & 3);
      }
      out.below -= extra;
    }
  }
  out.values = 0;
  for (int p = 0; p < 4; ++p) out.values += p < partitions ? 2 * ((out.cem[p] >> 2) + 1) : 0;
  out.start = partitions == 1 ? 17 : 29;
  out.available = out.below - out.start - (dual ? 2 : 0);
  if (out.available < 0) out.available = 0;
  return out;
}

// The colour of a void-extent block (block mode bits 0..8 = 0x1FC) as half bits, or the error
// colour (all 0xFFFF) for an illegal one (`hdr`: HDR profile).
BCFEAT_HD void decode_void_extent(const Bits& b, bool hdr, uint16_t* colour) {
  for (int i = 0; i < 4; ++i) colour[i] = 0xffff;
  if (bits_at(b, 10, 2) != 3) return;
  const uint32_t s0 = bits_at(b, 12, 13), s1 = bits_at(b, 25, 13), t0 = bits_at(b, 38, 13), t1 = bits_at(b, 51, 13);
  const bool all_ones = s0 == 0x1fff && s1 == 0x1fff && t0 == 0x1fff && t1 == 0x1fff;
  if ((s0 >= s1 || t0 >= t1) && !all_ones) return;
  uint16_t c[4];
  for (int i = 0; i < 4; ++i) c[i] = static_cast<uint16_t>(bits_at(b, 64 + 16 * i, 16));
  if (bits_at(b, 9, 1)) {  // half-float constant: HDR profile only
    if (!hdr) return;
    // A NaN constant comes out quiet (libastcenc passes it through float32).
    for (int i = 0; i < 4; ++i) {
      if ((c[i] & 0x7c00) == 0x7c00 && (c[i] & 0x3ff)) c[i] |= 0x200;
      colour[i] = c[i];
    }
    return;
  }
  for (int i = 0; i < 4; ++i) colour[i] = unorm16_to_half(c[i]);
}

}  // namespace astc_detail

// Decodes the header of the block `b` of `block_w` x `block_h` texels (`hdr`: HDR profile).
BCFEAT_HD void decode_astc_header(const astc_detail::Bits& b, int block_w, int block_h, bool hdr, AstcHeader& out) {
  using namespace astc_detail;
  auto error = [&] {
    out.is_constant = true;
    for (int i = 0; i < 4; ++i) out.constant[i] = 0xffff;
  };

  const uint32_t mode = bits_at(b, 0, 11);
  if ((mode & 0x1ff) == 0x1fc) {  // void extent: one constant colour
    out.is_constant = true;
    decode_void_extent(b, hdr, out.constant);
    return;
  }

  BlockMode bm;
  if (!decode_block_mode(mode, bm) || bm.grid_w > block_w || bm.grid_h > block_h) return error();
  const int partitions = static_cast<int>(bits_at(b, 11, 2)) + 1;
  if (bm.dual && partitions == 4) return error();

  const ColourLayout colour = colour_layout(b, partitions, bm.weight_bits, bm.dual);
  for (int p = 0; p < 4; ++p) out.cem[p] = colour.cem[p];
  out.partition_seed = partitions == 1 ? 0 : static_cast<int>(bits_at(b, 13, 10));
  if (colour.values > 18) return error();
  int colour_range = 0, colour_used = 0;
  if (!colour_range_for(colour.values, colour.available, colour_range, colour_used)) return error();

  out.is_constant = false;
  out.partitions = partitions;
  out.colour_values = colour.values;
  out.colour_range = colour_range;
  out.colour_start = colour.start;
  out.colour_end = colour.start + colour_used;
  out.grid_w = bm.grid_w;
  out.grid_h = bm.grid_h;
  out.weight_range = bm.weight_range;
  out.weight_bits = bm.weight_bits;
  out.dual = bm.dual;
  out.plane2_channel = bm.dual ? static_cast<int>(bits_at(b, colour.below - 2, 2)) : -1;
}

namespace astc_detail {

// The endpoints of colour endpoint mode `cem` from its unquantised colour values (0..255).
BCFEAT_HD Endpoints endpoints_from(int cem, const uint8_t* values, bool hdr) {
  int v[8];
  const int n = 2 * ((cem >> 2) + 1);
  for (int i = 0; i < 8; ++i) v[i] = i < n ? values[i] : 0;
  return decode_endpoints(cem, v, hdr);
}

}  // namespace astc_detail

// Per-block half of the decoder: `block_w` x `block_h` texels, `hdr` selects the HDR profile.
BCFEAT_HD void decode_astc_params(const uint8_t* block, int block_w, int block_h, bool hdr, AstcBlockParams& out) {
  using namespace astc_detail;
  Bits b;
  memcpy(&b.lo, block, 8);
  memcpy(&b.hi, block + 8, 8);
  AstcHeader h;
  decode_astc_header(b, block_w, block_h, hdr, h);
  out.is_constant = h.is_constant ? 1 : 0;
  if (h.is_constant) {
    for (int c = 0; c < 4; ++c) out.constant[c] = h.constant[c];
    return;
  }
  out.partitions = static_cast<uint8_t>(h.partitions);
  out.grid_w = static_cast<uint8_t>(h.grid_w);
  out.grid_h = static_cast<uint8_t>(h.grid_h);
  out.plane2_channel = static_cast<int8_t>(h.plane2_channel);
  if (h.partitions > 1) {
    partition_pattern(h.partition_seed, h.partitions, block_w * block_h < 31, out.part_mul, out.part_add);
  }

  uint8_t colour[18];
  decode_sequence(b, h.colour_start, h.colour_values, h.colour_range, colour);
  for (int i = 0; i < h.colour_values; ++i) {
    colour[i] = static_cast<uint8_t>(unquantize_colour(colour[i], h.colour_range));
  }
  int offset = 0;
  for (int p = 0; p < h.partitions; ++p) {
    const Endpoints ep = endpoints_from(h.cem[p], colour + offset, hdr);
    offset += 2 * ((h.cem[p] >> 2) + 1);
    for (int c = 0; c < 4; ++c) {
      out.e0[p][c] = static_cast<uint16_t>(ep.e0[c]);
      out.e1[p][c] = static_cast<uint16_t>(ep.e1[c]);
    }
    out.lns[p] = static_cast<uint8_t>((ep.rgb_hdr ? 1 : 0) | (ep.alpha_hdr ? 2 : 0));
  }

  // The weights, read in reverse bit order from the top of the block (dual planes interleaved).
  const int weight_count = h.grid_w * h.grid_h;
  const Bits reversed = {reverse64(b.hi), reverse64(b.lo)};
  decode_sequence(reversed, 0, weight_count * (h.dual ? 2 : 1), h.weight_range, out.weights, h.dual);
  for (int i = 0; i < weight_count; ++i) {
    out.weights[i] = static_cast<uint8_t>(unquantize_weight(out.weights[i], h.weight_range));
    if (h.dual) out.weights[32 + i] = static_cast<uint8_t>(unquantize_weight(out.weights[32 + i], h.weight_range));
  }
}

namespace astc_detail {

// A texel coordinate on the weight grid (fixed point, as the specification): grid cell `j`,
// fraction `f` (0..15) toward cell j + 1, and whether cell j + 1 exists.
struct GridCoord {
  int j, f;
  bool next;
};

// The grid position of texel t in 1/16 cells is (grid_step * t + 32) >> 6.
BCFEAT_HD int grid_step(int block_size, int grid_size) {
  return (1024 + block_size / 2) / (block_size - 1) * (grid_size - 1);
}

BCFEAT_HD GridCoord grid_coord(int texel, int block_size, int grid_size) {
  const int g = (grid_step(block_size, grid_size) * texel + 32) >> 6;
  return {g >> 4, g & 0xf, (g >> 4) + 1 < grid_size};
}

// The bilinear infill at grid coordinates (s, t): four grid indices and their factors (sum
// 16). Neighbours past the grid count as weight 0: their factor becomes 0 and they read v0.
struct Infill {
  int v0, v01, v10, v11, w00, w01, w10, w11;
  BCFEAT_HD int apply(const uint8_t* w) const {
    return (w[v0] * w00 + w[v01] * w01 + w[v10] * w10 + w[v11] * w11 + 8) >> 4;
  }
};

BCFEAT_HD Infill infill_at(GridCoord s, GridCoord t, int grid_w) {
  Infill in;
  const int w11_full = (s.f * t.f + 8) >> 4;
  in.w00 = 16 - s.f - t.f + w11_full;
  in.w01 = s.next ? s.f - w11_full : 0;
  in.w10 = t.next ? t.f - w11_full : 0;
  in.w11 = s.next && t.next ? w11_full : 0;
  in.v0 = s.j + t.j * grid_w;
  in.v01 = s.next ? in.v0 + 1 : in.v0;
  in.v10 = t.next ? in.v0 + grid_w : in.v0;
  in.v11 = s.next && t.next ? in.v0 + grid_w + 1 : in.v0;
  return in;
}

// Bilinear infill of the weight grid at texel (x, y): plane 1 into `weight`, plane 2 into
// `weight2`.
BCFEAT_HD void infill_weights(const AstcBlockParams& p, int block_w, int block_h, int x, int y, int& weight,
                              int& weight2) {
  const Infill in = infill_at(grid_coord(x, block_w, p.grid_w), grid_coord(y, block_h, p.grid_h), p.grid_w);
  weight = in.apply(p.weights);
  weight2 = p.plane2_channel >= 0 ? in.apply(p.weights + 32) : weight;
}

}  // namespace astc_detail

// Per-texel half of the decoder: texel (x, y) of a `block_w` x `block_h` block as 4 half-bit
// channels RGBA.
BCFEAT_HD void astc_texel(const AstcBlockParams& p, int block_w, int block_h, int x, int y, uint16_t* out) {
  using namespace astc_detail;
  if (p.is_constant) {
    for (int c = 0; c < 4; ++c) out[c] = p.constant[c];
    return;
  }
  const int grid_w = p.grid_w, grid_h = p.grid_h;
  int weight, weight2;
  if (grid_w == block_w && grid_h == block_h) {
    // A full grid: the infill gives every texel its own grid weight (fs = ft = 0 for
    // every texel of blocks up to 12 wide), so read it directly.
    weight = p.weights[y * grid_w + x];
    weight2 = p.plane2_channel >= 0 ? p.weights[32 + y * grid_w + x] : weight;
  } else {
    astc_detail::infill_weights(p, block_w, block_h, x, y, weight, weight2);
  }
  const int part = p.partitions == 1 ? 0 : partition_of(p.part_mul, p.part_add, x, y);
  const int lns = p.lns[part];
  for (int c = 0; c < 4; ++c) {
    const int w = c == p.plane2_channel ? weight2 : weight;
    const uint32_t value = static_cast<uint32_t>((p.e0[part][c] * (64 - w) + p.e1[part][c] * w + 32) >> 6);
    const bool is_lns = (lns >> (c < 3 ? 0 : 1)) & 1;
    out[c] = is_lns ? lns_to_half(value) : unorm16_to_half(value);
  }
}

// Decodes one block of `block_w` x `block_h` texels into `out` (row-major texels, 4 half-bit
// channels RGBA each, at least block_w*block_h*4 entries). `hdr` selects the HDR profile.
BCFEAT_HD void decode_astc_block(const uint8_t* block, int block_w, int block_h, bool hdr, uint16_t* out) {
  AstcBlockParams params;
  decode_astc_params(block, block_w, block_h, hdr, params);
  for (int y = 0; y < block_h; ++y) {
    for (int x = 0; x < block_w; ++x) astc_texel(params, block_w, block_h, x, y, out + 4 * (y * block_w + x));
  }
}

// Decodes block row `row` of a `width` x `height` image (blocks row-major from `blocks`) into
// the image's half RGBA texels `out` (width * height * 4 entries); texels past the image's
// edge are dropped. The CPU driver runs it per row.
inline void decode_astc_block_row(const uint8_t* blocks, int block_w, int block_h, bool hdr, int width, int height,
                                  int64_t row, uint16_t* out) {
  const int64_t blocks_x = (width + block_w - 1) / block_w;
  uint16_t texels[kAstcMaxTexels * 4];
  for (int64_t col = 0; col < blocks_x; ++col) {
    decode_astc_block(blocks + 16 * (row * blocks_x + col), block_w, block_h, hdr, texels);
    for (int y = 0; y < block_h; ++y) {
      const int64_t py = row * block_h + y;
      if (py >= height) break;
      for (int x = 0; x < block_w; ++x) {
        const int64_t px = col * block_w + x;
        if (px >= width) break;
        memcpy(&out[4 * (py * width + px)], &texels[4 * (y * block_w + x)], 8);
      }
    }
  }
}

}  // namespace bcfeat
