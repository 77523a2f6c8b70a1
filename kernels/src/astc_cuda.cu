// CUDA ASTC decoder: the block code of astc.h reorganised so that the lanes of a warp share
// each block's work instead of one thread walking one block's every branch.
//
// Work unit: one warp owns a span of 32 consecutive blocks of one block row (persistent
// CTAs walk the spans). Per span, four steps with the warp's shared memory in between:
//  1. header   — lane i decodes block i's header (astc.h decode_astc_header): constant colour,
//                or partitions, endpoint modes, the ranges and counts of its integer sequences,
//                and marks the span's groups (step 2) that belong to block i;
//  2. sequences — the span's colour values and weights, all blocks together, one group (a
//                trit or quint block, or 5 plain values) per lane: each lane reads its
//                group's bits from the block in one 64-bit window, unpacks the trits or
//                quints and unquantises the values through tables (weights are stored as
//                byte pairs, each weight with its right-hand neighbour), storing every value
//                without a branch;
//  3. endpoints — lane i turns block i's colour values into endpoints per partition, each
//                channel's pair packed in one word;
//  4. texels   — lane j computes texel columns j, j + 32, ... of each texel row of the span
//                (weight infill as one 4-byte dot product, partition, interpolation as one
//                two-way dot product per channel, half conversion), so each store is 256
//                contiguous bytes of half RGBA.
// Every lane of a warp runs the same code on one group in step 2 (the bulk of a block's
// work), so the per-block decode does not diverge as blocks of different modes meet in a warp.
// The span's shared memory is sized for the block size (small blocks hold fewer weights), so
// more warps fit on an SM for small blocks.
// Output is bit-identical to the CPU decoder (decode_astc_params + astc_texel).
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <mutex>
#include <set>
#include <stdexcept>

#include "bcfeat/kernels/astc.h"
#include "bcfeat/kernels/astc_codec.h"
#include "cuda_util.cuh"

namespace bcfeat {

namespace {

using cuda_util::check_cuda;
using cuda_util::DeviceBuffer;
using cuda_util::require_gpu;
using cuda_util::time_cuda;

constexpr int kWarps = 4;  // warps per CTA
constexpr int kSpan = 32;  // blocks per warp work unit
constexpr int kColourStride = 20;  // bytes of unquantised colour values per block (18 used)

// Unquantisation tables: values of weight ranges 0..11, then colour ranges 4..20.
constexpr int kWeightTable = 2 + 3 + 4 + 5 + 6 + 8 + 10 + 12 + 16 + 20 + 24 + 32;
constexpr int kColourTable = 6 + 8 + 10 + 12 + 16 + 20 + 24 + 32 + 40 + 48 + 64 + 80 + 96 + 128 + 160 + 192 + 256;

struct alignas(16) Tables {
  uint16_t digits[256 + 128];  // unpack_trits of 0..255, then unpack_quints of 0..127
  uint16_t offset[21 + 21];    // first entry of each weight range, then of each colour range
  uint8_t unquantised[kWeightTable + kColourTable];
  uint8_t padding[(16 - (2 * (256 + 128 + 42) + kWeightTable + kColourTable) % 16) % 16];
};

// The blocks' bits, needed by steps 1-2.
struct SpanBits {
  uint32_t forward[kSpan][6];  // the block's 4 words, then 0 (a group's 64-bit window may run past)
  uint32_t reverse[kSpan][6];  // the bit-reversed block (weights are read from the top down)
};

// The endpoints, made in step 3 and read in step 4: per partition and channel c, component c
// holds e0 | e1 << 16, so that one two-way dot product interpolates the channel.
struct SpanEndpoints {
  uint4 ends[kSpan][4];
};

// Groups (step 2) per block: at most 18 colour values (6 quint blocks) and 64 weights (22).
constexpr int kMaxGroups = 28;

// One warp's span for kBw x kBh blocks.
template <int kBw, int kBh>
struct Span {
  // A dual-plane block has at most min(32, kBw * kBh) weights per plane; its second plane
  // starts there. Entries past the grid, up to a grid row (at most kBw) beyond it, are read
  // with infill factor 0; they exist so that those reads stay inside.
  static constexpr int kPlane2 = kBw * kBh < 32 ? kBw * kBh : 32;
  static constexpr int kPairs = 2 * kPlane2 + kBw;
  union {  // the endpoints reuse the bits' memory
    SpanBits bits;
    SpanEndpoints ends;
  };
  uint32_t info[kSpan];        // see kInfo* below
  uint2 colour_seq[kSpan], weight_seq[kSpan];  // sequence layouts, see pack_sequence
  uint32_t item_start[kSpan];  // first group (step 2) of each block
  // Partition lines: mul[8] then add[4] (astc_detail::partition_pattern); for a constant block
  // its colour as 4 halves in .x and .y.
  uint4 lines[kSpan];
  uint8_t colour[kSpan][kColourStride];
  uint8_t owner[kSpan * kMaxGroups];  // the block of each group
  uint8_t scratch[4];  // where step 2 stores the values a group does not have
  // Weights as pairs: pairs[i] = weight i | weight i + 1 << 8 (plane 2 from kPlane2), so that
  // one infill reads its four grid weights in two loads.
  uint16_t pairs[kSpan][kPairs];
};

// info: grid_w (4 bits), grid_h (4), partitions - 1 (2), plane-2 channel (2), dual (1),
// constant (1), then per partition the 2 LNS bits (RGB, alpha) from bit 16.
constexpr uint32_t kInfoDual = 1u << 12;
constexpr uint32_t kInfoConstant = 1u << 13;
constexpr int kInfoLnsShift = 16;

// Values are decoded a group at a time: a trit block (5 values), a quint block (3) or, for
// ranges without trits or quints, 5 values.
__device__ __forceinline__ int group_size(int kind) { return kind == 2 ? 3 : 5; }

// A sequence layout: .x = first bit (8 bits), end bit (8), low bits per value (4), kind (2:
// bits, trits, quints), dual-plane slot split (1), value count (7, from bit 24); .y = index of
// the range's first entry in Tables::unquantised (16 bits), number of groups (from bit 16).
__device__ uint2 pack_sequence(int start, int end, int range, int count, bool split, int table_offset) {
  const astc_detail::Range r = astc_detail::range_of(range);
  const int groups = (count + group_size(r.kind) - 1) / group_size(r.kind);
  return make_uint2(static_cast<uint32_t>(start) | (static_cast<uint32_t>(end) << 8) |
                        (static_cast<uint32_t>(r.bits) << 16) | (static_cast<uint32_t>(r.kind) << 20) |
                        (split ? 1u << 22 : 0u) | (static_cast<uint32_t>(count) << 24),
                    static_cast<uint32_t>(table_offset) | (static_cast<uint32_t>(groups) << 16));
}

// The tables, computed on the host from the block code (astc.h) and copied to each device once.
Tables host_tables() {
  using namespace astc_detail;
  Tables t{};
  for (int i = 0; i < 256 + 128; ++i) {
    t.digits[i] = static_cast<uint16_t>(i < 256 ? unpack_trits(static_cast<uint32_t>(i)) : unpack_quints(i - 256u));
  }
  auto levels = [](int range) {
    const Range r = range_of(range);
    return (r.kind == 0 ? 1 : r.kind == 1 ? 3 : 5) << r.bits;
  };
  int at = 0;
  for (int r = 0; r < 12; ++r) {  // weights
    t.offset[r] = static_cast<uint16_t>(at);
    for (int v = 0; v < levels(r); ++v) t.unquantised[at++] = static_cast<uint8_t>(unquantize_weight(v, r));
  }
  for (int r = 4; r < 21; ++r) {  // colours
    t.offset[21 + r] = static_cast<uint16_t>(at);
    for (int v = 0; v < levels(r); ++v) t.unquantised[at++] = static_cast<uint8_t>(unquantize_colour(v, r));
  }
  return t;
}

__device__ Tables device_tables;

// Copies the tables to `device` once per process.
void upload_tables() {
  static std::mutex mutex;
  static std::set<int> done;
  int device = 0;
  check_cuda(cudaGetDevice(&device), "cudaGetDevice");
  std::lock_guard<std::mutex> lock(mutex);
  if (done.count(device)) return;
  const Tables t = host_tables();
  check_cuda(cudaMemcpyToSymbol(device_tables, &t, sizeof t), "copy ASTC tables to the GPU");
  done.insert(device);
}

// Group g of the integer sequence `seq` in the words `w` (6 words, zero past the block):
// its values unquantised through the tables into out[slot] (slots split for dual planes, the
// second plane from kPlane2), or with `pairs` into the byte pairs of Span::pairs.
// Trit and quint blocks interleave their packed bits with the values' low bits: a trit block
// is m0 t[0,2) m1 t[2,4) m2 t[4,5) m3 t[5,7) m4 t[7,8), a quint block m0 q[0,3) m1 q[3,5)
// m2 q[5,7). Field f of the packed bits starts at bit e_f of the packed value and follows
// m_f, so with e = (0 2 4 5 7 8) for trits, (0 3 5 7 7 7) for quints and 0 for plain bits one
// code path reads all three kinds and the lanes of a warp do not diverge. A group spans at
// most 40 bits, so one 64-bit window holds it; bits past the sequence's end read as 0.
// Every lane stores 5 values twice: a value the group lacks (past its size or the sequence's
// end), and the second copy of a colour value or of weight 0, goes to `scratch`.
template <int kPlane2>
__device__ __forceinline__ void decode_group(const uint32_t* w, uint2 seq, int g, const Tables& t, uint8_t* out,
                                             bool pairs, uint8_t* scratch) {
  const int start = seq.x & 0xff, end = (seq.x >> 8) & 0xff, bits = (seq.x >> 16) & 15;
  const int kind = (seq.x >> 20) & 3, count = seq.x >> 24;
  const uint32_t e = kind == 1 ? 0x875420u : kind == 2 ? 0x777530u : 0u;  // e_0..e_5, 4 bits each
  const int per_group = group_size(kind);
  const int base = start + g * (per_group * bits + static_cast<int>(e >> 20));
  const int word = base >> 5, shift = base & 31;
  const uint32_t lo = __funnelshift_r(w[word], w[word + 1], shift);
  const uint32_t hi = __funnelshift_r(w[word + 1], w[word + 2], shift);
  uint64_t window = lo | (static_cast<uint64_t>(hi) << 32);
  const int avail = end - base;  // ≥ 1
  if (avail < 64) window &= (1ull << avail) - 1;
  uint32_t digits = 0;
  int digit_bits = 0;
  if (kind != 0) {
    uint32_t packed = 0;
#pragma unroll
    for (int f = 0; f < 5; ++f) {
      const int ef = static_cast<int>((e >> (4 * f)) & 15);
      const int width = static_cast<int>((e >> (4 * f + 4)) & 15) - ef;
      packed |= (static_cast<uint32_t>(window >> ((f + 1) * bits + ef)) & ((1u << width) - 1)) << ef;
    }
    digits = t.digits[(kind == 1 ? 0 : 256) + packed];
    digit_bits = kind == 1 ? 2 : 3;
  }
  const uint32_t low_mask = (1u << bits) - 1, digit_mask = (1u << digit_bits) - 1;
  const uint8_t* table = t.unquantised + (seq.y & 0xffff);
  const bool split = seq.x & (1u << 22);
  const int stride = pairs ? 2 : 1;
  const int first = g * per_group;
#pragma unroll
  for (int j = 0; j < 5; ++j) {
    const int k = first + j;
    const int ej = static_cast<int>((e >> (4 * j)) & 15);
    const uint32_t m = static_cast<uint32_t>(window >> (j * bits + ej)) & low_mask;
    const uint32_t d = (digits >> (digit_bits * j)) & digit_mask;
    const int at = split ? (k & 1) * kPlane2 + (k >> 1) : k;
    const uint8_t v = table[(d << bits) | m];
    const bool present = j < per_group && k < count;
    // Low byte of pair `at`, high byte of pair at - 1.
    *(present ? out + stride * at : scratch) = v;
    *(present && pairs && at > 0 ? out + 2 * at - 1 : scratch) = v;
  }
}

// Unorm16 → half bits, truncating (0xFFFF → 1.0), as astc_detail::unorm16_to_half: p / 65536
// made exactly in float (2^23 + p from the bits, scaled, minus 128), then its mantissa cut to
// 10 bits; below 2^-14 the halves are subnormal, p * 256 units of 2^-24.
__device__ __forceinline__ float unorm16_float(uint32_t p) {
  p += (p + 1) >> 16;  // 0xFFFF → 0x10000, i.e. 1.0
  return fmaf(__uint_as_float(0x4b000000u | p), 1.0f / 65536.0f, -128.0f);
}

__device__ __forceinline__ uint32_t unorm16_half(uint32_t p) {
  const uint32_t normal = (__float_as_uint(unorm16_float(p)) >> 13) - (112u << 10);
  return p < 4 ? p << 8 : normal;
}

// Two of them packed (first in the low 16 bits): one conversion instruction for both where
// the device has it (cvt.rz.f16x2.f32, sm_80 on).
__device__ __forceinline__ uint32_t unorm16_half2(uint32_t p, uint32_t q) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  uint32_t d;
  asm("cvt.rz.f16x2.f32 %0, %1, %2;" : "=r"(d) : "f"(unorm16_float(q)), "f"(unorm16_float(p)));
  return d;
#else
  return unorm16_half(p) | (unorm16_half(q) << 16);
#endif
}

// Channel c of one partition's endpoints (e0 | e1 << 16) at weight pair wp = (64 - w) | w << 8:
// (e0 * (64 - w) + e1 * w + 32) >> 6, one two-way dot product.
__device__ __forceinline__ uint32_t interpolate(uint32_t ends, uint32_t wp) { return __dp2a_lo(ends, wp, 32u) >> 6; }

__device__ __forceinline__ uint32_t weight_pair(int w) { return 64u + 255u * static_cast<uint32_t>(w); }

// The texel's four channels as half bits, packed RGBA, from the partition's endpoints, the
// channels' weight pairs and the partition's LNS bits (bit 0: RGB are LNS values, bit 1:
// alpha is).
template <bool kHdr>
__device__ __forceinline__ uint2 texel_value(uint4 ends, uint32_t wr, uint32_t wg, uint32_t wb, uint32_t wa,
                                             uint32_t lns) {
  using astc_detail::lns_to_half;
  const uint32_t r = interpolate(ends.x, wr), g = interpolate(ends.y, wg), b = interpolate(ends.z, wb),
                 a = interpolate(ends.w, wa);
  if (!kHdr || (lns & 3) == 0) return make_uint2(unorm16_half2(r, g), unorm16_half2(b, a));
  const bool rgb = lns & 1, alpha = lns & 2;
  return make_uint2(rgb ? lns_to_half(r) | (static_cast<uint32_t>(lns_to_half(g)) << 16) : unorm16_half2(r, g),
                    (rgb ? lns_to_half(b) : unorm16_half(b)) | ((alpha ? lns_to_half(a) : unorm16_half(a)) << 16));
}

// Step 4 for one texel column: texel (x, rows) of `block`, stored from `dst` down.
//
// Weight infill (astc.h infill_at) as one 4-byte dot product: the four grid weights, two pairs
// from Span::pairs, times the four factors packed in bytes, w00 | w01 << 8 | w10 << 16 |
// w11 << 24 = 16 + 255 fs + 65535 ft + 16711425 w11 with w11 = (fs ft + 8) >> 4. A neighbour
// past the grid needs no test: for every block and grid size the fraction toward it is 0, so
// its factor is 0 (and a full grid has fs = ft = 0: the factors are 16, 0, 0, 0).
template <int kBw, int kBh, bool kHdr>
__device__ __forceinline__ void texel_column(const Span<kBw, kBh>& s, int block, int x, int rows, int width,
                                             uint32_t info, uint2* dst) {
  using namespace astc_detail;
  constexpr int kPlane2 = Span<kBw, kBh>::kPlane2;
  const int grid_w = info & 15, grid_h = (info >> 4) & 15;
  const int partitions = ((info >> 8) & 3) + 1;
  const bool dual = info & kInfoDual;
  const int plane2 = dual ? static_cast<int>((info >> 10) & 3) : -1;
  const uint16_t* pairs = s.pairs[block];
  const GridCoord column = grid_coord(x, kBw, grid_w);
  const uint32_t column_factors = 16u + 255u * static_cast<uint32_t>(column.f);
  const int row_step = grid_step(kBh, grid_h);
  const uint32_t lns_all = info >> kInfoLnsShift;
  // Partition lines: score_i = (mul_x[i] * x + mul_y[i] * y + add[i]) & 63.
  int mul_y[4] = {0, 0, 0, 0}, line_base[4] = {0, 0, 0, 0};
  if (partitions > 1) {
    const uint4 lines = s.lines[block];
    mul_y[0] = (lines.x >> 8) & 0xff;
    mul_y[1] = lines.x >> 24;
    mul_y[2] = (lines.y >> 8) & 0xff;
    mul_y[3] = lines.y >> 24;
    line_base[0] = static_cast<int>(lines.x & 0xff) * x + static_cast<int>(lines.z & 0xff);
    line_base[1] = static_cast<int>((lines.x >> 16) & 0xff) * x + static_cast<int>((lines.z >> 8) & 0xff);
    line_base[2] = static_cast<int>(lines.y & 0xff) * x + static_cast<int>((lines.z >> 16) & 0xff);
    line_base[3] = static_cast<int>((lines.y >> 16) & 0xff) * x + static_cast<int>(lines.z >> 24);
  }
  uint4 ends = s.ends.ends[block][0];
  uint32_t lns = lns_all;
  // Which weight each channel reads (the second plane's channel reads weight2).
  const bool p0 = plane2 == 0, p1 = plane2 == 1, p2 = plane2 == 2, p3 = plane2 == 3;
  for (int y = 0; y < rows; ++y, dst += width) {
    const int g = (row_step * y + 32) >> 6;
    const uint32_t row_f = static_cast<uint32_t>(g & 15);
    const uint32_t w11 = (static_cast<uint32_t>(column.f) * row_f + 8) >> 4;
    const uint32_t factors = column_factors + 65535u * row_f + 16711425u * w11;
    const int i = column.j + (g >> 4) * grid_w;
    const uint32_t wp =
        weight_pair(__dp4a(pairs[i] | (static_cast<uint32_t>(pairs[i + grid_w]) << 16), factors, 8u) >> 4);
    const uint32_t wp2 =
        dual ? weight_pair(
                   __dp4a(pairs[kPlane2 + i] | (static_cast<uint32_t>(pairs[kPlane2 + i + grid_w]) << 16), factors, 8u) >> 4)
             : wp;
    if (partitions > 1) {
      const int a = (line_base[0] + mul_y[0] * y) & 0x3f;
      const int b = (line_base[1] + mul_y[1] * y) & 0x3f;
      const int cc = (line_base[2] + mul_y[2] * y) & 0x3f;
      const int d = (line_base[3] + mul_y[3] * y) & 0x3f;
      const int part = (a >= b && a >= cc && a >= d) ? 0 : (b >= cc && b >= d) ? 1 : (cc >= d) ? 2 : 3;
      ends = s.ends.ends[block][part];
      lns = lns_all >> (2 * part);
    }
    __stcs(dst, texel_value<kHdr>(ends, p0 ? wp2 : wp, p1 ? wp2 : wp, p2 ? wp2 : wp, p3 ? wp2 : wp, lns));
  }
}

template <int kBw, int kBh, bool kHdr>
__global__ void __launch_bounds__(32 * kWarps) astc_decode_kernel(const uint4* __restrict__ blocks, int width,
                                                                   int height, int blocks_x, int blocks_y,
                                                                   uint2* __restrict__ out) {
  using namespace astc_detail;
  __shared__ Tables tables;
  using SpanT = Span<kBw, kBh>;
  __shared__ SpanT spans[kWarps];
  static_assert(sizeof(Tables) % 16 == 0, "Tables is copied as uint4");
  for (int i = threadIdx.x; i < static_cast<int>(sizeof(Tables) / 16); i += blockDim.x) {
    reinterpret_cast<uint4*>(&tables)[i] = reinterpret_cast<const uint4*>(&device_tables)[i];
  }
  __syncthreads();

  const int lane = threadIdx.x & 31;
  SpanT& s = spans[threadIdx.x >> 5];
  const int spans_x = (blocks_x + kSpan - 1) / kSpan;
  const int64_t units = static_cast<int64_t>(spans_x) * blocks_y;
  const bool small_block = kBw * kBh < 31;
  for (int64_t unit = static_cast<int64_t>(blockIdx.x) * kWarps + (threadIdx.x >> 5); unit < units;
       unit += static_cast<int64_t>(gridDim.x) * kWarps) {
    const int by = static_cast<int>(unit / spans_x);
    const int first = static_cast<int>(unit - static_cast<int64_t>(by) * spans_x) * kSpan;

    // 1. Headers, one block per lane.
    uint4 raw = make_uint4(0, 0, 0, 0);
    const bool present = first + lane < blocks_x;
    if (present) raw = __ldcs(blocks + static_cast<int64_t>(by) * blocks_x + first + lane);
    s.bits.forward[lane][0] = raw.x;
    s.bits.forward[lane][1] = raw.y;
    s.bits.forward[lane][2] = raw.z;
    s.bits.forward[lane][3] = raw.w;
    s.bits.forward[lane][4] = 0;
    s.bits.forward[lane][5] = 0;
    s.bits.reverse[lane][0] = __brev(raw.w);
    s.bits.reverse[lane][1] = __brev(raw.z);
    s.bits.reverse[lane][2] = __brev(raw.y);
    s.bits.reverse[lane][3] = __brev(raw.x);
    s.bits.reverse[lane][4] = 0;
    s.bits.reverse[lane][5] = 0;
    AstcHeader h;
    const Bits bits = {raw.x | (static_cast<uint64_t>(raw.y) << 32), raw.z | (static_cast<uint64_t>(raw.w) << 32)};
    decode_astc_header(bits, kBw, kBh, kHdr, h);
    int items = 0;
    if (h.is_constant || !present) {
      s.info[lane] = kInfoConstant;
      s.lines[lane] = make_uint4(h.constant[0] | (static_cast<uint32_t>(h.constant[1]) << 16),
                                 h.constant[2] | (static_cast<uint32_t>(h.constant[3]) << 16), 0, 0);
    } else {
      const int weights = h.grid_w * h.grid_h * (h.dual ? 2 : 1);
      s.info[lane] = h.grid_w | (h.grid_h << 4) | ((h.partitions - 1) << 8) |
                     ((h.dual ? h.plane2_channel : 0) << 10) | (h.dual ? kInfoDual : 0);
      s.colour_seq[lane] = pack_sequence(h.colour_start, h.colour_end, h.colour_range, h.colour_values, false,
                                         tables.offset[21 + h.colour_range]);
      s.weight_seq[lane] =
          pack_sequence(0, h.weight_bits, h.weight_range, weights, h.dual, tables.offset[h.weight_range]);
      items = static_cast<int>((s.colour_seq[lane].y >> 16) + (s.weight_seq[lane].y >> 16));
      if (h.partitions > 1) {
        uint8_t line[16];
        partition_pattern(h.partition_seed, h.partitions, small_block, line, line + 8);
        uint4 packed;
        memcpy(&packed, line, 12);
        packed.w = 0;
        s.lines[lane] = packed;
      }
    }
    // Prefix sum of the group counts over the span; each block marks its groups as its own.
    int sum = items;
    for (int d = 1; d < 32; d <<= 1) {
      const int other = __shfl_up_sync(0xffffffffu, sum, d);
      if (lane >= d) sum += other;
    }
    const int item_start = sum - items;
    s.item_start[lane] = item_start;
    for (int q = 0; q < items; ++q) s.owner[item_start + q] = static_cast<uint8_t>(lane);
    const int total = __shfl_sync(0xffffffffu, sum, 31);
    __syncwarp();

    // 2. Colour values and weights of all blocks, one group per lane.
    for (int item = lane; item < total; item += 32) {
      const int block = s.owner[item];
      const int g = item - static_cast<int>(s.item_start[block]);
      const uint2 colour_seq = s.colour_seq[block];
      const int colour_groups = static_cast<int>(colour_seq.y >> 16);
      const bool weight = g >= colour_groups;
      decode_group<SpanT::kPlane2>(weight ? s.bits.reverse[block] : s.bits.forward[block],
                                   weight ? s.weight_seq[block] : colour_seq, weight ? g - colour_groups : g, tables,
                                   weight ? reinterpret_cast<uint8_t*>(s.pairs[block]) : s.colour[block], weight,
                                   s.scratch);
    }
    __syncwarp();

    // 3. Endpoints, one block per lane.
    if (items > 0) {
      uint32_t lns = 0;
      int offset = 0;
      for (int p = 0; p < h.partitions; ++p) {
        const int cem = h.cem[p];
        const Endpoints ep = endpoints_from(cem, s.colour[lane] + offset, kHdr);
        offset += 2 * ((cem >> 2) + 1);
        uint32_t e[4];
        for (int c = 0; c < 4; ++c) e[c] = static_cast<uint32_t>(ep.e0[c]) | (static_cast<uint32_t>(ep.e1[c]) << 16);
        s.ends.ends[lane][p] = make_uint4(e[0], e[1], e[2], e[3]);
        lns |= static_cast<uint32_t>((ep.rgb_hdr ? 1 : 0) | (ep.alpha_hdr ? 2 : 0)) << (2 * p);
      }
      s.info[lane] |= lns << kInfoLnsShift;
    }
    __syncwarp();

    // 4. Texels: lane j takes columns j, j + 32, ... of the span's kSpan * kBw columns.
    const int x0 = first * kBw;
    const int rows = min(kBh, height - by * kBh);
    uint2* row0 = out + static_cast<int64_t>(by) * kBh * width + x0;
#pragma unroll 1
    for (int j = 0; j < kBw; ++j) {
      const int c = lane + 32 * j;
      const int block = c / kBw;
      const int x = c - block * kBw;
      if (x0 + c >= width) continue;
      const uint32_t info = s.info[block];
      uint2* dst = row0 + c;
      if (info & kInfoConstant) {
        const uint4 colour = s.lines[block];
        const uint2 v = make_uint2(colour.x, colour.y);
        for (int y = 0; y < rows; ++y, dst += width) __stcs(dst, v);
        continue;
      }
      texel_column<kBw, kBh, kHdr>(s, block, x, rows, width, info, dst);
    }
    __syncwarp();
  }
}

template <int kBw, int kBh>
void launch_size(const uint4* in, int width, int height, bool hdr, uint2* out, cudaStream_t stream) {
  const int blocks_x = (width + kBw - 1) / kBw;
  const int blocks_y = (height + kBh - 1) / kBh;
  const int64_t units = static_cast<int64_t>((blocks_x + kSpan - 1) / kSpan) * blocks_y;
  upload_tables();
  auto kernel = hdr ? astc_decode_kernel<kBw, kBh, true> : astc_decode_kernel<kBw, kBh, false>;
  // Persistent CTAs: as many as fit on the device at once (each copies the tables to shared
  // memory once). The count is taken on the first launch of this block size.
  static int resident = 0;
  if (resident == 0) {
    int device = 0, sms = 0, per_sm = 0;
    check_cuda(cudaGetDevice(&device), "cudaGetDevice");
    check_cuda(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device), "SM count");
    check_cuda(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, 32 * kWarps, 0), "occupancy");
    resident = sms * (per_sm > 0 ? per_sm : 1);
  }
  const int64_t needed = (units + kWarps - 1) / kWarps;
  const int grid = static_cast<int>(needed < resident ? needed : resident);
  kernel<<<grid, 32 * kWarps, 0, stream>>>(in, width, height, blocks_x, blocks_y, out);
}

void launch(const AstcFormat& f, const uint8_t* blocks, int width, int height, bool hdr, uint16_t* out,
            cudaStream_t stream) {
  const auto* in = reinterpret_cast<const uint4*>(blocks);
  auto* o = reinterpret_cast<uint2*>(out);
#define BCFEAT_ASTC_CASE(W, H)                                    \
  if (f.block_width == W && f.block_height == H) {               \
    launch_size<W, H>(in, width, height, hdr, o, stream); \
    return;                                                      \
  }
  BCFEAT_ASTC_CASE(4, 4)
  BCFEAT_ASTC_CASE(5, 4)
  BCFEAT_ASTC_CASE(5, 5)
  BCFEAT_ASTC_CASE(6, 5)
  BCFEAT_ASTC_CASE(6, 6)
  BCFEAT_ASTC_CASE(8, 5)
  BCFEAT_ASTC_CASE(8, 6)
  BCFEAT_ASTC_CASE(8, 8)
  BCFEAT_ASTC_CASE(10, 5)
  BCFEAT_ASTC_CASE(10, 6)
  BCFEAT_ASTC_CASE(10, 8)
  BCFEAT_ASTC_CASE(10, 10)
  BCFEAT_ASTC_CASE(12, 10)
  BCFEAT_ASTC_CASE(12, 12)
#undef BCFEAT_ASTC_CASE
  throw std::invalid_argument(std::string("no CUDA ASTC kernel for ") + f.name);
}

}  // namespace

std::vector<uint16_t> astc_decode_half_cuda(const AstcFormat& format, AstcProfile profile, const uint8_t* blocks,
                                            int width, int height) {
  require_gpu();
  const size_t in_bytes = static_cast<size_t>(astc_compressed_size(format, width, height));
  const size_t texels = static_cast<size_t>(width) * height;
  DeviceBuffer<uint8_t> d_in(in_bytes);
  DeviceBuffer<uint16_t> d_out(texels * 4);
  check_cuda(cudaMemcpy(d_in.data, blocks, in_bytes, cudaMemcpyHostToDevice), "copy blocks to the GPU");
  launch(format, d_in.data, width, height, profile == AstcProfile::kHdr, d_out.data, nullptr);
  check_cuda(cudaGetLastError(), "ASTC decode launch");
  std::vector<uint16_t> out(texels * 4);
  check_cuda(cudaMemcpy(out.data(), d_out.data, texels * 8, cudaMemcpyDeviceToHost), "copy texels from the GPU");
  return out;
}

AstcCudaTiming time_astc_decode_cuda(const AstcFormat& format, AstcProfile profile, const uint8_t* blocks, int width,
                                     int height, int repetitions) {
  require_gpu();
  AstcCudaTiming timing;
  timing.encoded_bytes = astc_compressed_size(format, width, height);
  timing.decoded_bytes = static_cast<int64_t>(width) * height * 8;
  DeviceBuffer<uint8_t> d_in(static_cast<size_t>(timing.encoded_bytes));
  DeviceBuffer<uint16_t> d_out(static_cast<size_t>(width) * height * 4);
  check_cuda(cudaMemcpy(d_in.data, blocks, timing.encoded_bytes, cudaMemcpyHostToDevice), "copy blocks to the GPU");
  const bool hdr = profile == AstcProfile::kHdr;
  timing.decode_s =
      time_cuda(repetitions, [&] { launch(format, d_in.data, width, height, hdr, d_out.data, nullptr); });
  return timing;
}

}  // namespace bcfeat
