// CUDA encoders: the shared host/device block code (the kernel and launcher layers) in
// kernels — one thread per block for BC1-BC5 and BC7 high, and for BC6H and BC7 fast/normal
// a pipeline of kernels with one thread per (block, planned fit) (run_search_chunks). The
// launchers are instantiated per format in their own translation units
// (codec_cuda_encode_*.cu) so that nvcc compiles the heavy BC6H and BC7 searches in parallel
// with the rest; codec_cuda.cu dispatches to them.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "bc_codec.h"
#include "blocks/block_codec.h"
#include "block_access.h"

namespace bcfeat {
namespace cuda_encode {

constexpr int kThreads = 128;

template <FormatId kFormat, Quality kQuality>
__global__ void encode_blocks_kernel(const float* pixels, int width, int height, int channels, int blocks_x,
                                     int blocks_y, int bytes_per_block, uint8_t* blocks) {
  const int64_t block = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (block >= static_cast<int64_t>(blocks_x) * blocks_y) return;
  const int bx = static_cast<int>(block % blocks_x), by = static_cast<int>(block / blocks_x);
  float texels[16][4];
  gather_block(pixels, width, height, channels, bx, by, texels);
  encode_block(kFormat, texels, kQuality, blocks + block * bytes_per_block);
}

// BC6H (every level) and BC7 fast/normal search in chunks of at most kSearchChunk blocks, as
// a pipeline of kernels over the chunk's blocks so that the lanes of a warp run the same code:
//  1. settle (BC7 only): mode 6 for every block (bc7.h settle_with_mode6). It settles 29% of
//     the blocks of a Kodak sample at normal (results/reference/bc7_sample_ranking_cpu.txt);
//     it writes its block either way and lists the blocks it does not settle (`pending`, in
//     any order: a block's result depends on the block alone) with mode 6's error (the
//     baseline). BC6H lists every block, with no baseline;
//  2. plan: each pending block's search plan (plan_search: the partition ranking), which
//     fixes the block's fits and their order (BC7 normal and BC6H: the partitions' line
//     residuals scored by several threads per block first);
//  3. fit: one thread per (pending block, fit), each fit's error and record stored by its order
//     (BC7: one kernel per mode, thread (block, nth fit of that mode); BC6H: one kernel,
//     thread (block, order) — its fits share one out-of-line fit_mode); at BC7 normal and
//     BC6H high the blocks in the order of the fit's partition (see count_partitions_kernel);
//  4. choose: per pending block the first fit of the smallest error in plan order if it beats
//     the baseline — the block the CPU's serial search keeps (it replaces only on a strictly
//     smaller error); BC6H packs that fit's block here (see Bc6hFit).
// One thread walking a block's whole search (tens of fits) left a Kodak image's blocks at
// about one warp per SM scheduler; step 3 has 2-84 threads per block, and each kernel a
// fraction of the whole search's code.
constexpr int kSearchChunk = 1 << 16;

// What step 3 stores of a BC6H fit beside its error: the candidate's endpoint values (16
// bits each: UF16 values are below 2^16, SF16 ones within ±2^15) and its indices (4 bits
// each); its mode and partition follow from the plan and the fit's order. Step 4 packs the
// winner alone (packing every fit, 75 table-driven field bits each, took 6% of BC6H
// normal's instructions; Nsight Compute, H200). BC7 fits store their packed block.
struct Bc6hFit {
  uint4 x;     // x[0][0..2], x[1][0..2], x[2][0..1]
  uint4 rest;  // x[2][2], x[3][0..2]; the indices
};

template <class Plan>
struct FitRecord {
  using type = uint4;
};
template <>
struct FitRecord<bc6h_detail::SearchPlan> {
  using type = Bc6hFit;
};

template <class Plan>
struct SearchScratch {
  unsigned* count;
  int* pending;  // chunk-relative block indices
  float* baseline;
  Plan* plans;
  float* scores;  // [partition][chunk]; BC7: 2-subset then 3-subset
  float* errors;  // [order][chunk]
  typename FitRecord<Plan>::type* fits;  // [order][chunk]
  unsigned* buckets;  // [list][kPartitionBuckets]: counts, then next free places
  int* sorted;        // [list][chunk]: the pending blocks in order of the list's partition; null: unsorted
};

template <Quality kQuality>
__global__ void bc7_settle_kernel(const float* pixels, int width, int height, int channels, int blocks_x,
                                  int64_t first, int n, uint8_t* blocks,
                                  SearchScratch<bc7_detail::SearchPlan> scratch) {
  const int k = blockIdx.x * blockDim.x + threadIdx.x;
  if (k >= n) return;
  const int64_t block = first + k;
  float texels[16][4];
  gather_block(pixels, width, height, channels, static_cast<int>(block % blocks_x), static_cast<int>(block / blocks_x),
               texels);
  float error = 0.0f;
  if (!encode_bc7_block_settled(texels, kQuality, blocks + block * 16, &error)) {
    const unsigned at = atomicAdd(scratch.count, 1u);
    scratch.pending[at] = k;
    scratch.baseline[at] = error;
  }
}

__device__ __forceinline__ void gather_at(const float* pixels, int width, int height, int channels, int blocks_x,
                                          int64_t block, float texels[16][4]) {
  gather_block(pixels, width, height, channels, static_cast<int>(block % blocks_x), static_cast<int>(block / blocks_x),
               texels);
}

// A thread's block array [16][4] in shared memory `base` (kThreads × kSharedBlockWords floats):
// the threads' arrays 65 words apart, so that a warp's reads of one element hit 32 banks.
// Arrays the block code indexes by loop counters live in local memory otherwise, whose loads
// miss L1 at these kernels' occupancy (Nsight Compute: long-scoreboard stalls on them).
constexpr int kSharedBlockWords = 65;

__device__ __forceinline__ float (*shared_block(float* base))[4] {
  return reinterpret_cast<float(*)[4]>(base + threadIdx.x * kSharedBlockWords);
}

// Step 2 at fast: one thread ranks a block's 64 2-subset partitions.
template <Quality kQuality>
__global__ void bc7_plan_kernel(const float* pixels, int width, int height, int channels, int blocks_x, int64_t first,
                                SearchScratch<bc7_detail::SearchPlan> scratch) {
  const int k = blockIdx.x * blockDim.x + threadIdx.x;
  if (k >= static_cast<int>(*scratch.count)) return;
  float texels[16][4], target[16][4];
  gather_at(pixels, width, height, channels, blocks_x, first + scratch.pending[k], texels);
  const bool opaque = bc7_detail::bc7_target(texels, target);
  bc7_detail::plan_search(target, opaque, kQuality, scratch.plans[k]);
}

// Step 2 at normal, in two kernels: the line residuals of the 64 2-subset and 64 3-subset
// partitions, 4 of each per thread (blockIdx.y = which 4), into scores[partition][chunk];
// then the plans from the scores. (One thread scoring all 128 took 30% of a Kodak image's
// search on an H200, the GPU mostly idle.) Each of a block's 16 threads gathers its texels and
// their mean and moments again: 16 texels' work beside 8 partitions' residuals.
constexpr int kScoreSlices = 16;

template <Quality kQuality>
__global__ void bc7_score_kernel(const float* pixels, int width, int height, int channels, int blocks_x, int64_t first,
                                 int chunk, SearchScratch<bc7_detail::SearchPlan> scratch) {
  using namespace bc7_detail;
  const int k = blockIdx.x * blockDim.x + threadIdx.x;
  if (k >= static_cast<int>(*scratch.count)) return;
  float texels[16][4], target[16][4];
  gather_at(pixels, width, height, channels, blocks_x, first + scratch.pending[k], texels);
  const bool opaque = bc7_target(texels, target);
  constexpr int kPer = 64 / kScoreSlices;
  const int p0 = static_cast<int>(blockIdx.y) * kPer;
  for (int subsets = 2; subsets <= 3; ++subsets) {
    float scores[kPer];
    if (opaque) {
      partition_residual_range<3>(target, subsets, p0, kPer, scores);
    } else {
      partition_residual_range<4>(target, subsets, p0, kPer, scores);
    }
    for (int j = 0; j < kPer; ++j) {
      scratch.scores[static_cast<int64_t>(64 * (subsets - 2) + p0 + j) * chunk + k] = scores[j];
    }
  }
}

template <Quality kQuality>
__global__ void bc7_plan_from_scores_kernel(const float* pixels, int width, int height, int channels, int blocks_x,
                                            int64_t first, int chunk, SearchScratch<bc7_detail::SearchPlan> scratch) {
  const int k = blockIdx.x * blockDim.x + threadIdx.x;
  if (k >= static_cast<int>(*scratch.count)) return;
  float texels[16][4], target[16][4];
  gather_at(pixels, width, height, channels, blocks_x, first + scratch.pending[k], texels);
  const bool opaque = bc7_detail::bc7_target(texels, target);
  float scores[2][64];
  for (int kind = 0; kind < 2; ++kind) {
    for (int p = 0; p < 64; ++p) scores[kind][p] = scratch.scores[static_cast<int64_t>(64 * kind + p) * chunk + k];
  }
  bc7_detail::plan_from_scores(scores[0], scores[1], opaque, kQuality, scratch.plans[k]);
}

// Partition order for step 3. Fits of partitioned modes run through the texels of each
// subset; lanes fitting different partitions diverge there (ncu, H200, Kodak 1: 17-19 of 32
// threads active in BC7 normal's partitioned fits). So each of a plan's partition lists (BC7:
// two[0..3], three[0..1], zero[0..1]; BC6H: partitions[0..kept)) is counting-sorted by
// partition, and a fit kernel's lanes take the pending blocks in that order (the order within
// a partition does not matter: every fit is stored by its block and order). Measured on an
// H200 (Kodak 1, and 1-2-3-5 stacked): BC7 normal 2-4% faster, BC6H high 1.7x; BC6H normal
// no faster and the fast levels slower, so those run unsorted.
constexpr int kPartitionBuckets = 64;

__device__ __forceinline__ int list_partition(const bc7_detail::SearchPlan& plan, int list) {
  return list < 4 ? plan.two[list] : (list < 6 ? plan.three[list - 4] : plan.zero[list - 6]);
}

__device__ __forceinline__ int list_partition(const bc6h_detail::SearchPlan& plan, int list) {
  return plan.partitions[list];
}

template <class Plan>
__global__ void count_partitions_kernel(SearchScratch<Plan> scratch) {
  const int k = blockIdx.x * blockDim.x + threadIdx.x;
  if (k >= static_cast<int>(*scratch.count)) return;
  const int list = static_cast<int>(blockIdx.y);
  atomicAdd(&scratch.buckets[list * kPartitionBuckets + list_partition(scratch.plans[k], list)], 1u);
}

// One thread per list: the counts become the first place of each partition.
template <class Plan>
__global__ void partition_offsets_kernel(unsigned* buckets, int lists) {
  const int list = static_cast<int>(threadIdx.x);
  if (list >= lists) return;
  unsigned sum = 0;
  for (int b = 0; b < kPartitionBuckets; ++b) {
    const unsigned count = buckets[list * kPartitionBuckets + b];
    buckets[list * kPartitionBuckets + b] = sum;
    sum += count;
  }
}

template <class Plan>
__global__ void sort_by_partition_kernel(int chunk, SearchScratch<Plan> scratch) {
  const int k = blockIdx.x * blockDim.x + threadIdx.x;
  if (k >= static_cast<int>(*scratch.count)) return;
  const int list = static_cast<int>(blockIdx.y);
  const unsigned at =
      atomicAdd(&scratch.buckets[list * kPartitionBuckets + list_partition(scratch.plans[k], list)], 1u);
  scratch.sorted[static_cast<int64_t>(list) * chunk + at] = k;
}

// The pending block lane `t` of a fit kernel takes: the t-th in the order of partition list
// `list`, or the t-th pending block when the fit has no list (list < 0) or the lists are not
// sorted.
template <class Plan>
__device__ __forceinline__ int pending_for_lane(const SearchScratch<Plan>& scratch, int list, int chunk, int t) {
  return list < 0 || scratch.sorted == nullptr ? t : scratch.sorted[static_cast<int64_t>(list) * chunk + t];
}

// A candidate's block (BC6H's or BC7's `pack`) as one 16-byte word.
template <class Candidate>
__device__ __forceinline__ uint4 packed_block(const Candidate& c) {
  uint8_t packed[16];
  pack(c, packed);
  uint4 v;
  memcpy(&v, packed, 16);
  return v;
}

// A fit's error and record, stored by its order in the plan.
__device__ __forceinline__ uint4 fit_record(const bc7_detail::Candidate& c) { return packed_block(c); }

__device__ __forceinline__ Bc6hFit fit_record(const bc6h_detail::Candidate& c) {
  uint32_t w[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (int j = 0; j < 12; ++j) w[j / 2] |= (static_cast<uint32_t>(c.x[j / 3][j % 3]) & 0xFFFFu) << (16 * (j % 2));
  for (int i = 0; i < 16; ++i) w[6 + i / 8] |= static_cast<uint32_t>(c.index[i]) << (4 * (i % 8));
  return Bc6hFit{make_uint4(w[0], w[1], w[2], w[3]), make_uint4(w[4], w[5], w[6], w[7])};
}

template <class Plan, class Candidate>
__device__ __forceinline__ void store_fit(const SearchScratch<Plan>& scratch, int order, int chunk, int k,
                                          const Candidate& c) {
  const int64_t at = static_cast<int64_t>(order) * chunk + k;
  scratch.errors[at] = c.error;
  scratch.fits[at] = fit_record(c);
}

// The block of a pending block's winning fit.
template <bool kSigned>
__device__ __forceinline__ uint4 fit_block(const bc7_detail::SearchPlan&, int, const uint4& record) {
  return record;
}

template <bool kSigned>
__device__ __forceinline__ uint4 fit_block(const bc6h_detail::SearchPlan& plan, int order, const Bc6hFit& record) {
  bc6h_detail::Candidate c;
  bc6h_detail::planned_fit(plan, order, &c.mode, &c.partition);
  const uint32_t w[8] = {record.x.x, record.x.y, record.x.z, record.x.w,
                         record.rest.x, record.rest.y, record.rest.z, record.rest.w};
  for (int j = 0; j < 12; ++j) {
    const uint32_t field = (w[j / 2] >> (16 * (j % 2))) & 0xFFFFu;
    c.x[j / 3][j % 3] = kSigned ? static_cast<int>(static_cast<int16_t>(field)) : static_cast<int>(field);
  }
  for (int i = 0; i < 16; ++i) c.index[i] = static_cast<uint8_t>((w[6 + i / 8] >> (4 * (i % 8))) & 15u);
  return packed_block(c);
}

// The nth (blockIdx.y) planned fit of mode kMode of each pending block; for the partitioned
// modes the lanes take the blocks in the order of that fit's partition.
template <Quality kQuality, int kMode>
__global__ void bc7_fit_kernel(const float* pixels, int width, int height, int channels, int blocks_x, int64_t first,
                               int chunk, SearchScratch<bc7_detail::SearchPlan> scratch) {
  using namespace bc7_detail;
  const int t = blockIdx.x * blockDim.x + threadIdx.x;
  if (t >= static_cast<int>(*scratch.count)) return;
  const int nth = static_cast<int>(blockIdx.y);
  // The partition list of this fit (modes 4 and 5 have none).
  constexpr int kList = kMode == 4 || kMode == 5 ? -1 : (kMode == 0 ? 6 : (kMode == 2 ? 4 : 0));
  const int k = pending_for_lane(scratch, kList < 0 ? -1 : kList + nth, chunk, t);
  const SearchPlan plan = scratch.plans[k];
  const int order = planned_order(plan, kMode, nth);
  if (order < 0) return;
  const PlannedFit f = planned_fit(plan, order);
  float texels[16][4], target[16][4];
  gather_at(pixels, width, height, channels, blocks_x, first + scratch.pending[k], texels);
  bc7_target(texels, target);
  const int refits = refits_for(kQuality);
  // bc7_detail::fit_planned with the mode a compile-time constant: one mode's code per kernel.
  const Candidate c = kMode == 4 || kMode == 5 ? fit_rotated_mode(target, kMode, f.rotation, f.selector, refits, false)
                                               : fit_mode(target, kMode, f.partition, refits, false);
  store_fit(scratch, order, chunk, k, c);
}

// BC6H step 2, as BC7's at normal: the line residuals of the 32 partitions, 4 per thread
// (blockIdx.y = which 4), into scores[partition][chunk]; then the plans (every block of the
// chunk is pending, with no baseline). (One thread scoring all 32 ran at 9% occupancy: 102 us
// on Kodak 1, Nsight Compute on an H200 at 1.5 GHz, when the fits took 2.4 ms.)
constexpr int kBc6hScoreSlices = 8;

template <bool kSigned>
__global__ void bc6h_score_kernel(const float* pixels, int width, int height, int channels, int blocks_x, int64_t first,
                                  int n, int chunk, SearchScratch<bc6h_detail::SearchPlan> scratch) {
  const int k = blockIdx.x * blockDim.x + threadIdx.x;
  if (k >= n) return;
  float texels[16][4], values[16][4], linear[16][4];
  gather_at(pixels, width, height, channels, blocks_x, first + k, texels);
  bc6h_detail::encoder_inputs(texels, kSigned, values, linear);
  constexpr int kPer = 32 / kBc6hScoreSlices;
  const int p0 = static_cast<int>(blockIdx.y) * kPer;
  float scores[kPer];
  bc7_detail::partition_residual_range<3>(linear, 2, p0, kPer, scores);
  for (int j = 0; j < kPer; ++j) scratch.scores[static_cast<int64_t>(p0 + j) * chunk + k] = scores[j];
}

template <bool kSigned, Quality kQuality>
__global__ void bc6h_plan_kernel(const float* pixels, int width, int height, int channels, int blocks_x, int64_t first,
                                 int n, int chunk, SearchScratch<bc6h_detail::SearchPlan> scratch) {
  const int k = blockIdx.x * blockDim.x + threadIdx.x;
  if (k >= n) return;
  if (k == 0) *scratch.count = static_cast<unsigned>(n);
  float texels[16][4], values[16][4], linear[16][4];
  gather_at(pixels, width, height, channels, blocks_x, first + k, texels);
  bc6h_detail::encoder_inputs(texels, kSigned, values, linear);
  float scores[32];
  for (int p = 0; p < 32; ++p) scores[p] = scratch.scores[static_cast<int64_t>(p) * chunk + k];
  bc6h_detail::plan_from_scores(scores, bc6h_detail::uniform_block(linear), kQuality, scratch.plans[k]);
  scratch.pending[k] = k;
  scratch.baseline[k] = INFINITY;
}

// Fit number blockIdx.y of each block's plan. (Four CTAs per SM: left to itself ptxas takes
// 130 registers a thread, and three.)
template <bool kSigned, Quality kQuality>
__global__ void __launch_bounds__(kThreads, 4)
    bc6h_fit_kernel(const float* pixels, int width, int height, int channels, int blocks_x, int64_t first, int chunk,
                    SearchScratch<bc6h_detail::SearchPlan> scratch) {
  using namespace bc6h_detail;
  const int t = blockIdx.x * blockDim.x + threadIdx.x;
  if (t >= static_cast<int>(*scratch.count)) return;
  const int order = static_cast<int>(blockIdx.y);
  // Two-region fits at high (after its four one-region ones; the levels whose lists are not
  // sorted ignore `list`): the blocks in the order of the fit's partition.
  const int list = kQuality != Quality::kHigh || order < kMaxOneRegionFits
                       ? -1
                       : (order - kMaxOneRegionFits) / two_region_modes(kQuality);
  const int k = pending_for_lane(scratch, list, chunk, t);
  const SearchPlan plan = scratch.plans[k];
  if (order >= planned_fits(plan)) return;
  int mode = 0, partition = 0;
  planned_fit(plan, order, &mode, &partition);
  // `linear` (read by every least-squares refit and principal axis) in shared memory;
  // `values` stays in local memory, and the texels are gathered into it and converted in
  // place. (Local memory for both: 0.9x; `values` in shared memory instead: 0.98x; both in
  // shared memory with 64-thread CTAs: 1.0-1.04x, but 0.92x at high. H200, UF16 normal.)
  __shared__ float shared_linear[kThreads * kSharedBlockWords];
  float(*linear)[4] = shared_block(shared_linear);
  float values[16][4];
  gather_at(pixels, width, height, channels, blocks_x, first + k, values);
  encoder_inputs(values, kSigned, values, linear);
  const Candidate c = fit_mode(values, linear, kSigned, mode, partition, refits_for(kQuality),
                               kQuality == Quality::kHigh);
  store_fit(scratch, order, chunk, k, c);
}

template <class Plan, bool kSigned>
__global__ void choose_fit_kernel(int64_t first, int chunk, SearchScratch<Plan> scratch, uint8_t* blocks) {
  const int k = blockIdx.x * blockDim.x + threadIdx.x;
  if (k >= static_cast<int>(*scratch.count)) return;
  const int count = planned_fits(scratch.plans[k]);
  float best = scratch.baseline[k];
  int won = -1;
  for (int order = 0; order < count; ++order) {
    const float e = scratch.errors[static_cast<int64_t>(order) * chunk + k];
    if (e < best) {
      best = e;
      won = order;
    }
  }
  if (won >= 0) {
    reinterpret_cast<uint4*>(blocks)[first + scratch.pending[k]] =
        fit_block<kSigned>(scratch.plans[k], won, scratch.fits[static_cast<int64_t>(won) * chunk + k]);
  }
}

// Launches the encoder of one format on device pixels (declared here, instantiated in the
// codec_cuda_encode_*.cu files).
template <FormatId kFormat>
void launch_encode_format(Quality quality, const float* pixels, int width, int height, int channels, BlockGrid grid,
                          uint8_t* blocks, cudaStream_t stream);

#ifdef BCFEAT_CUDA_ENCODE_DEFINITIONS
// Step 3's partition order (count_partitions_kernel ... sort_by_partition_kernel).
template <class Plan>
void sort_by_partitions(const SearchScratch<Plan>& scratch, int chunk, unsigned launch_blocks, int lists,
                        cudaStream_t stream) {
  cudaMemsetAsync(scratch.buckets, 0, sizeof(unsigned) * lists * kPartitionBuckets, stream);
  count_partitions_kernel<Plan><<<dim3(launch_blocks, static_cast<unsigned>(lists)), kThreads, 0, stream>>>(scratch);
  partition_offsets_kernel<Plan><<<1, 32, 0, stream>>>(scratch.buckets, lists);
  sort_by_partition_kernel<Plan><<<dim3(launch_blocks, static_cast<unsigned>(lists)), kThreads, 0, stream>>>(chunk,
                                                                                                        scratch);
}

// Runs `chunk_steps(first, n, chunk, launch_blocks, scratch)`, then the choice, over the
// chunks of the grid's blocks, with scratch for up to `max_fits` fits, `score_count`
// partition scores and `lists` partition lists per block (kSigned: BC6H SF16).
template <class Plan, bool kSigned, class Steps>
void run_search_chunks(BlockGrid grid, uint8_t* blocks, int max_fits, int score_count, int lists, const char* what,
                       cudaStream_t stream, Steps chunk_steps) {
  const int64_t total = grid.blocks();
  const int chunk = static_cast<int>(total < kSearchChunk ? total : kSearchChunk);
  const size_t slots = static_cast<size_t>(chunk) * max_fits;
  using Record = typename FitRecord<Plan>::type;
  const size_t bytes = slots * (sizeof(Record) + sizeof(float)) +
                       static_cast<size_t>(chunk) * (sizeof(Plan) + (score_count + 1) * sizeof(float) +
                                                     (lists + 1) * sizeof(int)) +
                       static_cast<size_t>(lists) * kPartitionBuckets * sizeof(unsigned) + sizeof(unsigned);
  void* memory = nullptr;
  const cudaError_t status = cudaMallocAsync(&memory, bytes, stream);
  if (status != cudaSuccess) {
    throw std::runtime_error(std::string(what) + " encode: cudaMallocAsync of the search scratch: " +
                             cudaGetErrorString(status));
  }
  // Carved in order of alignment, the fits first.
  char* at = static_cast<char*>(memory);
  SearchScratch<Plan> scratch;
  scratch.fits = reinterpret_cast<Record*>(at);
  at += slots * sizeof(Record);
  scratch.plans = reinterpret_cast<Plan*>(at);
  at += static_cast<size_t>(chunk) * sizeof(Plan);
  scratch.scores = reinterpret_cast<float*>(at);
  at += static_cast<size_t>(chunk) * score_count * sizeof(float);
  scratch.errors = reinterpret_cast<float*>(at);
  at += slots * sizeof(float);
  scratch.pending = reinterpret_cast<int*>(at);
  at += static_cast<size_t>(chunk) * sizeof(int);
  scratch.baseline = reinterpret_cast<float*>(at);
  at += static_cast<size_t>(chunk) * sizeof(float);
  scratch.sorted = lists > 0 ? reinterpret_cast<int*>(at) : nullptr;
  at += static_cast<size_t>(chunk) * lists * sizeof(int);
  scratch.buckets = lists > 0 ? reinterpret_cast<unsigned*>(at) : nullptr;
  at += static_cast<size_t>(lists) * kPartitionBuckets * sizeof(unsigned);
  scratch.count = reinterpret_cast<unsigned*>(at);
  for (int64_t first = 0; first < total; first += chunk) {
    const int n = static_cast<int>(total - first < chunk ? total - first : chunk);
    const unsigned launch_blocks = static_cast<unsigned>((n + kThreads - 1) / kThreads);
    chunk_steps(first, n, chunk, launch_blocks, scratch);
    choose_fit_kernel<Plan, kSigned><<<launch_blocks, kThreads, 0, stream>>>(first, chunk, scratch, blocks);
  }
  cudaFreeAsync(memory, stream);
}

template <Quality kQuality>
void launch_bc7_pipeline(const float* pixels, int width, int height, int channels, BlockGrid grid, uint8_t* blocks,
                         cudaStream_t stream) {
  using Plan = bc7_detail::SearchPlan;
  constexpr bool kNormal = kQuality == Quality::kNormal;
  constexpr int kMaxFits = kNormal ? 12 + 12 + 2 + 2 : 2;  // normal, not opaque: modes 1/3/7 × 4, 4/5 × 12, 2, 0 × 2
  constexpr int kLists = kNormal ? 8 : 0;  // partition order: normal only (fast: no gain)
  run_search_chunks<Plan, false>(grid, blocks, kMaxFits, kNormal ? 128 : 0, kLists, "BC7", stream,
                          [&](int64_t first, int n, int chunk, unsigned launch_blocks,
                              const SearchScratch<Plan>& scratch) {
    cudaMemsetAsync(scratch.count, 0, sizeof(unsigned), stream);
    bc7_settle_kernel<kQuality><<<launch_blocks, kThreads, 0, stream>>>(pixels, width, height, channels,
                                                                        grid.blocks_x, first, n, blocks, scratch);
    if constexpr (kNormal) {
      bc7_score_kernel<kQuality><<<dim3(launch_blocks, kScoreSlices), kThreads, 0, stream>>>(
          pixels, width, height, channels, grid.blocks_x, first, chunk, scratch);
      bc7_plan_from_scores_kernel<kQuality><<<launch_blocks, kThreads, 0, stream>>>(
          pixels, width, height, channels, grid.blocks_x, first, chunk, scratch);
    } else {
      bc7_plan_kernel<kQuality><<<launch_blocks, kThreads, 0, stream>>>(pixels, width, height, channels,
                                                                        grid.blocks_x, first, scratch);
    }
    if constexpr (kNormal) sort_by_partitions(scratch, chunk, launch_blocks, kLists, stream);
    const auto fits = [&](auto mode, int nth) {
      bc7_fit_kernel<kQuality, decltype(mode)::value><<<dim3(launch_blocks, static_cast<unsigned>(nth)), kThreads, 0,
                                                          stream>>>(pixels, width, height, channels, grid.blocks_x,
                                                                    first, chunk, scratch);
    };
    fits(std::integral_constant<int, 1>{}, kNormal ? 4 : 1);
    fits(std::integral_constant<int, 3>{}, kNormal ? 4 : 1);
    if constexpr (kNormal) {
      fits(std::integral_constant<int, 7>{}, 4);
      fits(std::integral_constant<int, 5>{}, 4);
      fits(std::integral_constant<int, 4>{}, 8);
      fits(std::integral_constant<int, 2>{}, 2);
      fits(std::integral_constant<int, 0>{}, 2);
    }
  });
}

template <bool kSigned, Quality kQuality>
void launch_bc6h_pipeline(const float* pixels, int width, int height, int channels, BlockGrid grid, uint8_t* blocks,
                          cudaStream_t stream) {
  using Plan = bc6h_detail::SearchPlan;
  constexpr int kPartitions = kQuality == Quality::kFast ? 1 : (kQuality == Quality::kNormal ? 3 : 8);
  constexpr int kMaxFits =
      bc6h_detail::kMaxOneRegionFits + kPartitions * bc6h_detail::two_region_modes(kQuality);
  // Partition order at high only (normal: no gain, fast: slower; H200, Kodak 1).
  constexpr int kLists = kQuality == Quality::kHigh ? kPartitions : 0;
  run_search_chunks<Plan, kSigned>(grid, blocks, kMaxFits, 32, kLists, "BC6H", stream,
                          [&](int64_t first, int n, int chunk, unsigned launch_blocks,
                              const SearchScratch<Plan>& scratch) {
    bc6h_score_kernel<kSigned><<<dim3(launch_blocks, kBc6hScoreSlices), kThreads, 0, stream>>>(
        pixels, width, height, channels, grid.blocks_x, first, n, chunk, scratch);
    bc6h_plan_kernel<kSigned, kQuality><<<launch_blocks, kThreads, 0, stream>>>(
        pixels, width, height, channels, grid.blocks_x, first, n, chunk, scratch);
    if constexpr (kLists > 0) sort_by_partitions(scratch, chunk, launch_blocks, kLists, stream);
    bc6h_fit_kernel<kSigned, kQuality><<<dim3(launch_blocks, kMaxFits), kThreads, 0, stream>>>(
        pixels, width, height, channels, grid.blocks_x, first, chunk, scratch);
  });
}

template <FormatId kFormat, Quality kQuality>
void launch_one_pass(const float* pixels, int width, int height, int channels, BlockGrid grid, uint8_t* blocks,
                     cudaStream_t stream) {
  const unsigned launch_blocks = static_cast<unsigned>((grid.blocks() + kThreads - 1) / kThreads);
  encode_blocks_kernel<kFormat, kQuality><<<launch_blocks, kThreads, 0, stream>>>(
      pixels, width, height, channels, grid.blocks_x, grid.blocks_y, format_info(kFormat).bytes_per_block, blocks);
}

// BC6H and BC7 fast/normal search through the pipeline above; BC7 high (whose fits differ
// block to block) and BC1-BC5 one thread per block.
template <FormatId kFormat, Quality kQuality>
void launch_level(const float* pixels, int width, int height, int channels, BlockGrid grid, uint8_t* blocks,
                  cudaStream_t stream) {
  if constexpr (kFormat == FormatId::kBC7 && kQuality != Quality::kHigh) {
    launch_bc7_pipeline<kQuality>(pixels, width, height, channels, grid, blocks, stream);
  } else if constexpr (kFormat == FormatId::kBC6HUf16 || kFormat == FormatId::kBC6HSf16) {
    launch_bc6h_pipeline<kFormat == FormatId::kBC6HSf16, kQuality>(pixels, width, height, channels, grid, blocks,
                                                                    stream);
  } else {
    launch_one_pass<kFormat, kQuality>(pixels, width, height, channels, grid, blocks, stream);
  }
}

template <FormatId kFormat>
void launch_encode_format(Quality quality, const float* pixels, int width, int height, int channels, BlockGrid grid,
                          uint8_t* blocks, cudaStream_t stream) {
  switch (quality) {
    case Quality::kFast:
      launch_level<kFormat, Quality::kFast>(pixels, width, height, channels, grid, blocks, stream);
      break;
    case Quality::kNormal:
      launch_level<kFormat, Quality::kNormal>(pixels, width, height, channels, grid, blocks, stream);
      break;
    case Quality::kHigh:
      launch_level<kFormat, Quality::kHigh>(pixels, width, height, channels, grid, blocks, stream);
      break;
    default:  // the BC rows take fast, normal and high only (checked by codec.cpp)
      break;
  }
}
#endif

}  // namespace cuda_encode
}  // namespace bcfeat
