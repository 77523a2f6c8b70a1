// Qualifiers that let one inline function serve host and device code.
//
// Block codecs and number formats are written once with BCFEAT_HD: under nvcc they are
// `__host__ __device__`, elsewhere plain `inline`, so the CPU driver and the CUDA kernel
// run the same source and therefore produce the same bits.
#pragma once

#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define BCFEAT_HD __host__ __device__ __forceinline__
#else
#define BCFEAT_HD inline
#endif

// A host/device function the device compiler must keep out of line. Used where inlining
// into a kernel with compile-time-constant arguments made the CUDA 13.0 device code
// compute a different result from the host (BC6H UF16 endpoint quantisation, see bc6h.h),
// and where inlining every call made a kernel too large for the instruction cache (BC6H's
// fit_mode and assign_indices).
#if defined(__CUDACC__)
#define BCFEAT_HD_NOINLINE inline __host__ __device__ __noinline__
#else
#define BCFEAT_HD_NOINLINE inline
#endif

// Full unrolling in device code, so that small arrays indexed by loop counters stay in
// registers instead of local memory (a no-op on the host).
#if defined(__CUDA_ARCH__)
#define BCFEAT_UNROLL _Pragma("unroll")
#else
#define BCFEAT_UNROLL
#endif

namespace bcfeat {

// memcpy-based bit cast (std::bit_cast is C++20); nvcc folds it to a register move.
template <class To, class From>
BCFEAT_HD To bit_cast_value(const From& from) {
  static_assert(sizeof(To) == sizeof(From), "bit_cast_value needs equal sizes");
  To to;
  memcpy(&to, &from, sizeof(To));
  return to;
}

// Index of the lowest set bit of a non-zero word.
BCFEAT_HD int lowest_bit(uint32_t word) {
#if defined(__CUDA_ARCH__)
  return __ffs(static_cast<int>(word)) - 1;
#else
  return __builtin_ctz(word);
#endif
}

}  // namespace bcfeat
