// Codebook assignment: each sub-vector of a feature row gets the index of its nearest
// codebook entry, on the CPU or on CUDA with identical results.
//
// A row of D values splits into S = ceil(D / width) sub-vectors of `width` channels (the
// last one zero-padded). Sub-vector s is compared with codebook `s` when `per_subspace`
// (product quantization) or with codebook 0 otherwise. Distances are squared Euclidean,
// accumulated in double in channel order by shared host/device code; ties go to the lower
// index.
#pragma once

#include <cstdint>
#include <vector>

#include "bcfeat/kernels/host_device.h"

namespace bcfeat {

struct CodebookShape {
  int64_t rows = 0, dim = 0;
  int width = 1, entries = 2;
  bool per_subspace = false;
  BCFEAT_HD int64_t subspaces() const { return (dim + width - 1) / width; }
};

// Index of the entry of `book` (entries × width floats) nearest to sub-vector `s` of `row`.
BCFEAT_HD int nearest_entry(const float* row, int64_t s, const CodebookShape& shape, const float* book) {
  int best = 0;
  double best_distance = 0.0;
  for (int e = 0; e < shape.entries; ++e) {
    double distance = 0.0;
    for (int j = 0; j < shape.width; ++j) {
      const int64_t d = s * shape.width + j;
      const double value = d < shape.dim ? static_cast<double>(row[d]) : 0.0;
      const double diff = value - static_cast<double>(book[e * shape.width + j]);
      distance += diff * diff;
    }
    if (e == 0 || distance < best_distance) {
      best = e;
      best_distance = distance;
    }
  }
  return best;
}

// Indices [rows, S] (row-major) for features `x` [rows, dim] and `books` (1 or S codebooks of
// entries × width floats).
std::vector<int32_t> codebook_assign_cpu(const float* x, const CodebookShape& shape, const float* books);
// The same on CUDA (host buffers; throws std::runtime_error without a usable GPU).
std::vector<int32_t> codebook_assign_cuda(const float* x, const CodebookShape& shape, const float* books);

}  // namespace bcfeat
