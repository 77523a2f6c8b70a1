// Channel transforms of the texture compressor (see channel_transforms.h).
#include "channel_transforms.h"

#include <algorithm>
#include <cmath>

#include <Eigen/Dense>

#include "bcfeat/framework/error.h"
#include "bcfeat/kernels/float_formats.h"

namespace bcfeat {

void append_u16(std::vector<uint8_t>& bytes, uint32_t value) {
  bytes.push_back(static_cast<uint8_t>(value & 0xff));
  bytes.push_back(static_cast<uint8_t>((value >> 8) & 0xff));
}

uint16_t read_u16(const std::vector<uint8_t>& bytes, size_t& position) {
  if (position + 2 > bytes.size()) {
    throw_input_error("the compressed stream ends at byte {} where more side information should follow", bytes.size());
  }
  const uint16_t value = static_cast<uint16_t>(bytes[position] | (bytes[position + 1] << 8));
  position += 2;
  return value;
}

void append_half(std::vector<uint8_t>& bytes, const torch::Tensor& values_in) {
  const torch::Tensor values = values_in.contiguous();
  const float* v = values.data_ptr<float>();
  for (int64_t i = 0; i < values.numel(); ++i) {
    if (std::fabs(v[i]) > 65504.0f) throw_input_error("feature value {} exceeds the fp16 range", v[i]);
    append_u16(bytes, float_to_half_bits(v[i]));
  }
}

torch::Tensor read_half(const std::vector<uint8_t>& bytes, size_t& position, std::vector<int64_t> shape) {
  torch::Tensor out = torch::empty(shape, torch::kFloat32);
  float* v = out.data_ptr<float>();
  for (int64_t i = 0; i < out.numel(); ++i) v[i] = half_bits_to_float(read_u16(bytes, position));
  return out;
}

// 0..n−1 without the (sorted) `removed`.
torch::Tensor complement_index(int64_t n, const std::vector<int64_t>& removed) {
  std::vector<int64_t> index;
  for (int64_t i = 0; i < n; ++i) {
    if (!std::binary_search(removed.begin(), removed.end(), i)) index.push_back(i);
  }
  return torch::tensor(index, torch::kLong);
}

std::vector<int64_t> widest_channels(const torch::Tensor& features, int64_t count) {
  const int64_t dim = features.size(2);
  if (count == 0) return {};
  if (count >= dim) throw_input_error("compression.outlier_channels = {} must be below D = {}", count, dim);
  const torch::Tensor flat = features.reshape({-1, dim});
  const torch::Tensor range = (std::get<0>(flat.max(0)) - std::get<0>(flat.min(0))).to(torch::kCPU).contiguous();
  std::vector<int64_t> order(dim);
  for (int64_t d = 0; d < dim; ++d) order[d] = d;
  const float* r = range.data_ptr<float>();
  std::stable_sort(order.begin(), order.end(), [r](int64_t a, int64_t b) { return r[a] > r[b]; });
  std::vector<int64_t> chosen(order.begin(), order.begin() + count);
  std::sort(chosen.begin(), chosen.end());
  return chosen;
}

// Orthonormal block Walsh–Hadamard transform along D: blocks of the powers of two in D's
// binary expansion (largest first, at most 256 wide: larger powers split into 256s), after
// (forward) or before (inverse) sign flips from `seed`.
torch::Tensor hadamard_rotate(const torch::Tensor& features, uint32_t seed, bool inverse) {
  const int64_t dim = features.size(2);
  std::vector<double> sign(static_cast<size_t>(dim));
  uint64_t state = seed;
  for (auto& s : sign) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    s = (state >> 63) ? -1.0 : 1.0;
  }
  // Every value is one double addition, subtraction or product of two others at each step, so
  // the result is the same on every device.
  const torch::Tensor signs = torch::tensor(sign, torch::kFloat64).to(features.device());
  torch::Tensor x = features.to(torch::kFloat64).reshape({-1, dim});
  const int64_t rows = x.size(0);
  if (!inverse) x = x * signs;
  std::vector<torch::Tensor> blocks;
  for (int64_t start = 0; start < dim;) {
    int64_t size = 256;
    while (size > dim - start) size >>= 1;
    torch::Tensor block = x.narrow(1, start, size);
    for (int64_t h = 1; h < size; h <<= 1) {
      const torch::Tensor pairs = block.reshape({rows, size / (2 * h), 2, h});
      const torch::Tensor a = pairs.select(2, 0), b = pairs.select(2, 1);
      block = torch::stack({a + b, a - b}, 2).reshape({rows, size});
    }
    blocks.push_back(block * (1.0 / std::sqrt(static_cast<double>(size))));
    start += size;
  }
  x = torch::cat(blocks, 1);
  if (inverse) x = x * signs;
  return x.reshape(features.sizes()).to(torch::kFloat32).contiguous();
}

// PCA rotation of the channels: eigenvectors of the (uncentred) second-moment matrix, by
// decreasing eigenvalue, stored as fp16 (column k = component k). Encoder and decoder
// use the stored fp16 matrix: y = x·V, x = y·V⁻¹ (V⁻¹ from V in double precision).
std::vector<uint16_t> pca_rotation(const torch::Tensor& features) {
  const int64_t dim = features.size(2);
  const torch::Tensor flat = features.reshape({-1, dim}).to(torch::kFloat64);
  const torch::Tensor moment = (flat.t().matmul(flat) / static_cast<double>(flat.size(0))).contiguous();
  const Eigen::Map<const Eigen::MatrixXd> m(moment.data_ptr<double>(), dim, dim);
  const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> solver(m);
  std::vector<uint16_t> matrix(dim * dim);
  for (int64_t k = 0; k < dim; ++k) {
    const Eigen::VectorXd vector = solver.eigenvectors().col(dim - 1 - k);  // eigenvalues ascend
    for (int64_t d = 0; d < dim; ++d) matrix[d * dim + k] = float_to_half_bits(static_cast<float>(vector(d)));
  }
  return matrix;
}

torch::Tensor matrix_rotate(const torch::Tensor& features, const std::vector<uint16_t>& matrix, bool inverse) {
  const int64_t dim = features.size(2);
  torch::Tensor v = torch::empty({dim, dim}, torch::kFloat64);
  double* values = v.data_ptr<double>();
  for (int64_t i = 0; i < dim * dim; ++i) values[i] = half_bits_to_float(matrix[i]);
  if (inverse) {
    const Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> stored(values, dim, dim);
    const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> inverted = stored.fullPivLu().inverse();
    std::copy(inverted.data(), inverted.data() + dim * dim, values);
  }
  return features.to(torch::kFloat64).matmul(v).to(torch::kFloat32).contiguous();
}

// Channels by decreasing variance over the tensor (ties: lower index), so that channels
// of similar spread share texels (bc1–bc3) and blocks (channel, token_channel layouts).
std::vector<int64_t> variance_order(const torch::Tensor& features) {
  const int64_t dim = features.size(2);
  const torch::Tensor variance = features.reshape({-1, dim}).to(torch::kFloat64).var(0, false).contiguous();
  const double* v = variance.data_ptr<double>();
  std::vector<int64_t> order(dim);
  for (int64_t d = 0; d < dim; ++d) order[d] = d;
  std::stable_sort(order.begin(), order.end(), [v](int64_t a, int64_t b) { return v[a] > v[b]; });
  return order;
}

// Greedy chain of correlated channels (see channel_transforms.h).
std::vector<int64_t> correlation_order(const torch::Tensor& features) {
  const int64_t dim = features.size(2);
  const torch::Tensor flat = features.reshape({-1, dim}).to(torch::kFloat64);
  const torch::Tensor centred = flat - flat.mean(0);
  const torch::Tensor variance = centred.pow(2).sum(0);
  const torch::Tensor scale = variance.sqrt().clamp_min(1e-300);
  const torch::Tensor correlation =
      (centred.t().matmul(centred) / scale.unsqueeze(0) / scale.unsqueeze(1)).abs().contiguous();
  const double* c = correlation.data_ptr<double>();
  const torch::Tensor var = variance.contiguous();
  const double* w = var.data_ptr<double>();
  std::vector<bool> used(static_cast<size_t>(dim), false);
  std::vector<int64_t> order;
  int64_t current = 0;
  for (int64_t d = 1; d < dim; ++d) {
    if (w[d] > w[current]) current = d;
  }
  while (true) {
    order.push_back(current);
    used[static_cast<size_t>(current)] = true;
    if (static_cast<int64_t>(order.size()) == dim) break;
    int64_t next = -1;
    for (int64_t d = 0; d < dim; ++d) {
      if (used[static_cast<size_t>(d)]) continue;
      if (next < 0 || c[current * dim + d] > c[current * dim + next]) next = d;
    }
    current = next;
  }
  return order;
}

ValueScale parse_value_scale(const std::string& name) {
  if (name == "direct") return ValueScale::kDirect;
  if (name == "scale") return ValueScale::kScale;
  return ValueScale::kAffine;
}

// Value maps for (channel) or (image, channel) groups: fp16 (low, high) pairs — min/max,
// or the clip_percentile-th and (100 − clip_percentile)-th percentiles (nearest rank),
// rounded outward — or, for value_scale = scale, one fp16 scale (max |x|, rounded up).
std::vector<uint16_t> ValueMap::fit(const torch::Tensor& features, bool per_image) const {
  const int64_t batch = features.size(0), tokens = features.size(1), dim = features.size(2);
  // One row per map, holding the values it covers (order statistics are exact on any device).
  const torch::Tensor rows = per_image ? features.permute({0, 2, 1}).reshape({batch * dim, tokens})
                                       : features.reshape({-1, dim}).t();
  torch::Tensor low, high;
  if (clip_percentile > 0.0 && scale == ValueScale::kAffine) {
    const int64_t last = rows.size(1) - 1;
    const auto rank = static_cast<int64_t>(std::llround(clip_percentile / 100.0 * static_cast<double>(last)));
    low = std::get<0>(rows.kthvalue(rank + 1, 1));
    high = std::get<0>(rows.kthvalue(last - rank + 1, 1));
  } else {
    low = std::get<0>(rows.min(1));
    high = std::get<0>(rows.max(1));
  }
  low = low.to(torch::kCPU).contiguous();
  high = high.to(torch::kCPU).contiguous();
  const float* lows = low.data_ptr<float>();
  const float* highs = high.data_ptr<float>();
  std::vector<uint16_t> out;
  for (int64_t r = 0; r < low.numel(); ++r) {
    if (std::fabs(lows[r]) > 65504.0f || std::fabs(highs[r]) > 65504.0f) {
      throw_input_error("feature range [{}, {}] exceeds fp16, so the texture value map cannot be stored", lows[r],
                        highs[r]);
    }
    if (scale == ValueScale::kScale) {
      out.push_back(half_bits_toward(std::max(std::fabs(lows[r]), std::fabs(highs[r])), true));
    } else {
      out.push_back(half_bits_toward(lows[r], false));
      out.push_back(half_bits_toward(highs[r], true));
    }
  }
  return out;
}

float ValueMap::to_domain(float v, const uint16_t* map, bool is_signed) const {
  if (scale == ValueScale::kDirect) return v;
  if (scale == ValueScale::kScale) {
    const float scale = half_bits_to_float(map[0]);
    const float unit = scale > 0.0f ? v / scale : 0.0f;
    return std::min(1.0f, std::max(is_signed ? -1.0f : 0.0f, unit));
  }
  const float low = half_bits_to_float(map[0]), high = half_bits_to_float(map[1]);
  const float span = high - low;
  const float unit = std::min(1.0f, std::max(0.0f, span > 0.0f ? (v - low) / span : 0.0f));
  return is_signed ? 2.0f * unit - 1.0f : unit;
}
float ValueMap::from_domain(float texel, const uint16_t* map, bool is_signed) const {
  if (scale == ValueScale::kDirect) return texel;
  if (scale == ValueScale::kScale) return texel * half_bits_to_float(map[0]);
  const float low = half_bits_to_float(map[0]), high = half_bits_to_float(map[1]);
  const float unit = is_signed ? (texel + 1.0f) * 0.5f : texel;
  return low + unit * (high - low);
}


}  // namespace bcfeat
