// Attention that reads compressed K/V (kv_attention.h), in the four layers: kernels → launchers
// on raw pointers and a stream → switch from the codec, backend, type and query count to
// template parameters → host entry that checks the request.
//
// One CTA (128 threads, 4 warps) takes one (image, head) pair and one range of its keys
// (split-K when pairs alone do not fill the GPU; a second kernel combines the ranges' partial
// softmax sums, as flash-decoding does). It walks the range in tiles of 64 keys:
//   1. stage: the tile's K and V blocks are decoded into shared memory in the activation type
//      (software: each thread decodes whole 4x4 blocks with the same block code as the CPU;
//      texture: each thread fetches texels through the texture units, whose cache then holds
//      compressed data; int: 32-bit words of codes), the value maps applied on the way;
//   2. scores: each warp takes keys, its lanes 4 channels each, a shuffle reduction per query;
//   3. online softmax per query (running max and sum, rescaling the accumulators);
//   4. P·V: each thread accumulates one channel for its queries in registers.
// Scores and sums are float32; K, V and q are staged in fp16 or bf16 exactly as an unfused
// decode-then-SDPA would hold them.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "bcfeat/kernels/codec.h"
#include "bcfeat/kernels/kv_attention.h"
#include "block_access.h"
#include "blocks/block_codec.h"
#include "cuda_util.cuh"
#include "texture_units.cuh"

namespace bcfeat {

namespace {

using cuda_util::allow_shared;
using cuda_util::check_cuda;
using cuda_util::require_gpu;

constexpr int kThreads = 128;
constexpr int kWarps = kThreads / 32;
constexpr int kTile = 64;  // keys per tile: 16 block rows

enum class Source : int { kBlocks, kTexture, kInt4, kInt8 };

// What a kernel needs of one of K or V.
struct KvView {
  const uint8_t* data;
  const uint16_t* side;
  cudaTextureObject_t texture;
  int tokens, dim, slots, groups, blocks_x, padded_tokens;
  int64_t blocks_per_pair, row_bytes, maps_per_pair;
  int group, map_groups, pairs_per_band;
  bool keys, affine;
};

KvView view_of(const DeviceKv& kv) {
  const KvLayout& l = kv.layout();
  KvView v{};
  v.data = kv.data();
  v.side = kv.side();
  v.texture = static_cast<cudaTextureObject_t>(kv.texture());
  v.tokens = l.shape.tokens;
  v.dim = l.shape.dim;
  v.slots = l.slots;
  v.groups = l.groups;
  v.blocks_x = l.blocks_x;
  v.padded_tokens = l.padded_tokens;
  v.blocks_per_pair = l.is_block() ? l.blocks_per_pair() : 0;
  v.row_bytes = l.is_block() ? 0 : l.bytes_per_token_int();
  v.maps_per_pair = l.maps_per_pair();
  v.group = l.group;
  v.map_groups = l.map_groups;
  v.pairs_per_band = kv.pairs_per_band();
  v.keys = l.role == KvRole::kKeys;
  v.affine = l.is_block() ? l.map == MapKind::kAffine : true;
  return v;
}

template <class T> __device__ __forceinline__ T from_float(float v);
template <> __device__ __forceinline__ __half from_float<__half>(float v) { return __float2half_rn(v); }
template <> __device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }
__device__ __forceinline__ float to_float(__half v) { return __half2float(v); }
__device__ __forceinline__ float to_float(__nv_bfloat16 v) { return __bfloat162float(v); }

__device__ __forceinline__ float half_at(const uint16_t* p) { return __half2float(__ushort_as_half(p[0])); }

// The value of channel d of token t (a pair's) from its texel value: low + unit · step.
__device__ __forceinline__ float block_value(const KvView& kv, const uint16_t* maps, int t, int d, float unit) {
  if (!kv.affine) return unit;
  const uint16_t* m = maps + 2 * (kv.keys ? d : min(t, kv.tokens - 1));
  return half_at(m) + unit * half_at(m + 1);
}

// Stages tokens [t0, t0 + count) of pair `pair` into rows [0, count) of `out` (row stride dim).
template <Source kSource, FormatId kFormat, int kBytes, class T>
__device__ __forceinline__ void stage_tile(const KvView& kv, int64_t pair, int t0, int count, T* out) {
  const uint16_t* maps = kv.side + pair * kv.maps_per_pair * 2;
  if constexpr (kSource == Source::kBlocks) {
    const int by0 = t0 / 4;
    const int rows = (count + 3) / 4;
    const uint8_t* blocks = kv.data + pair * kv.blocks_per_pair * kBytes;
    for (int i = threadIdx.x; i < rows * kv.blocks_x; i += blockDim.x) {
      const int r = i / kv.blocks_x, bx = i % kv.blocks_x;
      uint8_t bytes[kBytes];
      load_block<kBytes, true>(blocks, static_cast<int64_t>(by0 + r) * kv.blocks_x + bx, bytes);
      float texels[16][4];
      decode_block(kFormat, bytes, texels);
#pragma unroll
      for (int k = 0; k < 16; ++k) {
        const int t = r * 4 + (k >> 2), g = bx * 4 + (k & 3);
        if (t >= count || g >= kv.groups) continue;
#pragma unroll
        for (int c = 0; c < 4; ++c) {
          const int d = g * kv.slots + c;
          if (c >= kv.slots || d >= kv.dim) break;
          out[t * kv.dim + d] = from_float<T>(block_value(kv, maps, t0 + t, d, texels[k][c]));
        }
      }
    }
  } else if constexpr (kSource == Source::kTexture) {
    const int band = static_cast<int>(pair / kv.pairs_per_band), column = static_cast<int>(pair % kv.pairs_per_band);
    const float x0 = static_cast<float>(column * kv.blocks_x * 4) + 0.5f;
    const float y0 = static_cast<float>(band * kv.padded_tokens + t0) + 0.5f;
    for (int i = threadIdx.x; i < count * kv.groups; i += blockDim.x) {
      const int t = i / kv.groups, g = i % kv.groups;
      const float4 f = tex2D<float4>(kv.texture, x0 + static_cast<float>(g), y0 + static_cast<float>(t));
      const float texel[4] = {f.x, f.y, f.z, f.w};
#pragma unroll
      for (int c = 0; c < 4; ++c) {
        const int d = g * kv.slots + c;
        if (c >= kv.slots || d >= kv.dim) break;
        out[t * kv.dim + d] = from_float<T>(block_value(kv, maps, t0 + t, d, texel[c]));
      }
    }
  } else {
    constexpr int kBits = kSource == Source::kInt4 ? 4 : 8;
    constexpr int kPerWord = 32 / kBits;
    const int words = static_cast<int>(kv.row_bytes / 4);
    const uint32_t* codes = reinterpret_cast<const uint32_t*>(kv.data + (pair * kv.tokens + t0) * kv.row_bytes);
    for (int i = threadIdx.x; i < count * words; i += blockDim.x) {
      const int t = i / words, w = i % words;
      const uint32_t word = codes[static_cast<int64_t>(t) * words + w];
      const int token = t0 + t;
#pragma unroll
      for (int j = 0; j < kPerWord; ++j) {
        const int d = w * kPerWord + j;
        const int code = static_cast<int>((word >> (kBits * j)) & ((1u << kBits) - 1));
        const int64_t m = kv.keys ? static_cast<int64_t>(token / kv.group) * kv.dim + d
                                  : static_cast<int64_t>(token) * kv.map_groups + d / kv.group;
        out[t * kv.dim + d] = from_float<T>(half_at(maps + 2 * m) + static_cast<float>(code) * half_at(maps + 2 * m + 1));
      }
    }
  }
}

struct AttentionArgs {
  int heads, queries, dim, tokens, splits, tiles_per_split;
  float scale;
  const void* q;
  void* out;
  const uint8_t* padding;
  float* partial;  // splits > 1: [splits][pairs][queries][dim] sums, then [splits][pairs][queries] max, sum
  KvView k, v;
};

__device__ __forceinline__ float warp_sum(float x) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) x += __shfl_xor_sync(0xffffffffu, x, o);
  return x;
}
__device__ __forceinline__ float warp_max(float x) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, o));
  return x;
}

// Shared memory: q [queries][dim] float, K and V tiles [kTile][dim] T, scores [queries][kTile],
// then running max, sum and rescale factor per query.
template <class T>
size_t attention_shared_bytes(int queries, int dim) {
  return static_cast<size_t>(queries) * dim * 4 + 2 * static_cast<size_t>(kTile) * dim * sizeof(T) +
         static_cast<size_t>(queries) * kTile * 4 + 3 * static_cast<size_t>(queries) * 4;
}

template <Source kSource, FormatId kFormat, int kBytes, class T, int kMaxQ>
__global__ void __launch_bounds__(kThreads) kv_attention_kernel(AttentionArgs a) {
  extern __shared__ __align__(16) char shared[];
  const int nq = a.queries, dim = a.dim;
  float* qs = reinterpret_cast<float*>(shared);
  T* ks = reinterpret_cast<T*>(qs + nq * dim);
  T* vs = ks + kTile * dim;
  float* scores = reinterpret_cast<float*>(vs + kTile * dim);
  float* run_max = scores + nq * kTile;
  float* run_sum = run_max + nq;
  float* rescale = run_sum + nq;

  const int split = blockIdx.x;
  const int64_t pair = blockIdx.y;
  const int64_t pairs = gridDim.y;
  const int batch_index = static_cast<int>(pair / a.heads);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const T* q = static_cast<const T*>(a.q) + pair * nq * dim;
  for (int i = threadIdx.x; i < nq * dim; i += kThreads) qs[i] = to_float(q[i]);
  for (int i = threadIdx.x; i < nq; i += kThreads) run_max[i] = -INFINITY, run_sum[i] = 0.0f;

  // P·V ownership: channel `channel` for queries q_first, q_first + q_stride, ...
  const int q_stride = kThreads / dim;
  const int channel = threadIdx.x % dim, q_first = threadIdx.x / dim;
  const bool owns = threadIdx.x < q_stride * dim;
  float acc[kMaxQ];
#pragma unroll
  for (int j = 0; j < kMaxQ; ++j) acc[j] = 0.0f;

  const int first_tile = split * a.tiles_per_split;
  const int last_tile = min(first_tile + a.tiles_per_split, (a.tokens + kTile - 1) / kTile);
  for (int tile = first_tile; tile < last_tile; ++tile) {
    const int t0 = tile * kTile;
    const int count = min(kTile, a.tokens - t0);
    __syncthreads();  // the previous tile's P·V is done with ks, vs and scores
    stage_tile<kSource, kFormat, kBytes, T>(a.k, pair, t0, count, ks);
    stage_tile<kSource, kFormat, kBytes, T>(a.v, pair, t0, count, vs);
    __syncthreads();
    // Scores: warp `warp` takes keys warp, warp + 4, ...; lane l holds channels 4l .. 4l + 3.
    const int c0 = lane * 4;
    for (int t = warp; t < count; t += kWarps) {
      float k4[4] = {0.0f, 0.0f, 0.0f, 0.0f};
      if (c0 < dim) {
#pragma unroll
        for (int c = 0; c < 4; ++c) k4[c] = to_float(ks[t * dim + c0 + c]);
      }
      const bool ignored = a.padding && a.padding[static_cast<int64_t>(batch_index) * a.tokens + t0 + t];
      for (int i = 0; i < nq; ++i) {
        float partial = 0.0f;
        if (c0 < dim) {
#pragma unroll
          for (int c = 0; c < 4; ++c) partial += qs[i * dim + c0 + c] * k4[c];
        }
        partial = warp_sum(partial);
        if (lane == 0) scores[i * kTile + t] = ignored ? -INFINITY : partial * a.scale;
      }
    }
    __syncthreads();
    // Online softmax: warp `warp` takes queries warp, warp + 4, ...
    for (int i = warp; i < nq; i += kWarps) {
      const float s0 = lane < count ? scores[i * kTile + lane] : -INFINITY;
      const float s1 = lane + 32 < count ? scores[i * kTile + lane + 32] : -INFINITY;
      const float old_max = run_max[i];
      const float new_max = fmaxf(old_max, warp_max(fmaxf(s0, s1)));
      float p0 = 0.0f, p1 = 0.0f, factor = 1.0f;
      if (new_max != -INFINITY) {
        p0 = __expf(s0 - new_max);
        p1 = __expf(s1 - new_max);
        factor = __expf(old_max - new_max);
      }
      const float total = warp_sum(p0 + p1);
      if (lane < count) scores[i * kTile + lane] = p0;
      if (lane + 32 < count) scores[i * kTile + lane + 32] = p1;
      __syncwarp();
      if (lane == 0) {
        run_sum[i] = run_sum[i] * factor + total;
        run_max[i] = new_max;
        rescale[i] = factor;
      }
    }
    __syncthreads();
    if (owns) {
#pragma unroll
      for (int j = 0; j < kMaxQ; ++j) {
        const int i = q_first + j * q_stride;
        if (i < nq) acc[j] *= rescale[i];
      }
      for (int t = 0; t < count; ++t) {
        const float value = to_float(vs[t * dim + channel]);
#pragma unroll
        for (int j = 0; j < kMaxQ; ++j) {
          const int i = q_first + j * q_stride;
          if (i < nq) acc[j] += scores[i * kTile + t] * value;
        }
      }
    }
  }
  __syncthreads();
  if (!owns) return;
#pragma unroll
  for (int j = 0; j < kMaxQ; ++j) {
    const int i = q_first + j * q_stride;
    if (i >= nq) continue;
    if (a.splits == 1) {
      const float total = run_sum[i];
      static_cast<T*>(a.out)[(pair * nq + i) * dim + channel] = from_float<T>(total > 0.0f ? acc[j] / total : 0.0f);
    } else {
      const int64_t row = (static_cast<int64_t>(split) * pairs + pair) * nq + i;
      a.partial[row * dim + channel] = acc[j];
      if (channel == 0) {
        float* stats = a.partial + static_cast<int64_t>(a.splits) * pairs * nq * dim;
        stats[2 * row] = run_max[i];
        stats[2 * row + 1] = run_sum[i];
      }
    }
  }
}

// Combines the key ranges' partial results of one (pair, query) row: thread = channel.
template <class T>
__global__ void combine_splits_kernel(const float* partial, int splits, int64_t rows, int dim, T* out) {
  const int64_t row = blockIdx.x;
  const float* stats = partial + static_cast<int64_t>(splits) * rows * dim;
  float best = -INFINITY;
  for (int s = 0; s < splits; ++s) best = fmaxf(best, stats[2 * (s * rows + row)]);
  for (int c = threadIdx.x; c < dim; c += blockDim.x) {
    float total = 0.0f, sum = 0.0f;
    if (best != -INFINITY) {
      for (int s = 0; s < splits; ++s) {
        const float m = stats[2 * (s * rows + row)];
        if (m == -INFINITY) continue;
        const float w = __expf(m - best);
        total += stats[2 * (s * rows + row) + 1] * w;
        sum += partial[(s * rows + row) * dim + c] * w;
      }
    }
    out[row * dim + c] = from_float<T>(total > 0.0f ? sum / total : 0.0f);
  }
}

// Decodes 64 tokens of one pair into shared memory, then writes their rows with 16-byte stores.
template <Source kSource, FormatId kFormat, int kBytes, class T>
__global__ void __launch_bounds__(kThreads) decode_kv_kernel(KvView kv, T* out) {
  extern __shared__ __align__(16) char shared[];
  T* tile = reinterpret_cast<T*>(shared);
  const int t0 = blockIdx.x * kTile;
  const int64_t pair = blockIdx.y;
  const int count = min(kTile, kv.tokens - t0);
  stage_tile<kSource, kFormat, kBytes, T>(kv, pair, t0, count, tile);
  __syncthreads();
  T* rows = out + (pair * kv.tokens + t0) * kv.dim;
  const int elements = count * kv.dim;
  if (kv.dim % 8 == 0) {  // rows start 16-byte aligned
    for (int i = threadIdx.x; i < elements / 8; i += blockDim.x) {
      reinterpret_cast<uint4*>(rows)[i] = reinterpret_cast<const uint4*>(tile)[i];
    }
  } else {
    for (int i = threadIdx.x; i < elements; i += blockDim.x) rows[i] = tile[i];
  }
}

// ---- decode regime (at most kChunkQueries queries): warps walk 4-token chunks, no staging ----
//
// A warp's lanes form segments of W lanes (W: the power of two ≥ the blocks across a token row,
// or for int the 8-channel words across it); a segment takes one chunk (4 tokens) at a time and
// lane x of it the chunk's block (or words) at column x: kCw = 4·slots (int: 8) channels of the
// 4 tokens. The key maps are folded into the lane's slice of the query (q·scale·log2e·step and
// a bias q·scale·log2e·low), so a lane's partial scores are dot products of texel values; the
// segment reduces them by xor shuffles, every lane updates the same online softmax (base 2), and
// the value maps are folded into the weights (p·step, and p·low summed apart). Each lane keeps
// its channels' sums in registers; the segments of a CTA are combined in shared memory at the end.
constexpr int kChunkQueries = 4;

template <Source kSource, FormatId kFormat, int kBytes, int kSlots>
struct ChunkCodec {
  static constexpr bool kInt = kSource == Source::kInt4 || kSource == Source::kInt8;
  static constexpr int kCw = kInt ? 8 : 4 * kSlots;  // channels a lane holds
  // The lane's raw bytes of one chunk (block formats: one block; int: 4 tokens' codes).
  struct Raw {
    uint32_t w[kInt ? (kSource == Source::kInt4 ? 4 : 8) : (kBytes > 0 ? kBytes / 4 : 1)];
  };
  __device__ __forceinline__ static void load(const KvView& kv, int64_t pair, int chunk, int column, Raw& raw) {
    if constexpr (kSource == Source::kBlocks) {
      const uint8_t* block = kv.data + (pair * kv.blocks_per_pair + static_cast<int64_t>(chunk) * kv.blocks_x + column) * kBytes;
      if constexpr (kBytes == 8) {
        const uint2 v = *reinterpret_cast<const uint2*>(block);
        raw.w[0] = v.x, raw.w[1] = v.y;
      } else {
        const uint4 v = *reinterpret_cast<const uint4*>(block);
        raw.w[0] = v.x, raw.w[1] = v.y, raw.w[2] = v.z, raw.w[3] = v.w;
      }
    } else if constexpr (kInt) {
      constexpr int kWords = kSource == Source::kInt4 ? 1 : 2;
#pragma unroll
      for (int y = 0; y < 4; ++y) {
        const int t = min(chunk * 4 + y, kv.tokens - 1);
        const uint32_t* row = reinterpret_cast<const uint32_t*>(kv.data + (pair * kv.tokens + t) * kv.row_bytes);
#pragma unroll
        for (int k = 0; k < kWords; ++k) raw.w[y * kWords + k] = row[column * kWords + k];
      }
    }
  }
  // Values (unit domain for mapped blocks, codes for int) of the lane's kCw channels of the 4 tokens.
  __device__ __forceinline__ static void values(const KvView& kv, int64_t pair, int chunk, int column, const Raw& raw,
                                                float out[4][kCw]) {
    if constexpr (kInt) {
      constexpr int kBits = kSource == Source::kInt4 ? 4 : 8;
#pragma unroll
      for (int y = 0; y < 4; ++y) {
#pragma unroll
        for (int c = 0; c < 8; ++c) {
          const uint32_t word = raw.w[y * (8 * kBits / 32) + c * kBits / 32];
          out[y][c] = static_cast<float>((word >> ((c * kBits) % 32)) & ((1u << kBits) - 1));
        }
      }
    } else {
      float texels[16][4];
      if constexpr (kSource == Source::kBlocks) {
        decode_block(kFormat, reinterpret_cast<const uint8_t*>(raw.w), texels);
      } else {
        const int band = static_cast<int>(pair / kv.pairs_per_band), slot = static_cast<int>(pair % kv.pairs_per_band);
        const float x0 = static_cast<float>((slot * kv.blocks_x + column) * 4) + 0.5f;
        const float y0 = static_cast<float>(band * kv.padded_tokens + chunk * 4) + 0.5f;
#pragma unroll
        for (int i = 0; i < 16; ++i) {
          const float4 f = tex2D<float4>(kv.texture, x0 + static_cast<float>(i & 3), y0 + static_cast<float>(i >> 2));
          texels[i][0] = f.x, texels[i][1] = f.y, texels[i][2] = f.z, texels[i][3] = f.w;
        }
      }
#pragma unroll
      for (int y = 0; y < 4; ++y) {
#pragma unroll
        for (int x = 0; x < 4; ++x) {
#pragma unroll
          for (int c = 0; c < kSlots; ++c) out[y][x * kSlots + c] = texels[y * 4 + x][c];
        }
      }
    }
  }
};

struct ChunkArgs {
  int heads, queries, dim, tokens, chunks, chunks_per_split, splits, width;  // width: segment lanes W
  float scale;  // softmax scale · log2(e)
  const void* q;
  void* out;
  const uint8_t* padding;
  float* partial;
  KvView k, v;
};

template <Source kSource, FormatId kFormat, int kBytes, int kSlots, class T, int kQ>
__global__ void __launch_bounds__(kThreads) kv_chunk_attention_kernel(ChunkArgs a) {
  using Codec = ChunkCodec<kSource, kFormat, kBytes, kSlots>;
  constexpr int kCw = Codec::kCw;
  extern __shared__ __align__(16) char shared[];
  const int split = blockIdx.x;
  const int64_t pair = blockIdx.y, pairs = gridDim.y;
  const int batch_index = static_cast<int>(pair / a.heads);
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int column = lane % a.width, segment_in_warp = lane / a.width;
  const int segments_per_warp = 32 / a.width, segments = kWarps * segments_per_warp;
  const int segment = warp * segments_per_warp + segment_in_warp;
  const int first_channel = column * kCw;
  const bool active = first_channel < a.dim;
  const uint16_t* k_maps = a.k.side + pair * a.k.maps_per_pair * 2;
  const uint16_t* v_maps = a.v.side + pair * a.v.maps_per_pair * 2;

  // The lane's query slice, scaled; the key maps folded in below.
  float q[kQ][kCw];
  const T* q_in = static_cast<const T*>(a.q) + pair * a.queries * a.dim;
#pragma unroll
  for (int i = 0; i < kQ; ++i) {
#pragma unroll
    for (int c = 0; c < kCw; ++c) {
      const int d = first_channel + c;
      q[i][c] = i < a.queries && d < a.dim ? to_float(q_in[i * a.dim + d]) * a.scale : 0.0f;
    }
  }
  float qk[kQ][kCw], bias[kQ];
  int key_group = -1;
  auto fold_key_maps = [&](int group_index) {  // group_index: int key group (block formats: 0)
#pragma unroll
    for (int i = 0; i < kQ; ++i) {
      bias[i] = 0.0f;
#pragma unroll
      for (int c = 0; c < kCw; ++c) {
        const int d = first_channel + c;
        qk[i][c] = q[i][c];
        if (!a.k.affine || d >= a.dim) continue;
        const uint16_t* m = k_maps + 2 * (static_cast<int64_t>(group_index) * a.dim + d);
        qk[i][c] = q[i][c] * half_at(m + 1);
        bias[i] += q[i][c] * half_at(m);
      }
    }
    key_group = group_index;
  };
  if constexpr (!Codec::kInt) fold_key_maps(0);

  float run_max[kQ], run_sum[kQ], acc[kQ][kCw], acc_low[kQ];
#pragma unroll
  for (int i = 0; i < kQ; ++i) {
    run_max[i] = -INFINITY, run_sum[i] = 0.0f, acc_low[i] = 0.0f;
#pragma unroll
    for (int c = 0; c < kCw; ++c) acc[i][c] = 0.0f;
  }

  // The warp's segments take chunks base + 0, 1, ...; base steps by the CTA's segments, the
  // same number of rounds for every lane of a warp (its shuffles need them all).
  const int chunk_begin = split * a.chunks_per_split;
  const int chunk_end = min(chunk_begin + a.chunks_per_split, a.chunks);
  typename Codec::Raw k_raw, v_raw, k_next, v_next;
  int base = chunk_begin + warp * segments_per_warp;
  if (active && base + segment_in_warp < chunk_end) {
    Codec::load(a.k, pair, base + segment_in_warp, column, k_next);
    Codec::load(a.v, pair, base + segment_in_warp, column, v_next);
  }
  for (; base < chunk_end; base += segments) {
    const int chunk = base + segment_in_warp;
    const bool here = chunk < chunk_end;
    k_raw = k_next;
    v_raw = v_next;
    if (active && chunk + segments < chunk_end) {  // the next round's bytes in flight meanwhile
      Codec::load(a.k, pair, chunk + segments, column, k_next);
      Codec::load(a.v, pair, chunk + segments, column, v_next);
    }
    float values[4][kCw];
    if constexpr (Codec::kInt) {
      const int group_index = chunk * 4 / a.k.group;
      if (here && group_index != key_group) fold_key_maps(group_index);
    }
    float score[kQ][4];
    if (active && here) {
      Codec::values(a.k, pair, chunk, column, k_raw, values);
    } else {
#pragma unroll
      for (int y = 0; y < 4; ++y) {
#pragma unroll
        for (int c = 0; c < kCw; ++c) values[y][c] = 0.0f;
      }
    }
#pragma unroll
    for (int i = 0; i < kQ; ++i) {
#pragma unroll
      for (int y = 0; y < 4; ++y) {
        float s = active ? bias[i] : 0.0f;
#pragma unroll
        for (int c = 0; c < kCw; ++c) s += qk[i][c] * values[y][c];
        score[i][y] = s;
      }
    }
    for (int offset = a.width / 2; offset > 0; offset /= 2) {
#pragma unroll
      for (int i = 0; i < kQ; ++i) {
#pragma unroll
        for (int y = 0; y < 4; ++y) score[i][y] += __shfl_xor_sync(0xffffffffu, score[i][y], offset);
      }
    }
    bool keep[4];
#pragma unroll
    for (int y = 0; y < 4; ++y) {
      const int t = chunk * 4 + y;
      keep[y] = here && t < a.tokens && !(a.padding && a.padding[static_cast<int64_t>(batch_index) * a.tokens + t]);
    }
    // The value maps of the chunk's tokens (block: per token; int: the lane's channel group).
    float v_low[4], v_step[4];
#pragma unroll
    for (int y = 0; y < 4; ++y) {
      v_low[y] = 0.0f, v_step[y] = 1.0f;
      const int t = min(chunk * 4 + y, a.tokens - 1);
      if constexpr (Codec::kInt) {
        const uint16_t* m = v_maps + 2 * (static_cast<int64_t>(t) * a.v.map_groups + min(first_channel, a.dim - 1) / a.v.group);
        v_low[y] = half_at(m), v_step[y] = half_at(m + 1);
      } else if (a.v.affine) {
        const uint16_t* m = v_maps + 2 * static_cast<int64_t>(t);
        v_low[y] = half_at(m), v_step[y] = half_at(m + 1);
      }
    }
    if (active && here) Codec::values(a.v, pair, chunk, column, v_raw, values);
#pragma unroll
    for (int i = 0; i < kQ; ++i) {
      float top = -INFINITY;
#pragma unroll
      for (int y = 0; y < 4; ++y) top = keep[y] ? fmaxf(top, score[i][y]) : top;
      const float new_max = fmaxf(run_max[i], top);
      if (new_max == -INFINITY) continue;  // nothing kept yet
      const float factor = exp2f(run_max[i] - new_max);
      float p[4], total = 0.0f;
#pragma unroll
      for (int y = 0; y < 4; ++y) {
        p[y] = keep[y] ? exp2f(score[i][y] - new_max) : 0.0f;
        total += p[y];
      }
      run_max[i] = new_max;
      run_sum[i] = run_sum[i] * factor + total;
      float low = acc_low[i] * factor;
#pragma unroll
      for (int y = 0; y < 4; ++y) low += p[y] * v_low[y];
      acc_low[i] = low;
#pragma unroll
      for (int c = 0; c < kCw; ++c) {
        float sum = acc[i][c] * factor;
#pragma unroll
        for (int y = 0; y < 4; ++y) sum += p[y] * v_step[y] * values[y][c];
        acc[i][c] = sum;
      }
    }
  }

  // Combine the CTA's segments: [segment][query] (max, sum), then [segment][query][dim] sums.
  float2* stats = reinterpret_cast<float2*>(shared);
  float* sums = reinterpret_cast<float*>(stats + segments * kQ);
  if (column == 0) {
#pragma unroll
    for (int i = 0; i < kQ; ++i) stats[segment * kQ + i] = make_float2(run_max[i], run_sum[i]);
  }
  if (active) {
#pragma unroll
    for (int i = 0; i < kQ; ++i) {
#pragma unroll
      for (int c = 0; c < kCw; ++c) {
        if (first_channel + c < a.dim) sums[(segment * kQ + i) * a.dim + first_channel + c] = acc[i][c] + acc_low[i];
      }
    }
  }
  __syncthreads();
  constexpr float kLn2 = 0.6931471805599453f;
  for (int k = threadIdx.x; k < a.queries * a.dim; k += kThreads) {
    const int i = k / a.dim, d = k % a.dim;
    float best = -INFINITY;
    for (int s = 0; s < segments; ++s) best = fmaxf(best, stats[s * kQ + i].x);
    float total = 0.0f, sum = 0.0f;
    if (best != -INFINITY) {
      for (int s = 0; s < segments; ++s) {
        const float2 st = stats[s * kQ + i];
        if (st.x == -INFINITY) continue;
        const float w = exp2f(st.x - best);
        total += st.y * w;
        sum += sums[(s * kQ + i) * a.dim + d] * w;
      }
    }
    if (a.splits == 1) {
      static_cast<T*>(a.out)[(pair * a.queries + i) * a.dim + d] = from_float<T>(total > 0.0f ? sum / total : 0.0f);
    } else {
      // The combine kernel's layout and base (natural logarithms).
      const int64_t row = (static_cast<int64_t>(split) * pairs + pair) * a.queries + i;
      a.partial[row * a.dim + d] = sum;
      if (d == 0) {
        float* out_stats = a.partial + static_cast<int64_t>(a.splits) * pairs * a.queries * a.dim;
        out_stats[2 * row] = best == -INFINITY ? -INFINITY : best * kLn2;
        out_stats[2 * row + 1] = total;
      }
    }
  }
}

int multiprocessors() {
  int device = 0, count = 0;
  check_cuda(cudaGetDevice(&device), "cudaGetDevice");
  check_cuda(cudaDeviceGetAttribute(&count, cudaDevAttrMultiProcessorCount, device), "cudaDeviceGetAttribute");
  return count;
}

template <Source kSource, FormatId kFormat, int kBytes, class T>
void launch_attention(const KvAttentionParams& p, AttentionArgs a, int64_t pairs, cudaStream_t stream) {
  const size_t shared = attention_shared_bytes<T>(p.queries, p.dim);
  const int per_thread = (p.queries + kThreads / p.dim - 1) / (kThreads / p.dim);
  const dim3 grid(static_cast<unsigned>(a.splits), static_cast<unsigned>(pairs));
  auto run = [&](auto kernel) {
    allow_shared(kernel, shared);
    kernel<<<grid, kThreads, shared, stream>>>(a);
    check_cuda(cudaGetLastError(), "kv attention launch");
  };
  if (per_thread <= 1) {
    run(kv_attention_kernel<kSource, kFormat, kBytes, T, 1>);
  } else if (per_thread <= 8) {
    run(kv_attention_kernel<kSource, kFormat, kBytes, T, 8>);
  } else {
    run(kv_attention_kernel<kSource, kFormat, kBytes, T, 64>);
  }
}

// Lanes a segment of the decode-regime kernel spans: the blocks (int: 8-channel words) across a
// token row, rounded up to a power of two so that xor shuffles stay inside the segment.
int segment_width(const KvLayout& l) {
  const int across = l.is_block() ? l.blocks_x : l.shape.dim / 8;
  int width = 1;
  while (width < across) width *= 2;
  return width;
}

template <Source kSource, FormatId kFormat, int kBytes, int kSlots, class T>
void launch_chunks(const KvAttentionParams& p, const ChunkArgs& a, int64_t pairs, cudaStream_t stream) {
  const int segments = kWarps * (32 / a.width);
  const dim3 grid(static_cast<unsigned>(a.splits), static_cast<unsigned>(pairs));
  auto run = [&](auto kernel, int queries) {
    const size_t shared = static_cast<size_t>(segments) * queries * (sizeof(float2) + static_cast<size_t>(p.dim) * 4);
    allow_shared(kernel, shared);
    kernel<<<grid, kThreads, shared, stream>>>(a);
    check_cuda(cudaGetLastError(), "kv attention launch");
  };
  if (p.queries == 1) {
    run(kv_chunk_attention_kernel<kSource, kFormat, kBytes, kSlots, T, 1>, 1);
  } else {
    run(kv_chunk_attention_kernel<kSource, kFormat, kBytes, kSlots, T, kChunkQueries>, kChunkQueries);
  }
}

template <class T>
void dispatch_chunks(const KvAttentionParams& p, const ChunkArgs& a, int64_t pairs, Backend backend, cudaStream_t stream) {
  const KvLayout& l = p.keys->layout();
  if (!l.is_block()) {
    if (l.codec.int_bits == 4) {
      launch_chunks<Source::kInt4, FormatId::kBC1, 0, 0, T>(p, a, pairs, stream);
    } else {
      launch_chunks<Source::kInt8, FormatId::kBC1, 0, 0, T>(p, a, pairs, stream);
    }
    return;
  }
  if (backend == Backend::kTexture) {
    switch (l.slots) {
      case 1: launch_chunks<Source::kTexture, FormatId::kBC1, 0, 1, T>(p, a, pairs, stream); break;
      case 2: launch_chunks<Source::kTexture, FormatId::kBC1, 0, 2, T>(p, a, pairs, stream); break;
      case 3: launch_chunks<Source::kTexture, FormatId::kBC1, 0, 3, T>(p, a, pairs, stream); break;
      default: launch_chunks<Source::kTexture, FormatId::kBC1, 0, 4, T>(p, a, pairs, stream); break;
    }
    return;
  }
  switch (l.codec.format->id) {
    case FormatId::kBC1: launch_chunks<Source::kBlocks, FormatId::kBC1, 8, 3, T>(p, a, pairs, stream); break;
    case FormatId::kBC3: launch_chunks<Source::kBlocks, FormatId::kBC3, 16, 4, T>(p, a, pairs, stream); break;
    case FormatId::kBC4Unorm: launch_chunks<Source::kBlocks, FormatId::kBC4Unorm, 8, 1, T>(p, a, pairs, stream); break;
    case FormatId::kBC5Unorm: launch_chunks<Source::kBlocks, FormatId::kBC5Unorm, 16, 2, T>(p, a, pairs, stream); break;
    case FormatId::kBC6HSf16: launch_chunks<Source::kBlocks, FormatId::kBC6HSf16, 16, 3, T>(p, a, pairs, stream); break;
    case FormatId::kBC7: launch_chunks<Source::kBlocks, FormatId::kBC7, 16, 4, T>(p, a, pairs, stream); break;
    default: throw std::invalid_argument(std::string("no K/V kernel for ") + l.codec.format->name);
  }
}

// Calls body.template operator()<kSource, kFormat, kBytes>() for the codec and backend.
template <class Body>
void dispatch_codec(const KvLayout& layout, Backend backend, Body&& body) {
  if (!layout.is_block()) {
    if (backend != Backend::kCuda) throw std::invalid_argument("int K/V have no texture-unit kernel");
    if (layout.codec.int_bits == 4) {
      body.template operator()<Source::kInt4, FormatId::kBC1, 0>();
    } else {
      body.template operator()<Source::kInt8, FormatId::kBC1, 0>();
    }
    return;
  }
  if (backend == Backend::kTexture) {
    body.template operator()<Source::kTexture, FormatId::kBC1, 0>();
    return;
  }
  switch (layout.codec.format->id) {
    case FormatId::kBC1: body.template operator()<Source::kBlocks, FormatId::kBC1, 8>(); break;
    case FormatId::kBC3: body.template operator()<Source::kBlocks, FormatId::kBC3, 16>(); break;
    case FormatId::kBC4Unorm: body.template operator()<Source::kBlocks, FormatId::kBC4Unorm, 8>(); break;
    case FormatId::kBC5Unorm: body.template operator()<Source::kBlocks, FormatId::kBC5Unorm, 16>(); break;
    case FormatId::kBC6HSf16: body.template operator()<Source::kBlocks, FormatId::kBC6HSf16, 16>(); break;
    case FormatId::kBC7: body.template operator()<Source::kBlocks, FormatId::kBC7, 16>(); break;
    default: throw std::invalid_argument(std::string("no K/V kernel for ") + layout.codec.format->name);
  }
}

template <class T>
struct AttentionLaunch {
  const KvAttentionParams& p;
  const AttentionArgs& a;
  int64_t pairs;
  cudaStream_t stream;
  template <Source kSource, FormatId kFormat, int kBytes>
  void operator()() const {
    launch_attention<kSource, kFormat, kBytes, T>(p, a, pairs, stream);
  }
};

template <class T>
struct DecodeLaunch {
  const KvView& view;
  int64_t pairs;
  T* out;
  cudaStream_t stream;
  template <Source kSource, FormatId kFormat, int kBytes>
  void operator()() const {
    const dim3 grid(static_cast<unsigned>((view.tokens + kTile - 1) / kTile), static_cast<unsigned>(pairs));
    const size_t shared = static_cast<size_t>(kTile) * view.dim * sizeof(T);
    decode_kv_kernel<kSource, kFormat, kBytes, T><<<grid, kThreads, shared, stream>>>(view, out);
    check_cuda(cudaGetLastError(), "kv decode launch");
  }
};

template <class T>
void run_attention(const KvAttentionParams& p, Backend backend, cudaStream_t stream) {
  const KvLayout& kl = p.keys->layout();
  const int64_t pairs = kl.shape.pairs();
  const float scale = p.scale != 0.0f ? p.scale : 1.0f / std::sqrt(static_cast<float>(p.dim));
  const int64_t rows = pairs * p.queries;
  const int64_t target = 8 * static_cast<int64_t>(multiprocessors());  // CTAs that fill the GPU a few times
  // Key ranges per pair: enough CTAs for the GPU, each range at least `least` units of work.
  auto choose_splits = [&](int units, int least) {
    int splits = p.splits;
    if (splits <= 0) splits = static_cast<int>(std::max<int64_t>(1, (target + pairs - 1) / pairs));
    return std::max(1, std::min(splits, (units + least - 1) / least));
  };
  float* partial = nullptr;
  auto allocate = [&](int splits) {
    if (splits == 1) return;
    const size_t bytes = static_cast<size_t>(splits) * rows * (p.dim + 2) * sizeof(float);
    check_cuda(cudaMallocAsync(reinterpret_cast<void**>(&partial), bytes, stream), "cudaMallocAsync");
  };
  int splits = 1;
  if (p.queries <= kChunkQueries) {
    ChunkArgs a{};
    a.heads = p.heads;
    a.queries = p.queries;
    a.dim = p.dim;
    a.tokens = p.tokens;
    a.width = segment_width(kl);
    a.chunks = (p.tokens + 3) / 4;
    const int segments = kWarps * (32 / a.width);
    const int wanted = choose_splits(a.chunks, segments);
    a.chunks_per_split = (a.chunks + wanted - 1) / wanted;
    a.splits = splits = (a.chunks + a.chunks_per_split - 1) / a.chunks_per_split;
    a.scale = scale * 1.4426950408889634f;  // base-2 softmax
    a.q = p.q;
    a.out = p.out;
    a.padding = p.padding;
    a.k = view_of(*p.keys);
    a.v = view_of(*p.values);
    allocate(splits);
    a.partial = partial;
    dispatch_chunks<T>(p, a, pairs, backend, stream);
  } else {
    AttentionArgs a{};
    a.heads = p.heads;
    a.queries = p.queries;
    a.dim = p.dim;
    a.tokens = p.tokens;
    a.scale = scale;
    a.q = p.q;
    a.out = p.out;
    a.padding = p.padding;
    a.k = view_of(*p.keys);
    a.v = view_of(*p.values);
    const int tiles = (p.tokens + kTile - 1) / kTile;
    const int wanted = choose_splits(tiles, 1);
    a.tiles_per_split = (tiles + wanted - 1) / wanted;
    a.splits = splits = (tiles + a.tiles_per_split - 1) / a.tiles_per_split;
    allocate(splits);
    a.partial = partial;
    dispatch_codec(kl, backend, AttentionLaunch<T>{p, a, pairs, stream});
  }
  if (splits > 1) {
    combine_splits_kernel<T><<<static_cast<unsigned>(rows), std::min(p.dim, 128), 0, stream>>>(
        partial, splits, rows, p.dim, static_cast<T*>(p.out));
    check_cuda(cudaGetLastError(), "kv attention combine launch");
    check_cuda(cudaFreeAsync(partial, stream), "cudaFreeAsync");
  }
}

}  // namespace

void kv_attention(const KvAttentionParams& p, Backend backend, CudaStream stream) {
  if (!p.keys || !p.values || !p.q || !p.out) throw std::invalid_argument("kv_attention: missing keys, values, q or out");
  const KvLayout& kl = p.keys->layout();
  const KvLayout& vl = p.values->layout();
  const KvShape& s = kl.shape;
  if (kl.role != KvRole::kKeys || vl.role != KvRole::kValues) throw std::invalid_argument("kv_attention: keys and values swapped");
  if (s.batch != p.batch || s.heads != p.heads || s.tokens != p.tokens || s.dim != p.dim || vl.shape.batch != s.batch ||
      vl.shape.heads != s.heads || vl.shape.tokens != s.tokens || vl.shape.dim != s.dim) {
    throw std::invalid_argument("kv_attention: the shapes of q, keys and values disagree");
  }
  if (kl.is_block() != vl.is_block() || kl.codec.format != vl.codec.format || kl.codec.int_bits != vl.codec.int_bits) {
    throw std::invalid_argument("kv_attention: keys and values must use one codec");
  }
  if (p.dim > 128 || p.dim % 4 != 0) throw std::invalid_argument("kv_attention: head dim must be a multiple of 4, at most 128");
  if (!kl.is_block() && (p.dim % 8 != 0 || kl.group % 4 != 0 || vl.group % 8 != 0)) {
    throw std::invalid_argument("kv_attention: int K/V need a head dim that is a multiple of 8, key groups of a multiple of "
                                "4 tokens and value groups of a multiple of 8 channels");
  }
  if (p.queries < 1 || p.queries > 64) throw std::invalid_argument("kv_attention: 1 to 64 queries per sequence");
  if (p.type != ElementType::kFloat16 && p.type != ElementType::kBFloat16) throw std::invalid_argument("kv_attention: fp16 or bf16 activations");
  if (backend == Backend::kTexture && (!p.keys->has_texture() || !p.values->has_texture())) {
    throw std::invalid_argument("kv_attention: the texture-unit kernel needs K/V uploaded with their texture arrays");
  }
  if (backend != Backend::kCuda && backend != Backend::kTexture) throw std::invalid_argument("kv_attention: backend cuda or texture");
  require_gpu();
  const auto cuda_stream = static_cast<cudaStream_t>(stream);
  if (p.type == ElementType::kFloat16) {
    run_attention<__half>(p, backend, cuda_stream);
  } else {
    run_attention<__nv_bfloat16>(p, backend, cuda_stream);
  }
}

void decode_kv_device(const DeviceKv& kv, ElementType type, void* out, CudaStream stream) {
  const KvLayout& l = kv.layout();
  if (!kv.data() || !out) throw std::invalid_argument("decode_kv_device: nothing to decode");
  if (!l.is_block() && l.codec.int_bits == 4 && l.shape.dim % 8 != 0) throw std::invalid_argument("decode_kv_device: int4 needs a head dim that is a multiple of 8");
  require_gpu();
  const KvView view = view_of(kv);
  const auto cuda_stream = static_cast<cudaStream_t>(stream);
  const int64_t pairs = l.shape.pairs();
  switch (type) {
    case ElementType::kFloat16: dispatch_codec(l, Backend::kCuda, DecodeLaunch<__half>{view, pairs, static_cast<__half*>(out), cuda_stream}); break;
    case ElementType::kBFloat16: dispatch_codec(l, Backend::kCuda, DecodeLaunch<__nv_bfloat16>{view, pairs, static_cast<__nv_bfloat16*>(out), cuda_stream}); break;
    default: throw std::invalid_argument("decode_kv_device: fp16 or bf16 output");
  }
}

// ---- device storage ----------------------------------------------------------------------

DeviceKv::DeviceKv(const CompressedKv& kv, bool texture) : layout_(kv.layout) {
  require_gpu();
  try {
    check_cuda(cudaMalloc(reinterpret_cast<void**>(&data_), std::max<size_t>(kv.data.size(), 16)), "cudaMalloc");
    check_cuda(cudaMemcpy(data_, kv.data.data(), kv.data.size(), cudaMemcpyHostToDevice), "cudaMemcpy");
    const size_t side_bytes = kv.side.size() * sizeof(uint16_t);
    check_cuda(cudaMalloc(reinterpret_cast<void**>(&side_), std::max<size_t>(side_bytes, 16)), "cudaMalloc");
    if (side_bytes) check_cuda(cudaMemcpy(side_, kv.side.data(), side_bytes, cudaMemcpyHostToDevice), "cudaMemcpy");
    if (!texture) return;
    const KvLayout& l = layout_;
    if (!l.is_block()) throw std::invalid_argument("int K/V have no texture-unit array");
    int device = 0, max_width = 0, max_height = 0;
    check_cuda(cudaGetDevice(&device), "cudaGetDevice");
    check_cuda(cudaDeviceGetAttribute(&max_width, cudaDevAttrMaxTexture2DWidth, device), "attribute");
    check_cuda(cudaDeviceGetAttribute(&max_height, cudaDevAttrMaxTexture2DHeight, device), "attribute");
    // Pairs side by side (as many as the widest array takes), then bands of rows.
    const int pair_width = l.blocks_x * 4;
    const int64_t pairs = l.shape.pairs();
    pairs_per_band_ = static_cast<int>(std::min<int64_t>(pairs, max_width / pair_width));
    const int64_t bands = (pairs + pairs_per_band_ - 1) / pairs_per_band_;
    if (bands * l.padded_tokens > max_height) {
      throw std::invalid_argument("K/V of " + std::to_string(pairs) + " heads x " + std::to_string(l.shape.tokens) +
                                  " tokens do not fit one texture array");
    }
    const int64_t band_rows = l.padded_tokens / 4;
    const int64_t row_blocks = static_cast<int64_t>(pairs_per_band_) * l.blocks_x;
    std::vector<uint8_t> staging(static_cast<size_t>(bands * band_rows * row_blocks * l.bytes_per_block), 0);
    for (int64_t p = 0; p < pairs; ++p) {
      const int64_t band = p / pairs_per_band_, column = p % pairs_per_band_;
      for (int64_t r = 0; r < band_rows; ++r) {
        const uint8_t* from = kv.data.data() + (p * l.blocks_per_pair() + r * l.blocks_x) * l.bytes_per_block;
        uint8_t* to = staging.data() + ((band * band_rows + r) * row_blocks + column * l.blocks_x) * l.bytes_per_block;
        std::copy(from, from + static_cast<int64_t>(l.blocks_x) * l.bytes_per_block, to);
      }
    }
    const cudaChannelFormatDesc desc = texture_channel_desc(l.codec.format->id);
    cudaArray_t array = nullptr;
    check_cuda(cudaMallocArray(&array, &desc, static_cast<size_t>(row_blocks * 4), static_cast<size_t>(bands * band_rows * 4)),
               "cudaMallocArray");
    array_ = array;
    const size_t pitch = static_cast<size_t>(row_blocks) * l.bytes_per_block;
    check_cuda(cudaMemcpy2DToArray(array, 0, 0, staging.data(), pitch, pitch, static_cast<size_t>(bands * band_rows),
                                   cudaMemcpyHostToDevice),
               "cudaMemcpy2DToArray");
    texture_ = block_texture_object(array, *l.codec.format);
  } catch (...) {
    release();
    throw;
  }
}

void DeviceKv::release() {
  if (texture_) cudaDestroyTextureObject(static_cast<cudaTextureObject_t>(texture_));
  if (array_) cudaFreeArray(static_cast<cudaArray_t>(array_));
  cudaFree(data_);
  cudaFree(side_);
  texture_ = 0;
  array_ = nullptr;
  data_ = nullptr;
  side_ = nullptr;
}

DeviceKv::~DeviceKv() {
  if (data_ || side_ || array_) {
    cudaDeviceSynchronize();
    release();
  }
}

DeviceKv::DeviceKv(DeviceKv&& other) noexcept { *this = std::move(other); }

DeviceKv& DeviceKv::operator=(DeviceKv&& other) noexcept {
  if (this != &other) {
    if (data_ || side_ || array_) {
      cudaDeviceSynchronize();
      release();
    }
    layout_ = other.layout_;
    data_ = other.data_;
    side_ = other.side_;
    array_ = other.array_;
    texture_ = other.texture_;
    pairs_per_band_ = other.pairs_per_band_;
    other.data_ = nullptr;
    other.side_ = nullptr;
    other.array_ = nullptr;
    other.texture_ = 0;
  }
  return *this;
}

}  // namespace bcfeat
