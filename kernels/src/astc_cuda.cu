// CUDA ASTC decoder: the block code of astc.h reorganised so that the lanes of a warp share
// each block's work instead of one thread walking one block's every branch.
//
// Work unit: one warp owns a span of 32 consecutive blocks of one block row (launch_size
// gives each warp one span). Per span, four steps with the warp's shared memory in between:
//  1. header   — lane i decodes block i's header (astc.h decode_astc_header, with the block
//                mode and its weight sequence, the colour sequence and the partition lines
//                read from tables that the host builds from astc.h): constant colour, or
//                partitions, endpoint modes, the ranges, counts and groups of its integer
//                sequences; it stores the block's bits with each sequence's end cleared and
//                marks the span's groups (step 2) that belong to block i;
//  2. sequences — the span's colour values and weights, all blocks together, one group (a
//                trit or quint block, or 5 or 8 plain values, see plain_values) per lane:
//                each lane reads its group's bits from the block in one 64-bit window, unpacks
//                the trits or quints and unquantises the values through tables (weights are
//                stored as byte pairs, each weight with its right-hand neighbour), storing
//                the values under predicates (8 plain values as whole words);
//  3. endpoints — lane i turns block i's colour values into endpoints per partition, each
//                channel's pair packed in one word (in the memory of step 2's input);
//  4. texels   — lane j computes texel columns 2j, 2j + 1, then 64 further on, ..., of each
//                texel row of the span (one column a lane where the image width is odd or,
//                but for LDR 5x4, the block width; see span_texels): weight infill as one
//                4-byte dot product with factors from a table, partition, interpolation as one
//                two-way dot product per channel, half conversion through float, so each
//                store is 512 contiguous bytes of half RGBA.
//                Per pass over the columns the warp votes on what its blocks need (a second
//                weight plane, partitions, mixed LNS) and runs a texel loop made for that;
//                HDR kernels of even block widths from 6x5 up take the blocks sorted by need
//                (their stores: runs of whole 32-byte sectors).
// Every lane of a warp runs the same code on one group in step 2 (the bulk of a block's
// work), so the per-block decode does not diverge as blocks of different modes meet in a warp.
// The span's shared memory is sized for the block size (small blocks hold fewer weights), so
// more warps fit on an SM for small blocks.
// Output is bit-identical to the CPU decoder (decode_astc_params + astc_texel).
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "astc_codec.h"
#include "astc_cuda_layout.h"
#include "blocks/astc.h"
#include "cuda_util.cuh"

namespace bcfeat {

namespace {

using cuda_util::check_cuda;
using cuda_util::DeviceBuffer;
using cuda_util::require_gpu;
using cuda_util::time_cuda;

constexpr int kWarps = 4;  // warps per CTA
constexpr int kSpan = 32;  // blocks per warp work unit
// Bytes of unquantised colour values per block: 18, then unused ones; 24 where step 2 stores
// 8 values at a time (kPlain 8), so that a group's 8 bytes are one aligned 8-byte store.
constexpr int colour_stride(int plain) { return plain == 8 ? 24 : 19; }

// Unquantisation tables: values of weight ranges 0..11, then colour ranges 4..20.
constexpr int kWeightTable = 2 + 3 + 4 + 5 + 6 + 8 + 10 + 12 + 16 + 20 + 24 + 32;
constexpr int kColourTable = 6 + 8 + 10 + 12 + 16 + 20 + 24 + 32 + 40 + 48 + 64 + 80 + 96 + 128 + 160 + 192 + 256;
// Colour bits a block can have: at most 128 - 17 (header) - 24 (fewest weight bits) = 87.
constexpr int kColourBits = 96;

// Per-CTA tables (shared memory).
struct alignas(64) Tables {
  uint8_t unquantised[kWeightTable + kColourTable];
  // The infill factors of fractions fs, ft (astc.h infill_at, neighbours inside the grid) at
  // [ft][fs]: w00 | w01 << 8 | w10 << 16 | w11 << 24, w11 = (fs ft + 8) >> 4. A texel row's
  // lanes share ft and read different fs, so rows by ft keep their reads in different banks.
  alignas(64) uint32_t factors[16][16];
};

using astc_cuda_layout::kGroupsMax;  // step 2's room for groups a block (see there)
using astc_cuda_layout::kSizes;      // the block sizes, in the order of the block-mode tables
using astc_cuda_layout::size_index;

// Block-mode tables (global memory, read through L1): per block size and 11-bit block mode,
// .x grid_w (4 bits), grid_h (4), weight range (4), dual plane (1), legal (1: a block mode that
// decode_block_mode accepts with a grid inside the block), then the weight bits from bit 16;
// .y the weight sequence (sequence_desc); .z its groups (step 2) | bits a group << 8 | kind << 16
// with 5 plain values a group, .w the same with 8 (see plain_values).
constexpr uint32_t kModeDual = 1u << 12;
constexpr uint32_t kModeLegal = 1u << 13;
__device__ uint4 device_modes[14 * 2048];
// Partition lines (astc_detail::partition_pattern) per small-block flag, partition count 2..4
// and seed, packed for the kernel: .x the four mul_x, .y the four mul_y, .z the four add, each
// & 63 in a byte (partition i in byte i).
__device__ uint4 device_lines[2 * 3 * 1024];
// The colour sequence of 2, 4, ..., 18 colour values in 0..kColourBits-1 bits (astc.h
// colour_range_for), for 5 and for 8 plain values a group (kPlain): .x its sequence_desc with
// start 0, .y its groups | bits a group << 8 | kind << 16 | bits it takes << 20; .y all ones
// where no range fits.
__device__ uint2 device_colour_ranges[2][9 * kColourBits];

// What step 2 reads: the blocks' bits and sequences, and the block of each group. The colour
// values read the block's words up to the end of the colour sequence, the weights its
// bit-reversed words up to the end of the weight sequence, each with the bits past that end
// cleared (a trit or quint block reads them as 0). A group reads a 64-bit window from three
// words. A sequence ends by bit 104 (the colour values, before at least 24 weight bits) or 96
// (the weights). A colour trit or quint group starting inside it ends by bit 142 (38 bits: a
// trit block of 6-bit values), so the colour words are followed by a zero word; a weight trit
// or quint group ends by bit 119 (23 bits: 3-bit values), so the weights need their fourth word
// (zero: it holds bits from 96) but none after. A plain group's values past its sequence's end
// are not stored (8 a group: stored where no one reads them, see decode_group). Per block, nine
// words: the colour words 0..3, a zero, the weight words 0..2, a zero; a window past the
// weights' zero reads the next block's first word (past the last block's, `seq`) but uses none
// of its bits. (Nine words, an odd count, keep the lanes' loads of different blocks in different
// banks. tests/kernels/test_astc.cpp checks these bounds over every legal block layout; the
// groups there end by bit 121 and 104.)
template <int kMaxGroups>
struct SpanSequences {
  static constexpr int kWeightWords = 5;  // the weights' words from there
  uint32_t words[kSpan][9];
  // Per block: the colour and weight sequences (see sequence_desc), the first group of each
  // (colour | weight << 16), the bits of a colour group | of a weight group << 8.
  uint4 seq[kSpan];
  uint8_t owner[kSpan * kMaxGroups];  // the block of each group, | 0x80 for a weight group
};

// The endpoints, made in step 3 and read in step 4: per partition and channel c, component c
// holds e0 | e1 << 16, so that one two-way dot product interpolates the channel. Partition
// major, [partition][block], so that the lanes' 16-byte stores and loads fall in different
// banks.
struct SpanEndpoints {
  uint4 ends[4][kSpan];
  uint8_t order[kSpan];  // the blocks in the order step 4 takes them (see kSortBlocks)
};

// Plain values a group (step 2) for kBw x kBh blocks: 8 where that measured faster, stored as
// whole words (decode_group), 5 elsewhere. Against 5 a group (an H200; the record is in
// docs/dev/astc_cuda.md): LDR 1.04-1.09x at 5x4 (synthetic; kodim23 0.99x), 6x5, 8x5, 10x5 and
// 10x6, but 0.96-0.99x at 6x6, 8x6, 8x8 and 10x8; HDR 1.01-1.05x at every size measured. 5x5
// and 12xN stay at 5: their spans would grow past a CTA an SM.
constexpr int plain_values(int bw, int bh, bool hdr) {
  if (bw == 12 || (bw == 5 && bh == 5)) return 5;
  return hdr || bh <= 5 || (bw == 10 && bh == 6) ? 8 : 5;
}

constexpr int round_up(int v, int multiple) { return (v + multiple - 1) / multiple * multiple; }

// One warp's span for kBw x kBh blocks of the profile kHdr.
template <int kBw, int kBh, bool kHdr>
struct Span {
  static constexpr int kPlain = plain_values(kBw, kBh, kHdr);
  // A dual-plane block has at most min(32, kBw * kBh) weights per plane; its second plane
  // starts there (rounded up to 4 slots with 8 values a group: a group's values past its plane's
  // end land in its own plane), and a one-plane block has at most 2 kPlane2 weights. Step 4 also
  // reads entries past the grid, up to a grid row (at most kBw) beyond it, with infill factor 0:
  // whatever lies there, the block's own spare pairs, the next block's, the span's info or the
  // next span's first bytes (after the last span, CtaSpans::tail). With 8 values a group the
  // rows are whole words (decode_group's word stores). A block's pairs take (in words) for small
  // blocks the fewest past 2 kPlane2 pairs that make an odd count, so that the lanes' loads and
  // stores of different blocks fall in different banks (and 4x4 spans fit 9 CTAs an SM, 5x4
  // spans 8), and for kPlane2 = 32 kBw / 2 words more, which puts the grid-row reads of each
  // block in the banks after those of the block before (rows of 32 words took up to 1.6x as
  // long there, of 33 up to 1.08x, on an H200).
  static constexpr int kPlane2 = round_up(kBw * kBh < 32 ? kBw * kBh : 32, kPlain == 8 ? 4 : 1);
  static constexpr int kPairs = kPlane2 < 32 ? 2 * kPlane2 + (kPlane2 % 2 == 0 ? 2 : 0)
                                             : round_up(2 * kPlane2 + kBw, kPlain == 8 ? 2 : 1);
  static constexpr int kMaxGroups = kGroupsMax[size_index(kBw, kBh)][kPlain == 8 ? 1 : 0];  // per block
  using Sequences = SpanSequences<kMaxGroups>;
  union {  // the endpoints (step 3 on) reuse the memory of step 2's input
    Sequences bits;
    SpanEndpoints ends;
  };
  // Partition lines (see device_lines) in .x, .y, .z, for a constant block its colour as 4
  // halves in .x and .y.
  uint4 lines[kSpan];
  static constexpr int kColourStride = colour_stride(kPlain);
  alignas(8) uint8_t colour[kSpan][kColourStride];
  // Weights as pairs: pairs[i] = weight i | weight i + 1 << 8 (plane 2 from kPlane2), so that
  // one infill reads its four grid weights in two loads.
  uint16_t pairs[kSpan][kPairs];
  // The blocks' info (see kInfo* below): in lines[].w where that fits one CTA more on an SM
  // (4x4: 9 instead of 8), in an array of its own elsewhere (from 6x5 up the two were within
  // 1.1% of each other, either way by size: 10xN faster with the array, 6x6 and 8xN LDR with
  // lines[].w; with the array no size is more than 0.4% slower than with the info beside the
  // span, with lines[].w up to 1.1%; an H200).
  static constexpr bool kInfoInLines = kBw * kBh <= 16;
  uint32_t info[kInfoInLines ? 1 : kSpan];  // (one unused word where kInfoInLines)
  __device__ __forceinline__ uint32_t block_info(int block) const {
    return kInfoInLines ? lines[block].w : info[block];
  }
  // A block's lines and info (with kInfoInLines, one 16-byte store).
  __device__ __forceinline__ void set_lines(int block, uint4 line, uint32_t value) {
    if (kInfoInLines) {
      line.w = value;
    } else {
      info[block] = value;
    }
    lines[block] = line;
  }
  __device__ __forceinline__ void set_info(int block, uint32_t value) {
    if (kInfoInLines) {
      lines[block].w = value;
    } else {
      info[block] = value;
    }
  }
};

// A CTA's spans, and after the last one room for step 4's reads past its last block's grid
// (see Span::kPairs).
template <typename SpanT, int kBw>
struct CtaSpans {
  SpanT span[kWarps];
  uint16_t tail[kBw];
};

// info: grid_w (4 bits), grid_h (4), partitions - 1 (2), plane-2 channel (2), dual (1),
// constant (1), fixed alpha (1: the block's alpha endpoints are all one value, in every
// partition; set only in the kernels with fixed-alpha passes, see kFixedAlphaPasses), LNS high
// (1: an LNS channel has an endpoint above 0xF7FF, so some of its texels may need the clamp to
// the largest half; see texel_columns), then per partition the 2 LNS bits (RGB, alpha) from
// bit 16.
constexpr uint32_t kInfoDual = 1u << 12;
constexpr uint32_t kInfoConstant = 1u << 13;
constexpr uint32_t kInfoAlphaFixed = 1u << 14;
constexpr uint32_t kInfoLnsHigh = 1u << 15;
constexpr int kInfoLnsShift = 16;

// Values are decoded a group at a time: a trit block (5 values), a quint block (3) or, for
// ranges without trits or quints, kPlain values (5 or 8: at most 8 bits each, one 64-bit
// window; see plain_values).
template <int kPlain>
__host__ __device__ __forceinline__ int group_count(int kind, int values) {
  return kind == 2 ? (values + 2) / 3 : kind == 1 ? (values + 4) / 5 : (values + kPlain - 1) / kPlain;
}

// The bits of one group: 5 values and 8 trit bits, 3 values and 7 quint bits, or kPlain values.
template <int kPlain>
__host__ __device__ __forceinline__ int group_length(astc_detail::Range r) {
  return r.kind == 1 ? 5 * r.bits + 8 : r.kind == 2 ? 3 * r.bits + 7 : kPlain * r.bits;
}

// A sequence: first bit (5 bits: 0, 17 or 29), low bits per value (4), kind (2: bits, trits,
// quints), dual-plane slot split (1), value count (7, from bit 12), index of the range's first
// entry in Tables::unquantised (from bit 19).
__host__ __device__ __forceinline__ uint32_t sequence_desc(int start, int range, int count, bool split,
                                                           int table_offset) {
  const astc_detail::Range r = astc_detail::range_of(range);
  return static_cast<uint32_t>(start) | (static_cast<uint32_t>(r.bits) << 5) |
         (static_cast<uint32_t>(r.kind) << 9) | (split ? 1u << 11 : 0u) | (static_cast<uint32_t>(count) << 12) |
         (static_cast<uint32_t>(table_offset) << 19);
}

// The per-CTA tables, computed on the host from the block code (astc.h).
// `offset`: the first entry of each weight range in Tables::unquantised, then of each colour
// range (the sequences' table_offset).
Tables host_tables(uint16_t (&offset)[21 + 21]) {
  using namespace astc_detail;
  Tables t{};
  auto levels = [](int range) {
    const Range r = range_of(range);
    return (r.kind == 0 ? 1 : r.kind == 1 ? 3 : 5) << r.bits;
  };
  int at = 0;
  for (int r = 0; r < 12; ++r) {  // weights
    offset[r] = static_cast<uint16_t>(at);
    for (int v = 0; v < levels(r); ++v) t.unquantised[at++] = static_cast<uint8_t>(unquantize_weight(v, r));
  }
  for (int r = 4; r < 21; ++r) {  // colours
    offset[21 + r] = static_cast<uint16_t>(at);
    for (int v = 0; v < levels(r); ++v) t.unquantised[at++] = static_cast<uint8_t>(unquantize_colour(v, r));
  }
  for (int fs = 0; fs < 16; ++fs) {
    for (int ft = 0; ft < 16; ++ft) {
      const Infill in = infill_at({0, fs, true}, {0, ft, true}, 2);
      t.factors[ft][fs] = static_cast<uint32_t>(in.w00) | (static_cast<uint32_t>(in.w01) << 8) |
                          (static_cast<uint32_t>(in.w10) << 16) | (static_cast<uint32_t>(in.w11) << 24);
    }
  }
  return t;
}

__device__ Tables device_tables;

// The digits of the packed trit and quint bits (global memory, read through L1): entry i < 256
// the five trits of i, entry 256 + i the three quints of i, digit j in byte j (digit 4 in .y).
__device__ uint2 device_digits[256 + 128];

std::vector<uint2> host_digits() {
  std::vector<uint2> digits(256 + 128, make_uint2(0, 0));
  for (uint32_t i = 0; i < 256; ++i) {  // unpack_trits: 2 bits a trit
    const uint32_t trits = astc_detail::unpack_trits(i);
    for (int j = 0; j < 4; ++j) digits[i].x |= ((trits >> (2 * j)) & 3) << (8 * j);
    digits[i].y = (trits >> 8) & 3;
  }
  for (uint32_t i = 0; i < 128; ++i) {  // unpack_quints: 3 bits a quint
    const uint32_t quints = astc_detail::unpack_quints(i);
    for (int j = 0; j < 3; ++j) digits[256 + i].x |= ((quints >> (3 * j)) & 7) << (8 * j);
  }
  return digits;
}

// The groups (step 2) of a sequence of `values` values of range r, with 8 plain values a group
// or 5: groups | bits a group << 8 | kind << 16 (device_modes .z, device_colour_ranges .y).
uint32_t sequence_groups(bool plain8, astc_detail::Range r, int values) {
  return static_cast<uint32_t>(plain8 ? group_count<8>(r.kind, values) : group_count<5>(r.kind, values)) |
         (static_cast<uint32_t>(plain8 ? group_length<8>(r) : group_length<5>(r)) << 8) |
         (static_cast<uint32_t>(r.kind) << 16);
}

// Copies the tables to `device` once per process.
void upload_tables() {
  static std::mutex mutex;
  static std::set<int> done;
  int device = 0;
  check_cuda(cudaGetDevice(&device), "cudaGetDevice");
  std::lock_guard<std::mutex> lock(mutex);
  if (done.count(device)) return;
  uint16_t offset[21 + 21] = {};
  const Tables t = host_tables(offset);
  check_cuda(cudaMemcpyToSymbol(device_tables, &t, sizeof t), "copy ASTC tables to the GPU");
  const std::vector<uint2> digits = host_digits();
  check_cuda(cudaMemcpyToSymbol(device_digits, digits.data(), digits.size() * sizeof(uint2)),
             "copy ASTC digit table to the GPU");
  std::vector<uint4> modes(14 * 2048, make_uint4(0, 0, 0, 0));
  for (int size = 0; size < 14; ++size) {
    for (uint32_t mode = 0; mode < 2048; ++mode) {
      astc_detail::BlockMode bm;
      if (!astc_detail::decode_block_mode(mode, bm) || bm.grid_w > kSizes[size][0] || bm.grid_h > kSizes[size][1]) {
        continue;
      }
      const int weights = bm.grid_w * bm.grid_h * (bm.dual ? 2 : 1);
      const astc_detail::Range r = astc_detail::range_of(bm.weight_range);
      uint4& m = modes[size * 2048 + mode];
      m.x = static_cast<uint32_t>(bm.grid_w) | (static_cast<uint32_t>(bm.grid_h) << 4) |
            (static_cast<uint32_t>(bm.weight_range) << 8) | (bm.dual ? kModeDual : 0u) | kModeLegal |
            (static_cast<uint32_t>(bm.weight_bits) << 16);
      m.y = sequence_desc(0, bm.weight_range, weights, bm.dual, offset[bm.weight_range]);
      m.z = sequence_groups(false, r, weights);
      m.w = sequence_groups(true, r, weights);
    }
  }
  check_cuda(cudaMemcpyToSymbol(device_modes, modes.data(), modes.size() * sizeof(uint4)),
             "copy ASTC block-mode tables to the GPU");
  std::vector<uint4> lines(2 * 3 * 1024);
  for (int small = 0; small < 2; ++small) {
    for (int count = 2; count <= 4; ++count) {
      for (int seed = 0; seed < 1024; ++seed) {
        uint8_t line[16] = {};
        astc_detail::partition_pattern(seed, count, small != 0, line, line + 8);
        uint4& packed = lines[(small * 3 + count - 2) * 1024 + seed];
        packed = make_uint4(0, 0, 0, 0);
        for (int i = 0; i < 4; ++i) {  // the scores are taken mod 64, so the lines may be too
          packed.x |= static_cast<uint32_t>(line[2 * i] & 63) << (8 * i);
          packed.y |= static_cast<uint32_t>(line[2 * i + 1] & 63) << (8 * i);
          packed.z |= static_cast<uint32_t>(line[8 + i] & 63) << (8 * i);
        }
      }
    }
  }
  check_cuda(cudaMemcpyToSymbol(device_lines, lines.data(), lines.size() * sizeof(uint4)),
             "copy ASTC partition tables to the GPU");
  std::vector<uint2> ranges(2 * 9 * kColourBits);
  for (int plain8 = 0; plain8 < 2; ++plain8) {
    for (int pairs = 0; pairs < 9; ++pairs) {
      for (int bits = 0; bits < kColourBits; ++bits) {
        const int values = 2 * pairs + 2;
        int range = 0, used = 0;
        uint2& entry = ranges[(plain8 * 9 + pairs) * kColourBits + bits];
        entry = make_uint2(0, 0xffffffffu);
        if (!astc_detail::colour_range_for(values, bits, range, used)) continue;
        const astc_detail::Range r = astc_detail::range_of(range);
        entry.x = sequence_desc(0, range, values, false, offset[21 + range]);
        entry.y = sequence_groups(plain8 != 0, r, values) | (static_cast<uint32_t>(used) << 20);
      }
    }
  }
  check_cuda(cudaMemcpyToSymbol(device_colour_ranges, ranges.data(), ranges.size() * sizeof(uint2)),
             "copy ASTC colour-range table to the GPU");
  done.insert(device);
}

// Word i of a block's bits with the bits from `end` on cleared.
__device__ __forceinline__ uint32_t bits_before(uint32_t word, int i, int end) {
  return word & __funnelshift_lc(0xffffffffu, 0u, static_cast<uint32_t>(max(end - 32 * i, 0)));
}

// Stores the byte v at the shared addresses a and b if `store`, as predicated stores: written
// as a branch, the compiler moves the value's whole decode under it, one branch a value.
__device__ __forceinline__ void store_bytes_if(bool store, uint32_t a, uint32_t b, uint32_t v) {
  asm volatile(
      "{\n"
      "  .reg .pred p;\n"
      "  setp.ne.u32 p, %0, 0;\n"
      "  @p st.shared.u8 [%1], %3;\n"
      "  @p st.shared.u8 [%2], %3;\n"
      "}\n" ::"r"(static_cast<uint32_t>(store)),
      "r"(a), "r"(b), "r"(v)
      : "memory");
}

// Group g of the integer sequence `desc` (see sequence_desc) in the words `w` (5 words, zero
// past the sequence): its values unquantised through the tables into out[slot] (slots split
// for dual planes, the second plane from kPlane2), or with `pairs` into the byte pairs of
// Span::pairs.
// Trit and quint blocks interleave their packed bits with the values' low bits: a trit block
// is m0 t[0,2) m1 t[2,4) m2 t[4,5) m3 t[5,7) m4 t[7,8), a quint block m0 q[0,3) m1 q[3,5)
// m2 q[5,7). A group spans at most 64 bits (`group_bits`), so one 64-bit window holds it.
template <int kPlane2, int kPlain, int kPairBytes>
__device__ __forceinline__ void decode_group(const uint32_t* w, uint32_t desc, int group_bits, int g, const Tables& t,
                                             uint8_t* out, bool pairs) {
  const int start = desc & 31, bits = (desc >> 5) & 15, kind = (desc >> 9) & 3;
  const bool split = desc & (1u << 11);
  const int count = (desc >> 12) & 127;
  const uint8_t* table = t.unquantised + (desc >> 19);
  const int per_group = kind == 2 ? 3 : kind == 1 ? 5 : kPlain;
  const int base = start + g * group_bits;
  const int word = base >> 5, shift = base & 31;
  const uint32_t lo = __funnelshift_r(w[word], w[word + 1], shift);
  const uint32_t hi = __funnelshift_r(w[word + 1], w[word + 2], shift);
  const uint64_t window = lo | (static_cast<uint64_t>(hi) << 32);
  auto field = [&](int at, uint32_t mask) { return static_cast<uint32_t>(window >> at) & mask; };
  const uint32_t low_mask = (1u << bits) - 1;
  if (kPlain == 8 && kind == 0) {
    // 8 plain values: packed into two words, then stored in whole words as the layout needs,
    // with no test of which values exist: a group's values past its sequence's end (whatever
    // bits the window holds there) land in bytes no one reads, inside the block's own: colour
    // bytes past its values (at most 18 of Span::kColourStride, 24), pairs past its weights in
    // their plane, which step 4 reads with factor 0 (Span::kPlane2 and kPairs leave room for
    // whole groups of 8).
    uint32_t v[8];
#pragma unroll
    for (int j = 0; j < 8; ++j) v[j] = table[field(j * bits, low_mask)];
    const uint32_t v03 = __byte_perm(__byte_perm(v[0], v[1], 0x0040), __byte_perm(v[2], v[3], 0x0040), 0x5410);
    const uint32_t v47 = __byte_perm(__byte_perm(v[4], v[5], 0x0040), __byte_perm(v[6], v[7], 0x0040), 0x5410);
    const int first = g * 8;
    if (!pairs) {  // colour values: bytes first .. first + 7 (8-byte aligned, Span::kColourStride)
      *reinterpret_cast<uint2*>(out + first) = make_uint2(v03, v47);
    } else if (!split) {
      // Pairs first .. first + 7: bytes 2 first - 1 .. 2 first + 14 are v0 v0 v1 v1 ... v7 v7.
      uint8_t* p = out + 2 * first;
      if (kPairBytes % 8 == 0) {
        *reinterpret_cast<uint2*>(p) = make_uint2(__byte_perm(v03, 0, 0x2110), __byte_perm(v03, v47, 0x4332));
      } else {
        *reinterpret_cast<uint32_t*>(p) = __byte_perm(v03, 0, 0x2110);
        *reinterpret_cast<uint32_t*>(p + 4) = __byte_perm(v03, v47, 0x4332);
      }
      *reinterpret_cast<uint32_t*>(p + 8) = __byte_perm(v47, 0, 0x2110);
      *reinterpret_cast<uint16_t*>(p + 12) = static_cast<uint16_t>(v47 >> 16);
      p[14] = static_cast<uint8_t>(v47 >> 24);
      p[-1] = static_cast<uint8_t>(v03);
    } else {
      // Dual planes: v0 v2 v4 v6 to slots first / 2 .., v1 v3 v5 v7 to kPlane2 + first / 2 ..
      uint8_t* p = out + first;
      uint8_t* q = out + 2 * kPlane2 + first;
      *reinterpret_cast<uint32_t*>(p) = __byte_perm(v03, v47, 0x4220);
      *reinterpret_cast<uint16_t*>(p + 4) = static_cast<uint16_t>(__byte_perm(v47, 0, 0x0020));
      p[6] = static_cast<uint8_t>(v47 >> 16);
      p[-1] = static_cast<uint8_t>(v03);
      *reinterpret_cast<uint32_t*>(q) = __byte_perm(v03, v47, 0x5331);
      *reinterpret_cast<uint16_t*>(q + 4) = static_cast<uint16_t>(__byte_perm(v47, 0, 0x0031));
      q[6] = static_cast<uint8_t>(v47 >> 24);
      q[-1] = static_cast<uint8_t>(v03 >> 8);
    }
    return;
  }
  // Where each value's low bits start, and its trit or quint (device_digits).
  int pos[5];
  uint2 digits = make_uint2(0, 0);
  if (kind == 0) {
    for (int j = 0; j < 5; ++j) pos[j] = j * bits;
  } else if (kind == 1) {
    const int e[5] = {0, 2, 4, 5, 7};
    for (int j = 0; j < 5; ++j) pos[j] = j * bits + e[j];
    digits = __ldg(device_digits + (field(pos[1] - 2, 3) | (field(pos[2] - 2, 3) << 2) | (field(pos[3] - 1, 1) << 4) |
                                    (field(pos[4] - 2, 3) << 5) | (field(5 * bits + 7, 1) << 7)));
  } else {
    const int e[5] = {0, 3, 5, 0, 0};  // (values 3 and 4 are not in a quint block)
    for (int j = 0; j < 5; ++j) pos[j] = j * bits + e[j];
    digits = __ldg(device_digits + 256 +
                   (field(pos[1] - 3, 7) | (field(pos[2] - 2, 3) << 3) | (field(3 * bits + 5, 3) << 5)));
  }
  // Value j's table index is digit j << bits | its low bits; the digits are shifted in place,
  // all four bytes at once (a digit is at most 4 and bits at most 5: no byte overflows).
  const uint32_t high_digits = digits.x << bits, last_digit = digits.y << bits;
  const int first = g * per_group;
  const int present = min(count - first, per_group);  // values j < present exist
  // Value j goes to byte even + step * j of `out` for even j, odd + step * j for odd j. With
  // split planes, value k goes to slot (k & 1) * kPlane2 + (k >> 1), and byte pairs take
  // two bytes a slot. A weight is also the high byte of the pair before it (byte at - 1; for
  // colour values, byte at again): before a block's first pair that is a byte no one reads
  // (the block before's last pair, or the last block's unused colour bytes, see Span).
  int even = first, odd = first, step = 1;
  const int high = pairs ? 1 : 0;
  if (pairs) {
    if (split) {
      const int half = first >> 1, parity = first & 1;
      even = 2 * (half + (parity ? kPlane2 : 0));
      odd = 2 * (half + parity + (parity ? 0 : kPlane2)) - 1;
    } else {
      even = odd = 2 * first;
      step = 2;
    }
  }
  const uint32_t to = static_cast<uint32_t>(__cvta_generic_to_shared(out));
#pragma unroll
  for (int j = 0; j < 5; ++j) {
    const uint32_t digit = j < 4 ? __byte_perm(high_digits, 0, 0x4440 | j) : last_digit;
    const uint32_t v = table[field(pos[j], low_mask) | digit];
    const uint32_t at = to + static_cast<uint32_t>((j & 1 ? odd : even) + step * j);
    store_bytes_if(j < present, at, at - high, v);
  }
}

// Constants of step 4, passed to the kernel as a parameter: the compiler loads them into
// registers once, where as literals it set registers to them again in every texel row.
struct TexelConstants {
  uint32_t bias, w255, eight;
  float scale, lift, nudge;
  uint32_t word;  // 65536 (see texel_columns' weight words)
};

// An interpolation is made as x = 2^23 + e0 (64 - w) + e1 w + 32, see
// astc.h unorm16_interpolation_float.
constexpr uint32_t kInterpolationBias = 0x4b000000u + 32u;

__device__ __forceinline__ float unorm16_float(uint32_t x, const TexelConstants& k) {
  return astc_detail::unorm16_interpolation_float(x, k.scale, k.lift, k.nudge);
}

__device__ __forceinline__ uint32_t unorm16_half(uint32_t x, const TexelConstants& k) {
  return __half_as_ushort(__float2half_rz(unorm16_float(x, k)));
}

// Two of them packed (first in the low 16 bits): one conversion instruction for both where
// the device has it (cvt.rz.f16x2.f32, sm_80 on).
__device__ __forceinline__ uint32_t unorm16_half2(uint32_t x, uint32_t y, const TexelConstants& k) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  uint32_t d;
  asm("cvt.rz.f16x2.f32 %0, %1, %2;" : "=r"(d) : "f"(unorm16_float(y, k)), "f"(unorm16_float(x, k)));
  return d;
#else
  return unorm16_half(x, k) | (unorm16_half(y, k) << 16);
#endif
}

// Channel c of one partition's endpoints (e0 | e1 << 16) at weight pair wp = (64 - w) | w << 8:
// the interpolation x (see kInterpolationBias), one two-way dot product.
__device__ __forceinline__ uint32_t interpolate(uint32_t ends, uint32_t wp, const TexelConstants& k) {
  return __dp2a_lo(ends, wp, k.bias);
}

// The texel's four channels as half bits, packed RGBA, from the partition's endpoints, the
// channels' weight pairs and the partition's LNS bits (bit 0: RGB are LNS values, bit 1:
// alpha is).
template <bool kHdr>
__device__ __forceinline__ uint2 texel_value(uint4 ends, uint32_t wr, uint32_t wg, uint32_t wb, uint32_t wa,
                                             uint32_t lns, const TexelConstants& k) {
  using astc_detail::lns_interpolation_half;
  using astc_detail::lns_interpolation_half2;
  const uint32_t r = interpolate(ends.x, wr, k), g = interpolate(ends.y, wg, k), b = interpolate(ends.z, wb, k),
                 a = interpolate(ends.w, wa, k);
  if (!kHdr || (lns & 3) == 0) return make_uint2(unorm16_half2(r, g, k), unorm16_half2(b, a, k));
  if ((lns & 3) == 3) {  // the usual HDR case: all four channels LNS
    return make_uint2(lns_interpolation_half2(r, g), lns_interpolation_half2(b, a));
  }
  const bool rgb = lns & 1, alpha = lns & 2;
  return make_uint2(rgb ? lns_interpolation_half2(r, g) : unorm16_half2(r, g, k),
                    (rgb ? lns_interpolation_half(b) : unorm16_half(b, k)) |
                        ((alpha ? lns_interpolation_half(a) : unorm16_half(a, k)) << 16));
}

// The word of a texel row's four grid weights (two pairs from Span::pairs, `p` and a grid row
// below) for the infill's dot product; with kImad by one IMAD (by k.word, see texel_columns),
// else as the compiler makes it (a PRMT).
template <bool kImad>
__device__ __forceinline__ uint32_t weight_word(const char* p, int row_bytes, const TexelConstants& k) {
  const uint32_t top = *reinterpret_cast<const uint16_t*>(p), below = *reinterpret_cast<const uint16_t*>(p + row_bytes);
  return kImad ? top + below * k.word : top | (below << 16);
}

// lns_to_half of two LNS interpolations: as the kDirect loops make them (astc.h lns_base: the
// value in bits 8..23; their blocks' values are at most 0xF7FF, so no clamp) or as interpolate
// does (bits 6..21).
template <bool kDirect>
__device__ __forceinline__ uint32_t lns_pair(uint32_t x, uint32_t y) {
  return kDirect ? astc_detail::lns_half2_below_max(astc_detail::lns_pack2(x, y))
                 : astc_detail::lns_interpolation_half2(x, y);
}

// Step 4 for kCols texel columns of `block`: texels (x .. x + kCols - 1, every row), stored
// from `dst` down, a row `pitch` bytes below the one before, until `end` bytes (the rows times
// the pitch, at least one row).
//
// Weight infill (astc.h infill_at) as one 4-byte dot product: the four grid weights, two pairs
// from Span::pairs, times the four factors packed in bytes, w00 | w01 << 8 | w10 << 16 |
// w11 << 24, read from Tables::factors. A neighbour past the grid needs no test: for every
// block and grid size the fraction toward it is 0, so its factor is 0 (and a full grid has
// fs = ft = 0: the factors are 16, 0, 0, 0). The texel row's grid position in 1/64 units of a
// cell, 32 + row_step * y, grows by row_step a row: its bits 6..9 are the fraction ft, the bits
// from 10 the grid row.
//
// The work a texel needs beyond that depends on its block: a second weight plane, a partition,
// LNS values. The warp's lanes take the same code for one column pass (kNeed, the bits below),
// chosen by a vote over the blocks of the pass, so that a texel runs no branch: kDual reads a
// second plane (a one-plane block reads its first plane again and uses neither), kPartitions
// picks the texel's partition (a one-partition block has zero lines, so always partition 0),
// and kMixedLns tests each texel's LNS bits, where without it every channel is LNS (HDR); it
// also takes the blocks with an LNS endpoint above 0xF7FF (kInfoLnsHigh), the only ones whose
// texels can convert past the largest half, 0x7BFF, and need the clamp to it.
// The HDR loops without partitions or mixed LNS interpolate as astc.h lns_base says: each
// column's channels get their base and slope once, and each texel one IMAD a channel (and one
// more for the second plane, whose slope is 0 but for the plane-2 channel, where the first
// plane's is; no select), whose values pack in pairs with one PRMT. Their weight words are made
// with an IMAD by k.word (written with a constant, the compiler makes a PRMT of it): the kernel
// is bound by the ALU pipe, the FMA pipe has room. Against the same kernels with neither (an
// H200): HDR 1.02-1.08x. They convert without the clamp (astc.h lns_half2_below_max: 4 ALU
// instructions fewer a row of two texels): 0.99-1.02x (the kernels' speed moves by a few
// percent with where the compiler puts their code; docs/dev/astc_cuda.md).
constexpr int kNeedDual = 1, kNeedPartitions = 2, kNeedMixedLns = 4;
// In the kernels with fixed-alpha passes (kFixedAlphaPasses), a block also needs kNeedAlpha
// unless its alpha is fixed (kInfoAlphaFixed). A pass none of whose blocks needs it runs its
// loop (but for mixed LNS) with a fixed alpha: every texel's alpha is its block's one value,
// converted once before the rows, and each row converts the two texels' blues as one pair,
// three LNS conversions instead of four (HDR images of RGB, whose endpoint modes 2, 3, 7 and
// 11 fix alpha at 1.0, are nearly all such blocks); the other passes branch past that (18
// instructions more a loop). Against the same kernels without it (an H200): 1.00-1.04x on the
// synthetic images from 4x4 up, 1.02-1.03x on kodim23 from 8x8 up and 1.01x at 8x6, but
// 0.95-0.96x on kodim23 at 6x5, 6x6 and 10x5 and 0.99-1.00x at 4x4, 8x5 and 10x6 (not profiled:
// fewer instructions run there too). So the two-column HDR kernels from 8x6 up take it. (As
// loops of their own instead of a branch: kodim23 0.78-0.91x from 4x4 to 10x8.)
constexpr int kNeedAlpha = 8;
template <int kBw, int kBh, bool kHdr, int kCols>
constexpr bool kFixedAlphaPasses = kHdr && kCols == 2 && kBw >= 8 && kBh >= 6;

// What a block with `info` needs of the texel code (kNeed bits); a constant block nothing.
template <bool kHdr, bool kAlpha = false>
__device__ __forceinline__ int block_need(uint32_t info) {
  if (info & kInfoConstant) return 0;
  const int partitions = static_cast<int>((info >> 8) & 3) + 1;
  const uint32_t lns_mask = (1u << (2 * partitions)) - 1;
  const bool mixed_lns = kHdr && (((info >> kInfoLnsShift) & lns_mask) != lns_mask || (info & kInfoLnsHigh));
  return ((info & kInfoDual) ? kNeedDual : 0) | (partitions > 1 ? kNeedPartitions : 0) |
         (mixed_lns ? kNeedMixedLns : 0) | (kAlpha && !(info & kInfoAlphaFixed) ? kNeedAlpha : 0);
}

// Step 4's order of the span's blocks: sorted by what they need of the texel code (constant
// blocks last), so that more of its passes, each voting on its blocks' needs, run the simpler
// texel loops. The passes' stores then fall in more cache lines; that cost more than the sort
// saved in LDR (0.92-1.01x), 4x4 and 5-wide blocks, and paid in HDR from 6x5 up, whose texel
// loops differ most (an H200; 4x4 HDR with the base-and-slope loops 0.995-0.999x). The blocks
// move in units of
// kSortUnit, whose texel rows fill whole 32-byte sectors (single 10-wide blocks lost up to 7% on
// 10x10).
template <int kBw, int kBh, bool kHdr>
constexpr bool kSortBlocks = kHdr && kBw % 2 == 0 && kBw * kBh > 16;
template <int kBw>
constexpr int kSortUnit = kBw % 4 == 0 ? 1 : 2;

// A stable sort of the lanes' blocks (in units of kUnit lanes) by need, from the top bit down:
// per unit, the units whose key is below its key, and those equal to it so far.
template <bool kHdr, int kUnit>
__device__ __forceinline__ void sort_blocks(uint32_t info, int lane, uint8_t* order) {
  int key = (info & kInfoConstant) ? 8 : block_need<kHdr>(info);
#pragma unroll
  for (int d = 1; d < kUnit; d <<= 1) key |= __shfl_xor_sync(0xffffffffu, key, d);
  static_assert(kUnit == 1 || kUnit == 2, "units of one or two blocks");
  constexpr uint32_t kLeaders = kUnit == 1 ? 0xffffffffu : 0x55555555u;
  uint32_t below = 0, same = kLeaders;
#pragma unroll
  for (int bit = 8; bit > 0; bit >>= 1) {
    const uint32_t set = __ballot_sync(0xffffffffu, key & bit);
    if (key & bit) {
      below |= same & ~set;
      same &= set;
    } else {
      same &= ~set;
    }
  }
  const int leader = lane & ~(kUnit - 1);
  const int rank = __popc(below) + __popc(same & ((1u << leader) - 1));
  order[rank * kUnit + (lane - leader)] = static_cast<uint8_t>(lane);
}

// The OR of block_need over the lanes that decode texels (`inside` the image), one vote per
// need or, with kReduce, one OR reduction (sm_80 on). Both give the same; the reduction took
// less time in the kernels that sort their blocks (kSortBlocks: 1.01-1.05x on kodim23's HDR
// blocks) and more in the others (0.99-1.00x; an H200), so each kernel takes the faster.
template <bool kHdr, bool kReduce, bool kAlpha>
__device__ __forceinline__ int pass_need(uint32_t info, bool inside) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  if constexpr (kReduce) {
    return static_cast<int>(
        __reduce_or_sync(0xffffffffu, static_cast<uint32_t>(inside ? block_need<kHdr, kAlpha>(info) : 0)));
  }
#endif
  // (The votes keep their own expressions: written through block_need, these kernels' SASS
  // changed, and they were measured as they are.)
  const bool decoded = inside && !(info & kInfoConstant);
  const int partitions = static_cast<int>((info >> 8) & 3) + 1;
  const uint32_t lns_mask = (1u << (2 * partitions)) - 1;
  const bool mixed_lns = kHdr && (((info >> kInfoLnsShift) & lns_mask) != lns_mask || (info & kInfoLnsHigh));
  return (__any_sync(0xffffffffu, decoded && (info & kInfoDual)) ? kNeedDual : 0) |
         (__any_sync(0xffffffffu, decoded && partitions > 1) ? kNeedPartitions : 0) |
         (kHdr && __any_sync(0xffffffffu, decoded && mixed_lns) ? kNeedMixedLns : 0) |  // (LDR: no vote)
         (kAlpha && __any_sync(0xffffffffu, decoded && !(info & kInfoAlphaFixed)) ? kNeedAlpha : 0);
}

template <int kBw, int kBh, bool kHdr, int kNeed, int kCols>
__device__ __forceinline__ void texel_columns(const Span<kBw, kBh, kHdr>& s, const Tables& t, const TexelConstants& k,
                                              int block, int x, uint32_t pitch, uint32_t end, uint32_t info,
                                              bool fixed_alpha, char* dst) {
  using namespace astc_detail;
  constexpr bool kDual = kNeed & kNeedDual, kPartitions = kNeed & kNeedPartitions, kMixedLns = kNeed & kNeedMixedLns;
  // Fixed alpha takes two columns of one block, every channel LNS.
  constexpr bool kFixed = kFixedAlphaPasses<kBw, kBh, kHdr, kCols> && !kMixedLns;
  // Interpolation by base and slope (see above): HDR, no partitions, every channel LNS.
  constexpr bool kDirect = kHdr && !kPartitions && !kMixedLns;
  static_assert(!kFixed || kBw % 2 == 0, "fixed alpha: two columns of one block");
  constexpr int kPlane2 = Span<kBw, kBh, kHdr>::kPlane2;
  const int grid_w = info & 15, grid_h = (info >> 4) & 15;
  const int row_bytes = 2 * grid_w;  // one grid row of Span::pairs
  const int row_step = grid_step(kBh, grid_h);
  const uint32_t lns_all = info >> kInfoLnsShift;
  const uint4 lines = s.lines[block];
  const char* pairs[kCols];
  const char* factors[kCols];
  uint32_t scores[kCols];
  uint4 ends[kCols];
  uint32_t lns[kCols];
#pragma unroll
  for (int i = 0; i < kCols; ++i) {
    const GridCoord column = grid_coord(x + i, kBw, grid_w);
    pairs[i] = reinterpret_cast<const char*>(s.pairs[block] + column.j);
    factors[i] = reinterpret_cast<const char*>(&t.factors[0][column.f]);
    // Partition scores (mul_x[i] * x + mul_y[i] * y + add[i]) & 63, the four in the bytes of
    // one word: the column's (mul_x x + add) & 63 is made in two 16-bit halves (bytes 0, 2 and
    // 1, 3; at most 63 * 11 + 63), and each texel row adds the mul_y bytes (no carry: 63 + 63
    // < 256).
    scores[i] = 0;
    if (kPartitions) {
      const uint32_t even = ((lines.x & 0x00ff00ffu) * (x + i) + (lines.z & 0x00ff00ffu)) & 0x003f003fu;
      const uint32_t odd = (((lines.x >> 8) & 0x00ff00ffu) * (x + i) + ((lines.z >> 8) & 0x00ff00ffu)) & 0x003f003fu;
      scores[i] = even | (odd << 8);
    }
    ends[i] = s.ends.ends[0][block];
    lns[i] = lns_all;
  }
  // Which weight each channel reads (the second plane's channel reads weight2).
  const bool dual = info & kInfoDual;
  const int plane2 = dual ? static_cast<int>((info >> 10) & 3) : -1;
  const bool p0 = plane2 == 0, p1 = plane2 == 1, p2 = plane2 == 2, p3 = plane2 == 3;
  const int plane2_bytes = dual ? 2 * kPlane2 : 0;
  // kDirect: per column and channel the base, the slope on the first plane and on the second.
  uint32_t base[kCols][4], slope[kCols][4], slope2[kCols][4];
  if (kDirect) {
#pragma unroll
    for (int i = 0; i < kCols; ++i) {
      const uint32_t e[4] = {ends[i].x, ends[i].y, ends[i].z, ends[i].w};
#pragma unroll
      for (int c = 0; c < 4; ++c) {
        base[i][c] = lns_base(e[c]);
        const uint32_t d = lns_slope(e[c]);
        slope[i][c] = kDual && plane2 == c ? 0u : d;
        slope2[i][c] = kDual && plane2 == c ? d : 0u;
      }
    }
  }
  // A fixed alpha as half in both halves: the LNS conversion of the interpolation at weight 0
  // (every alpha endpoint one value: the same at every weight and partition).
  uint32_t alpha = 0;
  if (kFixed && fixed_alpha) {
    const uint32_t x = interpolate(ends[0].w, 64u, k);
    alpha = lns_interpolation_half2(x, x);
  }
  int position = 32;
  uint32_t at = 0;
#pragma unroll 1
  do {  // (rows >= 1: no test before the first row)
    const int factor_row = position & 0x3c0;  // row ft
    const int pair_row = (position >> 10) * row_bytes;
    uint2 v[kCols];
    uint32_t blue[kCols], alpha_weight[kCols];  // (kFixed; with kDirect, the blue and alpha interpolations)
#pragma unroll
    for (int i = 0; i < kCols; ++i) {
      const uint32_t f = *reinterpret_cast<const uint32_t*>(factors[i] + factor_row);
      const char* p = pairs[i] + pair_row;
      const uint32_t w = __dp4a(weight_word<kDirect>(p, row_bytes, k), f, k.eight) >> 4;
      const uint32_t wp = 64u + k.w255 * w;
      uint32_t wr = wp, wg = wp, wb = wp, wa = wp, w2 = 0;
      if (kDual) {
        w2 = __dp4a(weight_word<kDirect>(p + plane2_bytes, row_bytes, k), f, k.eight) >> 4;
        const uint32_t wp2 = 64u + k.w255 * w2;
        wr = p0 ? wp2 : wp;
        wg = p1 ? wp2 : wp;
        wb = p2 ? wp2 : wp;
        wa = p3 ? wp2 : wp;
      }
      if (kPartitions) {
        // Keys score << 2 | (3 - i): the largest is the highest score, ties going to the
        // lowest partition (as astc.h). Bytes 0, 2 against 1, 3 in 16-bit halves, then the
        // high half against the low (Hopper's 16x2 three-way max).
        const uint32_t keys = scores[i] * 4 + 0x00010203u;
        const uint32_t pair_max =
            __vimax3_u16x2(__byte_perm(keys, 0, 0x4240), __byte_perm(keys, 0, 0x4341), 0u);
        const uint32_t best = __vimax3_u16x2(pair_max, __byte_perm(pair_max, 0, 0x4432), 0u);
        const int part = static_cast<int>((best & 3) ^ 3);
        ends[i] = s.ends.ends[part][block];
        lns[i] = lns_all >> (2 * part);
        scores[i] = (scores[i] + lines.y) & 0x3f3f3f3fu;
      }
      if (kDirect) {
        uint32_t x[4];
#pragma unroll
        for (int c = 0; c < 4; ++c) x[c] = slope[i][c] * w + base[i][c] + (kDual ? slope2[i][c] * w2 : 0u);
        v[i].x = lns_pair<true>(x[0], x[1]);
        if (kFixed) {  // (the fixed-alpha step below)
          blue[i] = x[2];
          alpha_weight[i] = x[3];
        } else {
          v[i].y = lns_pair<true>(x[2], x[3]);
        }
      } else if (kFixed) {
        v[i].x = lns_interpolation_half2(interpolate(ends[i].x, wr, k), interpolate(ends[i].y, wg, k));
        blue[i] = interpolate(ends[i].z, wb, k);
        alpha_weight[i] = wa;
      } else {
        v[i] = texel_value<kHdr>(ends[i], wr, wg, wb, wa, kMixedLns ? lns[i] : 3u, k);
      }
    }
    if (kFixed) {
      if (fixed_alpha) {  // the two blues in one conversion, each beside the alpha
        const uint32_t blues = lns_pair<kDirect>(blue[0], blue[kCols - 1]);
        v[0].y = __byte_perm(blues, alpha, 0x5410);
        v[kCols - 1].y = __byte_perm(blues, alpha, 0x7632);
      } else {
#pragma unroll
        for (int i = 0; i < kCols; ++i) {
          v[i].y = lns_pair<kDirect>(blue[i], kDirect ? alpha_weight[i] : interpolate(ends[i].w, alpha_weight[i], k));
        }
      }
    }
    // Streaming stores: the texels are not read again (write-back stores: 0.99-1.00x).
    if (kCols == 1) {
      __stcs(reinterpret_cast<uint2*>(dst + at), v[0]);
    } else {  // two texels in one 16-byte store (launch_size: the row starts are 16-byte aligned)
      __stcs(reinterpret_cast<uint4*>(dst + at), make_uint4(v[0].x, v[0].y, v[kCols - 1].x, v[kCols - 1].y));
    }
    at += pitch;
    position += row_step;
  } while (at < end);
}

// Step 4 for one pass of a warp: this lane's kCols texel columns x .. of `block`, column
// `column` of the span (kCols = 2 needs 16-byte aligned rows).
template <int kBw, int kBh, bool kHdr, int kCols>
__device__ __forceinline__ void column_pass(const Span<kBw, kBh, kHdr>& s, const Tables& tables,
                                            const TexelConstants& k, int block, int x, int column, bool inside,
                                            uint32_t pitch, uint32_t end, char* row0) {
  const uint32_t info = s.block_info(block);
  // The pass's needs, voted over the lanes that decode texels (lanes of constant blocks and
  // past the image need nothing).
  const int need = pass_need<kHdr, kSortBlocks<kBw, kBh, kHdr>, kFixedAlphaPasses<kBw, kBh, kHdr, kCols>>(info, inside);
  const bool fixed_alpha = !(need & kNeedAlpha);  // (kFixedAlphaPasses)
  if (!inside) return;
  char* const dst = row0 + 8u * static_cast<uint32_t>(column);
  if (info & kInfoConstant) {
    const uint4 colour = s.lines[block];
#pragma unroll 1
    for (uint32_t at = 0; at < end; at += pitch) {
      if (kCols == 1) {
        __stcs(reinterpret_cast<uint2*>(dst + at), make_uint2(colour.x, colour.y));
      } else {
        __stcs(reinterpret_cast<uint4*>(dst + at), make_uint4(colour.x, colour.y, colour.x, colour.y));
      }
    }
    return;
  }
  switch (kFixedAlphaPasses<kBw, kBh, kHdr, kCols> ? need & ~kNeedAlpha : need) {
#define BCFEAT_ASTC_NEED(N)                                                                                 \
  case N:                                                                                                   \
    if constexpr (kHdr || (N) < kNeedMixedLns) {                                                          \
      texel_columns<kBw, kBh, kHdr, (N), kCols>(s, tables, k, block, x, pitch, end, info, fixed_alpha, dst); \
    }                                                                                                       \
    break;
    BCFEAT_ASTC_NEED(0)
    BCFEAT_ASTC_NEED(1)
    BCFEAT_ASTC_NEED(2)
    BCFEAT_ASTC_NEED(3)
    BCFEAT_ASTC_NEED(4)
    BCFEAT_ASTC_NEED(5)
    BCFEAT_ASTC_NEED(6)
    BCFEAT_ASTC_NEED(7)
#undef BCFEAT_ASTC_NEED
  }
}

// Step 4 for one warp: lane j takes kCols columns from kCols j, then 32 kCols further on, ...,
// of the span's kSpan * kBw columns, its blocks in Span::order where kSortBlocks (kCols = 2
// needs 16-byte aligned rows). With kCols = 2 and an odd kBw, each block's columns are cut
// into pairs that start at even texel columns (an even block: 0-1, 2-3, ..., then its last
// column alone; an odd block: its first column alone, then 1-2, 3-4, ...): the lanes take the
// pairs, kBw / 2 passes, then the single columns, one pass.
template <int kBw, int kBh, bool kHdr, int kCols>
__device__ __forceinline__ void span_texels(const Span<kBw, kBh, kHdr>& s, const Tables& tables,
                                            const TexelConstants& k, int lane, int x0, int rows, int width,
                                            char* row0) {
  // Texel rows by a 32-bit byte offset from the column's first texel, which also ends the row
  // loops: one add a row for the address (as a texel index into a 64-bit pointer it took four,
  // and a row count one more).
  const uint32_t pitch = 8u * static_cast<uint32_t>(width), end = pitch * static_cast<uint32_t>(rows);
  if constexpr (kCols == 2 && kBw % 2 == 1) {
    constexpr int kColumnPairs = kBw / 2;
#pragma unroll 1
    for (int j = 0; j < kColumnPairs; ++j) {
      const int unit = lane + 32 * j;
      const int block = unit / kColumnPairs;
      const int x = 2 * (unit - block * kColumnPairs) + (block & 1);
      const int column = block * kBw + x;
      column_pass<kBw, kBh, kHdr, 2>(s, tables, k, block, x, column, x0 + column < width, pitch, end, row0);
    }
    const int x = lane & 1 ? 0 : kBw - 1;
    const int column = lane * kBw + x;
    column_pass<kBw, kBh, kHdr, 1>(s, tables, k, lane, x, column, x0 + column < width, pitch, end, row0);
  } else {
#pragma unroll 1
    for (int j = 0; j < kBw / kCols; ++j) {
      // Column c of the span's blocks in step 4's order (Span::order), column `column` of the span.
      const int c = kCols * lane + 32 * kCols * j;
      const int nth = c / kBw;
      const int x = c - nth * kBw;
      const int block = kSortBlocks<kBw, kBh, kHdr> ? s.ends.order[nth] : nth;
      const int column = kSortBlocks<kBw, kBh, kHdr> ? block * kBw + x : c;
      column_pass<kBw, kBh, kHdr, kCols>(s, tables, k, block, x, column, x0 + column < width, pitch, end, row0);
    }
  }
}

template <int kBw, int kBh, bool kHdr, int kCols>
__global__ void __launch_bounds__(32 * kWarps)
    astc_decode_kernel(const uint4* __restrict__ blocks, int width, int height, int blocks_x, int blocks_y,
                       uint64_t spans_magic, const uint4* __restrict__ modes, const uint2* __restrict__ colour_ranges,
                       const uint4* __restrict__ lines,
                       TexelConstants k, uint2* __restrict__ out) {
  using namespace astc_detail;
  __shared__ Tables tables;
  using SpanT = Span<kBw, kBh, kHdr>;
  __shared__ CtaSpans<SpanT, kBw> spans;
  static_assert(sizeof(Tables) % 16 == 0, "Tables is copied as uint4");
  // decode_group writes the byte before a block's first pair; for block 0 that is the last
  // block's last colour byte, which no colour value reaches (at most 18 values).
  static_assert(offsetof(SpanT, pairs) == offsetof(SpanT, colour) + sizeof(SpanT::colour) && SpanT::kColourStride > 18,
                "the byte before Span::pairs must be an unused colour byte");
  // decode_group's 8-value stores: whole words at colour + 8 g and pairs + 16 g (+ 2 kPlane2),
  // 8-byte ones at pairs + 16 g where a block's pairs are whole 8-byte words.
  static_assert(SpanT::kPlain != 8 || (offsetof(SpanT, colour) % 8 == 0 && offsetof(SpanT, pairs) % 8 == 0 &&
                                       sizeof(SpanT::pairs[0]) % 4 == 0 && SpanT::kPlane2 % 4 == 0),
                "8-value groups store aligned words");
  // The tables, at most two 16-byte words a thread (straight-line: as a loop over blockDim.x
  // it took about 30 instructions a warp).
  constexpr int kTableWords = static_cast<int>(sizeof(Tables) / 16);
  static_assert(kTableWords <= 2 * 32 * kWarps, "two table words a thread");
#pragma unroll
  for (int i = static_cast<int>(threadIdx.x), n = 0; n < 2; i += 32 * kWarps, ++n) {
    if (i < kTableWords) reinterpret_cast<uint4*>(&tables)[i] = reinterpret_cast<const uint4*>(&device_tables)[i];
  }
  __syncthreads();

  const int lane = threadIdx.x & 31;
  SpanT& s = spans.span[threadIdx.x >> 5];
  const int spans_x = (blocks_x + kSpan - 1) / kSpan;
  const int units = spans_x * blocks_y;  // < 2^30 (launch_size checks)
  const int unit = blockIdx.x * kWarps + (threadIdx.x >> 5);  // launch_size: one span per warp
  if (unit >= units) return;
  // unit / spans_x as a multiply where launch_size found one exact for every unit (see there).
  const int by =
      spans_magic ? static_cast<int>((static_cast<uint64_t>(unit) * spans_magic) >> 40) : unit / spans_x;
  const int first = (unit - by * spans_x) * kSpan;

  // 1. Headers, one block per lane (astc.h decode_astc_header, with the block mode, the
  //    colour range and the partition lines from tables).
  uint4 raw = make_uint4(0, 0, 0, 0);
  const bool present = first + lane < blocks_x;
  if (present) raw = __ldcs(blocks + static_cast<int64_t>(by) * blocks_x + first + lane);
  uint4 line = make_uint4(0xffffffffu, 0xffffffffu, 0, 0);  // the error colour
  uint32_t info = kInfoConstant, colour_desc = 0, weight_desc = 0, group_bits = 0, cems = 0;
  int partitions = 1, colour_groups = 0, items = 0, colour_end = 0, weight_bits = 0;
  int colour_kind = 0, weight_kind = 0;  // of the two sequences: 0 bits, 1 trits, 2 quints
  const Bits bits = {raw.x | (static_cast<uint64_t>(raw.y) << 32), raw.z | (static_cast<uint64_t>(raw.w) << 32)};
  const uint32_t mode = raw.x & 0x7ff;
  if ((mode & 0x1ff) == 0x1fc) {  // void extent
    uint16_t c[4];
    decode_void_extent(bits, kHdr, c);
    line.x = c[0] | (static_cast<uint32_t>(c[1]) << 16);
    line.y = c[2] | (static_cast<uint32_t>(c[3]) << 16);
  } else {
    const uint4 m = __ldg(modes + mode);
    partitions = static_cast<int>((raw.x >> 11) & 3) + 1;
    const bool dual = m.x & kModeDual;
    weight_bits = static_cast<int>(m.x >> 16);
    const ColourLayout colour = colour_layout(bits, partitions, weight_bits, dual);
#pragma unroll
    for (int p = 0; p < 4; ++p) cems |= static_cast<uint32_t>(colour.cem[p]) << (4 * p);
    const int colour_values = colour.values;
    const uint2 fit =
        __ldg(colour_ranges + min(colour_values / 2 - 1, 8) * kColourBits + min(colour.available, kColourBits - 1));
    const bool legal = (m.x & kModeLegal) && !(dual && partitions == 4) && colour_values <= 18 && fit.y != 0xffffffffu;
    if (present && legal) {
      const int grid_w = m.x & 15, grid_h = (m.x >> 4) & 15;
      const int plane2 = dual ? static_cast<int>(bits_at(bits, colour.below - 2, 2)) : 0;
      colour_end = colour.start + static_cast<int>(fit.y >> 20);
      info = grid_w | (grid_h << 4) | ((partitions - 1) << 8) | (plane2 << 10) | (dual ? kInfoDual : 0);
      colour_desc = fit.x | static_cast<uint32_t>(colour.start);
      weight_desc = m.y;
      colour_groups = static_cast<int>(fit.y & 255);
      const uint32_t mode_groups = SpanT::kPlain == 8 ? m.w : m.z;
      items = colour_groups + static_cast<int>(mode_groups & 255);
      colour_kind = static_cast<int>((fit.y >> 16) & 3);
      weight_kind = static_cast<int>((mode_groups >> 16) & 3);
      group_bits = ((fit.y >> 8) & 255) | (mode_groups & 0xff00);
      // A one-partition block has zero lines: every score 0, so step 4 picks partition 0.
      line = make_uint4(0, 0, 0, 0);
      if (partitions > 1) {
        const int seed = static_cast<int>((raw.x >> 13) & 1023);
        line = __ldg(lines + (partitions - 2) * 1024 + seed);
      }
    } else {
      weight_bits = 0;
    }
  }
  s.set_lines(lane, line, info);
  const uint32_t words[4] = {raw.x, raw.y, raw.z, raw.w};
#pragma unroll
  for (int i = 0; i < 4; ++i) s.bits.words[lane][i] = bits_before(words[i], i, colour_end);
  s.bits.words[lane][4] = 0;
#pragma unroll
  for (int i = 0; i < 3; ++i) {
    s.bits.words[lane][SpanT::Sequences::kWeightWords + i] = bits_before(__brev(words[3 - i]), i, weight_bits);
  }
  s.bits.words[lane][SpanT::Sequences::kWeightWords + 3] = 0;  // (weight_bits <= 96)
  // The span's groups are ordered by kind (all blocks' groups of plain values, then of trit
  // blocks, then of quint blocks), so that the lanes of one step-2 pass mostly take the same
  // path. A prefix sum over the span counts each kind in its own 10 bits (at most 32 x 28
  // groups); each block marks its groups as its own (bit 7: a weight group).
  const int weight_groups = items - colour_groups;
  const uint32_t counts = (static_cast<uint32_t>(colour_groups) << (10 * colour_kind)) +
                          (static_cast<uint32_t>(weight_groups) << (10 * weight_kind));
  uint32_t sum = counts;
  for (int d = 1; d < 32; d <<= 1) {
    const uint32_t other = __shfl_up_sync(0xffffffffu, sum, d);
    if (lane >= d) sum += other;
  }
  const uint32_t totals = __shfl_sync(0xffffffffu, sum, 31), before = sum - counts;
  const int plain_total = static_cast<int>(totals & 1023), trit_total = static_cast<int>((totals >> 10) & 1023);
  const int total = plain_total + trit_total + static_cast<int>(totals >> 20);
  auto first_of_kind = [&](int kind) {
    return (kind > 0 ? plain_total : 0) + (kind > 1 ? trit_total : 0) +
           static_cast<int>((before >> (10 * kind)) & 1023);
  };
  const int colour_start = first_of_kind(colour_kind);
  const int weight_start = first_of_kind(weight_kind) + (weight_kind == colour_kind ? colour_groups : 0);
  s.bits.seq[lane] = make_uint4(colour_desc, weight_desc, static_cast<uint32_t>(colour_start | (weight_start << 16)),
                                group_bits);
  for (int q = 0; q < items; ++q) {
    const bool weight = q >= colour_groups;
    s.bits.owner[weight ? weight_start + q - colour_groups : colour_start + q] =
        static_cast<uint8_t>(lane | (weight ? 0x80 : 0));
  }
  __syncwarp();

  // 2. Colour values and weights of all blocks, one group per lane.
  for (int item = lane; item < total; item += 32) {
    const int owner = s.bits.owner[item];
    const int block = owner & 31;
    const bool weight = owner & 0x80;
    const uint4 seq = s.bits.seq[block];
    const int g = item - static_cast<int>(weight ? seq.z >> 16 : seq.z & 0xffff);
    decode_group<SpanT::kPlane2, SpanT::kPlain, 2 * SpanT::kPairs>(
        s.bits.words[block] + (weight ? SpanT::Sequences::kWeightWords : 0), weight ? seq.y : seq.x,
        static_cast<int>(weight ? seq.w >> 8 : seq.w & 0xff), g, tables,
        weight ? reinterpret_cast<uint8_t*>(s.pairs[block]) : s.colour[block], weight);
  }
  __syncwarp();

  // 3. Endpoints, one block per lane.
  if (items > 0) {
    uint32_t lns = 0;
    bool alpha_fixed = true;  // (every alpha endpoint equal to partition 0's e0)
    uint32_t alpha = 0;
    uint32_t high = 0;  // (kInfoLnsHigh)
    int offset = 0;
    for (int p = 0; p < partitions; ++p) {
      const int cem = static_cast<int>((cems >> (4 * p)) & 15);
      const Endpoints ep = endpoints_from(cem, s.colour[lane] + offset, kHdr);
      offset += 2 * ((cem >> 2) + 1);
      uint32_t e[4];
      for (int c = 0; c < 4; ++c) e[c] = static_cast<uint32_t>(ep.e0[c]) | (static_cast<uint32_t>(ep.e1[c]) << 16);
      s.ends.ends[p][lane] = make_uint4(e[0], e[1], e[2], e[3]);
      lns |= static_cast<uint32_t>((ep.rgb_hdr ? 1 : 0) | (ep.alpha_hdr ? 2 : 0)) << (2 * p);
      if (p == 0) alpha = ep.e0[3];
      alpha_fixed = alpha_fixed && ep.e0[3] == alpha && ep.e1[3] == alpha;
      if (kHdr) {  // the largest LNS endpoint of each end, as 16-bit pairs
        const uint32_t rgb = __vmaxu2(__vmaxu2(e[0], e[1]), e[2]);
        high = __vmaxu2(high, __vmaxu2(ep.rgb_hdr ? rgb : 0u, ep.alpha_hdr ? e[3] : 0u));
      }
    }
    info |= lns << kInfoLnsShift;
    if (kHdr && __vcmpgtu2(high, 0xf7fff7ffu) != 0) info |= kInfoLnsHigh;
    if (kFixedAlphaPasses<kBw, kBh, kHdr, kCols> && alpha_fixed) info |= kInfoAlphaFixed;
    s.set_info(lane, info);
  }
  if constexpr (kSortBlocks<kBw, kBh, kHdr>) sort_blocks<kHdr, kSortUnit<kBw>>(info, lane, s.ends.order);
  __syncwarp();

  // 4. Texels, kCols columns a lane (launch_size: 2 where the image width is even, so that the
  //    rows are 16-byte aligned, and the block width too but for LDR 5x4).
  const int x0 = first * kBw;
  const int rows = min(kBh, height - by * kBh);
  uint2* row0 = out + static_cast<int64_t>(by) * kBh * width + x0;
  span_texels<kBw, kBh, kHdr, kCols>(s, tables, k, lane, x0, rows, width, reinterpret_cast<char*>(row0));
}

template <int kBw, int kBh>
void launch_size(const uint4* in, int width, int height, bool hdr, uint2* out, cudaStream_t stream) {
  const int blocks_x = (width + kBw - 1) / kBw;
  const int blocks_y = (height + kBh - 1) / kBh;
  const int64_t units = static_cast<int64_t>((blocks_x + kSpan - 1) / kSpan) * blocks_y;
  // The kernel counts units in int; 2^30 units would be at least 2^42 bytes of output (4x4
  // blocks), far past any GPU.
  if (units >= (int64_t{1} << 30)) throw std::invalid_argument("ASTC image too large for the CUDA decoder");
  // Step 4 addresses a span's texel rows in 32-bit byte offsets (at most 8 * 12 * width); an
  // .astc file holds at most 2^24 - 1.
  if (width > (1 << 24)) throw std::invalid_argument("ASTC image wider than 2^24 texels for the CUDA decoder");
  upload_tables();
  constexpr int size = size_index(kBw, kBh);
  static_assert(size >= 0, "a block size without a block-mode table");
  uint4* modes = nullptr;
  uint2* colour_ranges = nullptr;
  uint4* lines = nullptr;
  check_cuda(cudaGetSymbolAddress(reinterpret_cast<void**>(&modes), device_modes), "ASTC block-mode table address");
  check_cuda(cudaGetSymbolAddress(reinterpret_cast<void**>(&colour_ranges), device_colour_ranges),
             "ASTC colour-range table address");
  check_cuda(cudaGetSymbolAddress(reinterpret_cast<void**>(&lines), device_lines), "ASTC partition table address");
  const bool small_block = kBw * kBh < 31;
  // One kernel per texel-column count, so that each holds only the texel code it runs (the
  // instruction cache is a limit: fully unrolled texel rows took up to 2.3x as long). Two
  // columns a lane where the image width is even, for even block widths and LDR 5x4 (column
  // pairs cut as span_texels says: 1.01x there, but 0.91-0.98x for LDR 5x5 and 0.95-1.01x for
  // HDR 5xN, whose kernels then hold both column counts' texel code; HDR 5xN again 0.96-1.00x
  // with the base-and-slope loops).
  constexpr int kColsLdr = kBw % 2 == 0 || (kBw == 5 && kBh == 4) ? 2 : 1;
  constexpr int kColsHdr = kBw % 2 == 0 ? 2 : 1;
  const bool pairs = width % 2 == 0;
  auto kernel = hdr ? (pairs ? astc_decode_kernel<kBw, kBh, true, kColsHdr> : astc_decode_kernel<kBw, kBh, true, 1>)
                    : (pairs ? astc_decode_kernel<kBw, kBh, false, kColsLdr> : astc_decode_kernel<kBw, kBh, false, 1>);
  // One span per warp: CTAs are many and short, so the hardware hands SMs new ones as old ones
  // finish and the spans' uneven costs even out. (Persistent CTAs walking the spans, as before,
  // left SMs idle behind their slowest warps and took 1.05-1.15x as long on kodim23,
  // results/reference/astc_cuda_units_h200.txt.) Each CTA copies the tables once, 3.3 KB.
  const int grid = static_cast<int>((units + kWarps - 1) / kWarps);
  // The kernel's unit / spans_x as (unit * m) >> 40 with m = ceil(2^40 / spans_x) = (2^40 + r) /
  // spans_x, r < spans_x: unit m / 2^40 = unit / spans_x + unit r / (spans_x 2^40), which keeps
  // the floor while unit r < 2^40, so for every unit when units * spans_x <= 2^40; and unit m <
  // (blocks_y + 1) 2^40 stays inside 64 bits. Otherwise (0) the kernel divides.
  const int64_t spans_x = (blocks_x + kSpan - 1) / kSpan;
  const uint64_t spans_magic = units * spans_x <= (int64_t{1} << 40) && blocks_y < (1 << 23)
                                   ? ((uint64_t{1} << 40) + spans_x - 1) / spans_x
                                   : 0;
  kernel<<<grid, 32 * kWarps, 0, stream>>>(in, width, height, blocks_x, blocks_y, spans_magic, modes + size * 2048,
                                           colour_ranges + (plain_values(kBw, kBh, hdr) == 8 ? 9 * kColourBits : 0),
                                           lines + (small_block ? 3 * 1024 : 0),
                                           TexelConstants{kInterpolationBias, 255u, 8u, 1.0f / 4194304.0f,
                                                          1.0f + 1.0f / 65536.0f, 1.0f / 268435456.0f, 65536u},
                                           out);
}

void launch(const FormatInfo& f, const uint8_t* blocks, int width, int height, bool hdr, uint16_t* out,
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

std::vector<uint16_t> astc_decode_half_cuda(const FormatInfo& format, Profile profile, const uint8_t* blocks,
                                            int width, int height) {
  require_gpu();
  const size_t in_bytes = static_cast<size_t>(compressed_size(format, width, height));
  const size_t texels = static_cast<size_t>(width) * height;
  DeviceBuffer<uint8_t> d_in(in_bytes);
  DeviceBuffer<uint16_t> d_out(texels * 4);
  check_cuda(cudaMemcpy(d_in.data, blocks, in_bytes, cudaMemcpyHostToDevice), "copy blocks to the GPU");
  launch(format, d_in.data, width, height, profile == Profile::kHdr, d_out.data, nullptr);
  check_cuda(cudaGetLastError(), "ASTC decode launch");
  std::vector<uint16_t> out(texels * 4);
  check_cuda(cudaMemcpy(out.data(), d_out.data, texels * 8, cudaMemcpyDeviceToHost), "copy texels from the GPU");
  return out;
}

namespace {

__global__ void half_to_float_kernel(const uint16_t* in, int64_t count, float* out) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < count) out[i] = __half2float(__ushort_as_half(in[i]));
}

}  // namespace

void astc_decode_device(const FormatInfo& format, Backend backend, const uint8_t* blocks, int width, int height,
                        const CodecSettings& settings, float* texels, CudaStream stream) {
  if (backend != Backend::kCuda) throw std::invalid_argument(std::string(format.name) + " has no texture-unit decoder");
  require_gpu();
  const auto cuda_stream = static_cast<cudaStream_t>(stream);
  const int64_t count = static_cast<int64_t>(width) * height * 4;
  uint16_t* halves = nullptr;
  check_cuda(cudaMallocAsync(reinterpret_cast<void**>(&halves), count * sizeof(uint16_t), cuda_stream), "cudaMallocAsync");
  // The kernel reads 16-byte words: blocks off that alignment (inside a stream) are copied first.
  uint8_t* aligned = nullptr;
  if (reinterpret_cast<uintptr_t>(blocks) % 16 != 0) {
    const size_t bytes = static_cast<size_t>(compressed_size(format, width, height));
    check_cuda(cudaMallocAsync(reinterpret_cast<void**>(&aligned), bytes, cuda_stream), "cudaMallocAsync");
    check_cuda(cudaMemcpyAsync(aligned, blocks, bytes, cudaMemcpyDeviceToDevice, cuda_stream), "copy blocks");
    blocks = aligned;
  }
  launch(format, blocks, width, height, settings.profile == Profile::kHdr, halves, cuda_stream);
  check_cuda(cudaGetLastError(), "ASTC decode launch");
  half_to_float_kernel<<<static_cast<unsigned>((count + 255) / 256), 256, 0, cuda_stream>>>(halves, count, texels);
  check_cuda(cudaGetLastError(), "half to float launch");
  check_cuda(cudaFreeAsync(halves, cuda_stream), "cudaFreeAsync");
  if (aligned) check_cuda(cudaFreeAsync(aligned, cuda_stream), "cudaFreeAsync");
}

CudaTiming astc_time_decode_cuda(const FormatInfo& format, Backend backend, const uint8_t* blocks, int width,
                                 int height, const CodecSettings& settings, int repetitions) {
  if (backend != Backend::kCuda) throw std::invalid_argument(std::string(format.name) + " has no texture-unit decoder");
  require_gpu();
  CudaTiming timing;
  timing.bytes_read = compressed_size(format, width, height);
  timing.bytes_written = static_cast<int64_t>(width) * height * 8;  // half RGBA
  DeviceBuffer<uint8_t> d_in(static_cast<size_t>(timing.bytes_read));
  DeviceBuffer<uint16_t> d_out(static_cast<size_t>(width) * height * 4);
  check_cuda(cudaMemcpy(d_in.data, blocks, timing.bytes_read, cudaMemcpyHostToDevice), "copy blocks to the GPU");
  const bool hdr = settings.profile == Profile::kHdr;
  timing.seconds =
      time_cuda(repetitions, [&] { launch(format, d_in.data, width, height, hdr, d_out.data, nullptr); });
  return timing;
}

}  // namespace bcfeat
