// Texture compressor. A texel holds C consecutive channels of one token (C = 3 for bc1,
// whose alpha is one bit; 4 for bc2/bc3; 1 for bc4; 2 for bc5); G = ceil(D / C) groups.
// Layouts place texels so that a 4×4 block covers:
//   spatial        16 neighbouring tokens — per image and group, an h×w texture of the token grid
//   token_channel  4 consecutive tokens × 4 groups — per image, one texture, tokens along y,
//                  groups along x (G × N texels)
//   channel        4×4 neighbouring groups of one token — each token's G texels folded into a
//                  tile of tw × th texels (tw = 4·ceil(√G / 4), th a multiple of 4), tiles
//                  stacked along y, one texture per image
//
// Values are mapped affinely into the format's domain ([0, 1] unorm, [−1, 1] snorm) with
// a minimum and maximum stored in fp16 (rounded outward so the range still covers the
// data, or its clip_percentile-th to (100 − clip_percentile)-th percentiles, values beyond
// them clipped): per channel over the whole tensor (`per_channel`), or per texture and channel
// slot (`per_texture`). Channels that pad D up to a multiple of C are encoded as the
// domain's midpoint and dropped on decode.
//
// Formats with profiles store the ldr profile's domain or the hdr profile's (format_domain).
// Blocks cover block_width x block_height texels, so the layouts above group that many
// tokens / channel groups per block for formats with other block sizes.
//
// BC6H and HDR ASTC formats can instead take the values directly (value_scale = direct; UF16 needs them
// non-negative) or divided by a per-channel fp16 scale (value_scale = scale: max |x| → 1).
//
// Rotations: `pca` (eigenvectors of the channels' second moments, fp16 D'×D' matrix) or
// `hadamard` (orthonormal Walsh–Hadamard blocks of the powers of two that sum to D', after
// sign flips drawn from a stored u32 seed). Channel orders: `variance` (decreasing) or
// `correlation` (a greedy chain: start from the widest channel, repeatedly append the
// remaining channel most correlated (|ρ|) with the last one, so that correlated channels
// share texels and blocks).
//
// Side information is fitted on the tensor itself and stored in its stream (scope
// per_tensor), or, with scope per_dataset after fit() on calibration features, once for the
// dataset: outlier channel indices, rotation, permutation and per-channel value maps then
// sit in the shared state (shared_bytes()), and the stream keeps only what is per tensor
// (kept tokens, outlier values, per-texture maps, blocks). Values of later tensors outside a
// shared map's range are clipped.
//
// Stream: fp16 values of the kept tokens (keep_tokens, e.g. [0] for a CLS token, which stay
// out of the textures); the u16 indices and fp16 values of the outlier channels (the
// `outlier_channels` channels with the widest range, also kept out); with
// rotation = pca, the fp16 D'×D' rotation (hadamard: its u32 seed); with a channel order,
// the u16 permutation of the remaining channels; fp16 (min, max) pairs (value_scale scale:
// one fp16 scale per channel; direct: nothing); then every texture's blocks (image-major, then channel
// group), ceil(h/4)·ceil(w/4) blocks each — so padding of odd grids is counted too.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <numeric>
#include <optional>

#include <Eigen/Dense>

#include "bcfeat/framework/compressor.h"
#include "bcfeat/framework/error.h"
#include "bcfeat/kernels/codec.h"
#include "bcfeat/kernels/float_formats.h"

namespace bcfeat {

namespace {

// Little-endian u16 in and out of a byte stream.
void append_u16(std::vector<uint8_t>& bytes, uint32_t value) {
  bytes.push_back(static_cast<uint8_t>(value & 0xff));
  bytes.push_back(static_cast<uint8_t>((value >> 8) & 0xff));
}
uint16_t read_u16(const std::vector<uint8_t>& bytes, size_t& position) {
  const uint16_t value = static_cast<uint16_t>(bytes[position] | (bytes[position + 1] << 8));
  position += 2;
  return value;
}

class TextureCompressor : public Compressor {
 public:
  explicit TextureCompressor(const CompressionOptions& options) : options_(options) {
    format_ = find_format(options.format);
    if (!format_) {
      throw_input_error("compression.format '{}' is not a block format; valid: {}", options.format,
                        join(format_names()));
    }
    try {
      quality_ = parse_quality(*format_, options.quality);
      profile_ = parse_profile(*format_, options.profile);
    } catch (const std::invalid_argument& e) {
      throw_input_error("compression: {}", e.what());
    }
    domain_ = format_domain(*format_, profile_);
    channels_ = format_->channels;
    slots_ = format_->value_channels;
    if (options.value_scale != "affine" && !half_format()) {
      throw_input_error("compression.value_scale '{}' needs a half-float format (bc6h_uf16, bc6h_sf16, or a format "
                        "with profile hdr), not {}",
                        options.value_scale, options.format);
    }
    // The encoder runs on the GPU where the format has one there (else on the CPU); the
    // decoder runs on the device asked for.
    if (options.device == "cuda") {
      encoder_ = format_->has_encoder(Backend::kCuda) ? Backend::kCuda : Backend::kCpu;
      decoder_ = Backend::kCuda;
      if (!format_->has_decoder(decoder_)) {
        throw_input_error("compression.device cuda: {}", decoder_unavailable(*format_, decoder_));
      }
    }
    if (options.device == "cuda" && !cuda_codec_available()) {
      throw_input_error("compression.device is cuda but no CUDA device is usable here");
    }
  }

  // scope per_dataset: outlier channels, rotation, channel order and per-channel value maps
  // fitted once on calibration features and shared by every tensor compressed afterwards.
  void fit(const torch::Tensor& calibration) override {
    if (options_.scope != "per_dataset") return;
    shared_ = fit_side(pack_tokens(calibration));
    shared_bytes_ = static_cast<int64_t>(side_bytes_of(*shared_).size());
  }

  int64_t shared_bytes() const override { return shared_ ? shared_bytes_ : 0; }

  // Tokens listed in keep_tokens (e.g. a CLS token) and the `outlier_channels` channels
  // with the widest range are stored as fp16 in front of the stream and left out of the
  // textures.
  Compressed compress(const torch::Tensor& features) const override {
    const std::vector<int64_t> kept = kept_tokens(features.size(1));
    const torch::Tensor packed_tokens = pack_tokens(features);
    if (shared_ && shared_->dim != features.size(2)) {
      throw_input_error("features have D = {} but the shared texture maps were fitted on D = {}", features.size(2),
                        shared_->dim);
    }
    const Side side = shared_ ? *shared_ : fit_side(packed_tokens);
    Compressed out;
    out.shape = features.sizes().vec();
    if (!kept.empty()) append_half(out.bytes, features.index_select(1, torch::tensor(kept, torch::kLong)));
    if (!shared_) {
      const std::vector<uint8_t> stored = side_bytes_of(side);
      out.bytes.insert(out.bytes.end(), stored.begin(), stored.end());
    }
    if (!side.outliers.empty()) {
      append_half(out.bytes, packed_tokens.index_select(2, torch::tensor(side.outliers, torch::kLong)));
    }
    const Compressed packed = compress_packed(transform(packed_tokens, side), side);
    out.side_bytes = static_cast<int64_t>(out.bytes.size()) + packed.side_bytes;
    out.bytes.insert(out.bytes.end(), packed.bytes.begin(), packed.bytes.end());
    return out;
  }

  torch::Tensor decompress(const Compressed& data) const override {
    const int64_t batch = data.shape[0], tokens = data.shape[1], dim = data.shape[2];
    const std::vector<int64_t> kept = kept_tokens(tokens);
    const int64_t packed_count = tokens - static_cast<int64_t>(kept.size());
    size_t position = 0;
    torch::Tensor kept_values = read_half(data.bytes, position, {batch, static_cast<int64_t>(kept.size()), dim});
    const Side side = shared_ ? *shared_ : read_side(data.bytes, position, dim);
    const int64_t outlier_count = static_cast<int64_t>(side.outliers.size());
    torch::Tensor outlier_values = read_half(data.bytes, position, {batch, packed_count, outlier_count});
    const int64_t inlier_count = dim - outlier_count;
    Compressed packed;
    packed.shape = {batch, packed_count, inlier_count};
    packed.side_bytes = data.side_bytes - static_cast<int64_t>(position);
    packed.bytes.assign(data.bytes.begin() + static_cast<std::ptrdiff_t>(position), data.bytes.end());
    torch::Tensor inliers = untransform(decompress_packed(packed, side), side);
    torch::Tensor packed_tokens = torch::empty({batch, packed_count, dim}, torch::kFloat32);
    if (side.outliers.empty()) {
      packed_tokens = inliers;
    } else {
      packed_tokens.index_copy_(2, complement(dim, side.outliers), inliers);
      packed_tokens.index_copy_(2, torch::tensor(side.outliers, torch::kLong), outlier_values);
    }
    if (kept.empty()) return packed_tokens;
    torch::Tensor out = torch::empty(data.shape, torch::kFloat32);
    out.index_copy_(1, complement(tokens, kept), packed_tokens);
    out.index_copy_(1, torch::tensor(kept, torch::kLong), kept_values);
    return out;
  }

 private:
  // Side information fitted on a tensor (or a dataset's calibration features): outlier
  // channels, rotation, channel order, per-channel value maps (fp16 pairs, or scales).
  struct Side {
    int64_t dim = 0;
    std::vector<int64_t> outliers;
    std::vector<uint16_t> matrix;  // pca
    uint32_t seed = 0;             // hadamard
    std::vector<int64_t> order;
    std::vector<uint16_t> ranges;  // per_channel maps: (low, high) per channel, or one scale per channel
  };

  bool half_format() const { return domain_ == ValueDomain::kHalf || domain_ == ValueDomain::kUnsignedHalf; }
  bool signed_domain() const { return domain_ == ValueDomain::kSnorm || domain_ == ValueDomain::kHalf; }
  const char* format_name() const { return format_->name; }
  int64_t texture_bytes(int64_t width, int64_t height) const {
    return compressed_size(*format_, static_cast<int>(width), static_cast<int>(height));
  }
  bool shared_ranges() const {
    return options_.value_scale == "scale" || (options_.value_scale == "affine" && options_.value_map == "per_channel");
  }

  torch::Tensor pack_tokens(const torch::Tensor& features) const {
    const std::vector<int64_t> kept = kept_tokens(features.size(1));
    return kept.empty() ? features : features.index_select(1, complement(features.size(1), kept)).contiguous();
  }

  Side fit_side(const torch::Tensor& packed_tokens) const {
    Side side;
    side.dim = packed_tokens.size(2);
    side.outliers = outlier_channels(packed_tokens);
    const torch::Tensor inliers =
        side.outliers.empty() ? packed_tokens
                              : packed_tokens.index_select(2, complement(side.dim, side.outliers)).contiguous();
    torch::Tensor rotated = inliers;
    if (options_.rotation == "pca") {
      side.matrix = pca_rotation(inliers);
      rotated = rotate(inliers, side.matrix, false);
    } else if (options_.rotation == "hadamard") {
      side.seed = 0x2545F491u;
      rotated = hadamard(inliers, side.seed, false);
    }
    torch::Tensor ordered = rotated;
    if (options_.channel_order == "variance") side.order = variance_order(rotated);
    if (options_.channel_order == "correlation") side.order = correlation_order(rotated);
    if (!side.order.empty()) ordered = rotated.index_select(2, torch::tensor(side.order, torch::kLong)).contiguous();
    if (shared_ranges()) side.ranges = fit_ranges(ordered);
    return side;
  }

  std::vector<uint8_t> side_bytes_of(const Side& side) const {
    std::vector<uint8_t> bytes;
    for (int64_t channel : side.outliers) append_u16(bytes, static_cast<uint32_t>(channel));
    for (uint16_t bits : side.matrix) append_u16(bytes, bits);
    if (options_.rotation == "hadamard") {
      append_u16(bytes, side.seed & 0xffffu);
      append_u16(bytes, side.seed >> 16);
    }
    for (int64_t channel : side.order) append_u16(bytes, static_cast<uint32_t>(channel));
    for (uint16_t bits : side.ranges) append_u16(bytes, bits);
    return bytes;
  }

  Side read_side(const std::vector<uint8_t>& bytes, size_t& position, int64_t dim) const {
    Side side;
    side.dim = dim;
    for (int64_t k = 0; k < options_.outlier_channels; ++k) side.outliers.push_back(read_u16(bytes, position));
    const int64_t inliers = dim - options_.outlier_channels;
    if (options_.rotation == "pca") {
      for (int64_t k = 0; k < inliers * inliers; ++k) side.matrix.push_back(read_u16(bytes, position));
    } else if (options_.rotation == "hadamard") {
      side.seed = read_u16(bytes, position);
      side.seed |= static_cast<uint32_t>(read_u16(bytes, position)) << 16;
    }
    if (options_.channel_order != "identity") {
      for (int64_t k = 0; k < inliers; ++k) side.order.push_back(read_u16(bytes, position));
    }
    if (shared_ranges()) {
      const int64_t count = options_.value_scale == "scale" ? inliers : 2 * inliers;
      for (int64_t k = 0; k < count; ++k) side.ranges.push_back(read_u16(bytes, position));
    }
    return side;
  }

  torch::Tensor transform(const torch::Tensor& packed_tokens, const Side& side) const {
    torch::Tensor x = side.outliers.empty()
                          ? packed_tokens
                          : packed_tokens.index_select(2, complement(side.dim, side.outliers)).contiguous();
    if (!side.matrix.empty()) x = rotate(x, side.matrix, false);
    if (options_.rotation == "hadamard") x = hadamard(x, side.seed, false);
    if (!side.order.empty()) x = x.index_select(2, torch::tensor(side.order, torch::kLong)).contiguous();
    return x;
  }

  torch::Tensor untransform(torch::Tensor x, const Side& side) const {
    if (!side.order.empty()) {
      torch::Tensor unordered = torch::empty_like(x);
      unordered.index_copy_(2, torch::tensor(side.order, torch::kLong), x);
      x = unordered;
    }
    if (options_.rotation == "hadamard") x = hadamard(x, side.seed, true);
    if (!side.matrix.empty()) x = rotate(x, side.matrix, true);
    return x;
  }

  // Orthonormal block Walsh–Hadamard transform along D: blocks of the powers of two in D's
  // binary expansion (largest first, at most 256 wide: larger powers split into 256s), after
  // (forward) or before (inverse) sign flips from `seed`.
  static torch::Tensor hadamard(const torch::Tensor& features, uint32_t seed, bool inverse) {
    const int64_t dim = features.size(2);
    torch::Tensor x = features.to(torch::kFloat64).reshape({-1, dim}).contiguous();
    std::vector<double> sign(static_cast<size_t>(dim));
    uint64_t state = seed;
    for (auto& s : sign) {
      state = state * 6364136223846793005ull + 1442695040888963407ull;
      s = (state >> 63) ? -1.0 : 1.0;
    }
    double* v = x.data_ptr<double>();
    const int64_t rows = x.size(0);
    for (int64_t r = 0; r < rows; ++r) {
      double* row = v + r * dim;
      if (!inverse) {
        for (int64_t d = 0; d < dim; ++d) row[d] *= sign[static_cast<size_t>(d)];
      }
      int64_t start = 0;
      while (start < dim) {
        int64_t size = 256;
        while (size > dim - start) size >>= 1;
        for (int64_t h = 1; h < size; h <<= 1) {
          for (int64_t i = start; i < start + size; i += 2 * h) {
            for (int64_t j = i; j < i + h; ++j) {
              const double a = row[j], b = row[j + h];
              row[j] = a + b;
              row[j + h] = a - b;
            }
          }
        }
        const double norm = 1.0 / std::sqrt(static_cast<double>(size));
        for (int64_t d = start; d < start + size; ++d) row[d] *= norm;
        start += size;
      }
      if (inverse) {
        for (int64_t d = 0; d < dim; ++d) row[d] *= sign[static_cast<size_t>(d)];
      }
    }
    return x.reshape(features.sizes()).to(torch::kFloat32).contiguous();
  }

  // Greedy chain of correlated channels (see the header comment).
  static std::vector<int64_t> correlation_order(const torch::Tensor& features) {
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

  std::vector<int64_t> kept_tokens(int64_t tokens) const {
    std::vector<int64_t> kept(options_.keep_tokens.begin(), options_.keep_tokens.end());
    std::sort(kept.begin(), kept.end());
    for (size_t i = 0; i < kept.size(); ++i) {
      if (kept[i] < 0 || kept[i] >= tokens) throw_input_error("compression.keep_tokens has {} but N = {}", kept[i], tokens);
      if (i > 0 && kept[i] == kept[i - 1]) throw_input_error("compression.keep_tokens lists token {} twice", kept[i]);
    }
    if (static_cast<int64_t>(kept.size()) >= tokens) throw_input_error("compression.keep_tokens keeps every token");
    return kept;
  }

  // The `outlier_channels` channels with the widest value range (ties: lower index), sorted.
  std::vector<int64_t> outlier_channels(const torch::Tensor& features) const {
    const int64_t count = options_.outlier_channels, dim = features.size(2);
    if (count == 0) return {};
    if (count >= dim) throw_input_error("compression.outlier_channels = {} must be below D = {}", count, dim);
    const torch::Tensor flat = features.reshape({-1, dim});
    const torch::Tensor range = (std::get<0>(flat.max(0)) - std::get<0>(flat.min(0))).contiguous();
    std::vector<int64_t> order(dim);
    for (int64_t d = 0; d < dim; ++d) order[d] = d;
    const float* r = range.data_ptr<float>();
    std::stable_sort(order.begin(), order.end(), [r](int64_t a, int64_t b) { return r[a] > r[b]; });
    std::vector<int64_t> chosen(order.begin(), order.begin() + count);
    std::sort(chosen.begin(), chosen.end());
    return chosen;
  }

  // PCA rotation of the channels: eigenvectors of the (uncentred) second-moment matrix, by
  // decreasing eigenvalue, stored as fp16 (column k = component k). Encoder and decoder
  // use the stored fp16 matrix: y = x·V, x = y·V⁻¹ (V⁻¹ from V in double precision).
  static std::vector<uint16_t> pca_rotation(const torch::Tensor& features) {
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

  static torch::Tensor rotate(const torch::Tensor& features, const std::vector<uint16_t>& matrix, bool inverse) {
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
  static std::vector<int64_t> variance_order(const torch::Tensor& features) {
    const int64_t dim = features.size(2);
    const torch::Tensor variance = features.reshape({-1, dim}).to(torch::kFloat64).var(0, false).contiguous();
    const double* v = variance.data_ptr<double>();
    std::vector<int64_t> order(dim);
    for (int64_t d = 0; d < dim; ++d) order[d] = d;
    std::stable_sort(order.begin(), order.end(), [v](int64_t a, int64_t b) { return v[a] > v[b]; });
    return order;
  }

  // 0..n−1 without the (sorted) `removed`.
  static torch::Tensor complement(int64_t n, const std::vector<int64_t>& removed) {
    std::vector<int64_t> index;
    for (int64_t i = 0; i < n; ++i) {
      if (!std::binary_search(removed.begin(), removed.end(), i)) index.push_back(i);
    }
    return torch::tensor(index, torch::kLong);
  }

  static void append_half(std::vector<uint8_t>& bytes, const torch::Tensor& values_in) {
    const torch::Tensor values = values_in.contiguous();
    const float* v = values.data_ptr<float>();
    for (int64_t i = 0; i < values.numel(); ++i) {
      if (std::fabs(v[i]) > 65504.0f) throw_input_error("feature value {} exceeds the fp16 range", v[i]);
      append_u16(bytes, float_to_half_bits(v[i]));
    }
  }

  static torch::Tensor read_half(const std::vector<uint8_t>& bytes, size_t& position, std::vector<int64_t> shape) {
    torch::Tensor out = torch::empty(shape, torch::kFloat32);
    float* v = out.data_ptr<float>();
    for (int64_t i = 0; i < out.numel(); ++i) v[i] = half_bits_to_float(read_u16(bytes, position));
    return out;
  }

  // Value maps for (channel) or (image, channel) groups: fp16 (low, high) pairs — min/max,
  // or the clip_percentile-th and (100 − clip_percentile)-th percentiles (nearest rank),
  // rounded outward — or, for value_scale = scale, one fp16 scale (max |x|, rounded up).
  std::vector<uint16_t> fit_ranges(const torch::Tensor& features, bool per_image = false) const {
    const int64_t batch = features.size(0), tokens = features.size(1), dim = features.size(2);
    const float* x = features.data_ptr<float>();
    const int64_t ranges = per_image ? batch * dim : dim;
    std::vector<float> low(ranges, 3.0e38f), high(ranges, -3.0e38f);
    if (options_.clip_percentile > 0.0 && options_.value_scale == "affine") {
      std::vector<std::vector<float>> members(ranges);
      for (int64_t b = 0; b < batch; ++b) {
        for (int64_t t = 0; t < tokens; ++t) {
          for (int64_t d = 0; d < dim; ++d) members[per_image ? b * dim + d : d].push_back(x[(b * tokens + t) * dim + d]);
        }
      }
      for (int64_t r = 0; r < ranges; ++r) {
        auto& v = members[r];
        const auto last = static_cast<int64_t>(v.size()) - 1;
        const auto rank = static_cast<int64_t>(std::llround(options_.clip_percentile / 100.0 * last));
        std::nth_element(v.begin(), v.begin() + rank, v.end());
        low[r] = v[rank];
        std::nth_element(v.begin(), v.begin() + (last - rank), v.end());
        high[r] = v[last - rank];
      }
    } else {
      for (int64_t b = 0; b < batch; ++b) {
        for (int64_t t = 0; t < tokens; ++t) {
          for (int64_t d = 0; d < dim; ++d) {
            const int64_t r = per_image ? b * dim + d : d;
            const float v = x[(b * tokens + t) * dim + d];
            low[r] = std::min(low[r], v);
            high[r] = std::max(high[r], v);
          }
        }
      }
    }
    std::vector<uint16_t> out;
    for (int64_t r = 0; r < ranges; ++r) {
      if (std::fabs(low[r]) > 65504.0f || std::fabs(high[r]) > 65504.0f) {
        throw_input_error("feature range [{}, {}] exceeds fp16, so the texture value map cannot be stored", low[r], high[r]);
      }
      if (options_.value_scale == "scale") {
        out.push_back(half_bits_toward(std::max(std::fabs(low[r]), std::fabs(high[r])), true));
      } else {
        out.push_back(half_bits_toward(low[r], false));
        out.push_back(half_bits_toward(high[r], true));
      }
    }
    return out;
  }

  // Value of the format's domain for feature value v under map r (maps as fp16 bits).
  float to_texel(float v, const uint16_t* map, bool is_signed) const {
    if (options_.value_scale == "direct") return v;
    if (options_.value_scale == "scale") {
      const float scale = half_bits_to_float(map[0]);
      const float unit = scale > 0.0f ? v / scale : 0.0f;
      return std::min(1.0f, std::max(is_signed ? -1.0f : 0.0f, unit));
    }
    const float low = half_bits_to_float(map[0]), high = half_bits_to_float(map[1]);
    const float span = high - low;
    const float unit = std::min(1.0f, std::max(0.0f, span > 0.0f ? (v - low) / span : 0.0f));
    return is_signed ? 2.0f * unit - 1.0f : unit;
  }
  float from_texel(float texel, const uint16_t* map, bool is_signed) const {
    if (options_.value_scale == "direct") return texel;
    if (options_.value_scale == "scale") return texel * half_bits_to_float(map[0]);
    const float low = half_bits_to_float(map[0]), high = half_bits_to_float(map[1]);
    const float unit = is_signed ? (texel + 1.0f) * 0.5f : texel;
    return low + unit * (high - low);
  }

  std::vector<uint8_t> encode_texture(const std::vector<float>& pixels, int width, int height) const {
    return encode_image(*format_, encoder_, pixels.data(), width, height, 4, CodecSettings{quality_, profile_, 0});
  }
  std::vector<float> decode_texture(const uint8_t* blocks, int width, int height) const {
    return decode_image(*format_, decoder_, blocks, width, height, CodecSettings{quality_, profile_, 0});
  }

  Compressed compress_packed(const torch::Tensor& features, const Side& side) const {
    const Geometry g = geometry(features.sizes().vec());
    const float* x = features.data_ptr<float>();
    const bool is_signed = signed_domain();
    if (domain_ == ValueDomain::kUnsignedHalf && options_.value_scale != "affine" &&
        features.min().item<float>() < 0.0f) {
      throw_input_error("{} stores no negative values: use value_scale affine (or bc6h_sf16) for these features",
                        format_name());
    }
    if (options_.value_scale == "direct" && features.abs().max().item<float>() > 65504.0f) {
      throw_input_error("value_scale direct: feature values exceed the half-float range (max |x| > 65504)");
    }
    const bool per_texture = options_.value_scale == "affine" && options_.value_map == "per_texture";
    Compressed out;
    out.shape = features.sizes().vec();
    std::vector<uint16_t> maps = per_texture ? fit_ranges(features, true) : side.ranges;
    for (uint16_t bits : (per_texture ? maps : std::vector<uint16_t>{})) append_u16(out.bytes, bits);
    out.side_bytes = static_cast<int64_t>(out.bytes.size());
    const int stride = options_.value_scale == "affine" ? 2 : 1;
    // Texels no token maps to (and channels beyond D) hold the domain's midpoint; BC1's
    // alpha is opaque.
    std::vector<float> fill(4, is_signed || half_format() ? 0.0f : 0.5f);
    if (slots_ == 3) fill[3] = 1.0f;
    const size_t texels = static_cast<size_t>(g.height) * g.width;
    std::vector<float> pixels(texels * 4);
    out.bytes.resize(out.bytes.size() + g.textures * g.texture_bytes);
    for (int64_t texture = 0; texture < g.textures; ++texture) {
      for (size_t i = 0; i < texels; ++i) std::copy(fill.begin(), fill.end(), pixels.begin() + 4 * i);
      for_each_texel(g, texture, [&](int64_t b, int64_t t, int64_t group, int64_t px, int64_t py) {
        for (int c = 0; c < slots_; ++c) {
          const int64_t d = group * slots_ + c;
          if (d >= g.dim) break;
          const int64_t r = per_texture ? b * g.dim + d : d;
          const uint16_t* map = maps.empty() ? nullptr : &maps[stride * r];
          pixels[(py * g.width + px) * 4 + c] = to_texel(x[(b * g.tokens + t) * g.dim + d], map, is_signed);
        }
      });
      const std::vector<uint8_t> blocks = encode_texture(pixels, static_cast<int>(g.width), static_cast<int>(g.height));
      std::memcpy(&out.bytes[out.side_bytes + texture * g.texture_bytes], blocks.data(), blocks.size());
    }
    return out;
  }

  torch::Tensor decompress_packed(const Compressed& data, const Side& side) const {
    const Geometry g = geometry(data.shape);
    const bool is_signed = signed_domain();
    const bool per_texture = options_.value_scale == "affine" && options_.value_map == "per_texture";
    const int stride = options_.value_scale == "affine" ? 2 : 1;
    std::vector<uint16_t> maps = side.ranges;
    size_t position = 0;
    if (per_texture) {
      maps.clear();
      for (int64_t k = 0; k < 2 * g.batch * g.dim; ++k) maps.push_back(read_u16(data.bytes, position));
    }
    torch::Tensor out = torch::empty(data.shape, torch::kFloat32);
    float* y = out.data_ptr<float>();
    for (int64_t texture = 0; texture < g.textures; ++texture) {
      const std::vector<float> pixels = decode_texture(&data.bytes[position + texture * g.texture_bytes],
                                                       static_cast<int>(g.width), static_cast<int>(g.height));
      for_each_texel(g, texture, [&](int64_t b, int64_t t, int64_t group, int64_t px, int64_t py) {
        for (int c = 0; c < slots_; ++c) {
          const int64_t d = group * slots_ + c;
          if (d >= g.dim) break;
          const int64_t r = per_texture ? b * g.dim + d : d;
          const uint16_t* map = maps.empty() ? nullptr : &maps[stride * r];
          y[(b * g.tokens + t) * g.dim + d] = from_texel(pixels[(py * g.width + px) * channels_ + c], map, is_signed);
        }
      });
    }
    return out;
  }

  struct Geometry {
    int64_t batch, tokens, dim, grid_h, grid_w, groups;  // the tensor
    int64_t tile_w, tile_h;                               // channel layout
    int64_t textures, width, height, texture_bytes;       // the textures
  };
  // Calls body(image, token, group, x, y) for every (token, channel group) stored in `texture`.
  template <class Body>
  void for_each_texel(const Geometry& g, int64_t texture, Body body) const {
    if (options_.layout == "spatial") {
      const int64_t image = texture / g.groups, group = texture % g.groups;
      for (int64_t t = 0; t < g.tokens; ++t) body(image, t, group, t % g.grid_w, t / g.grid_w);
      return;
    }
    for (int64_t t = 0; t < g.tokens; ++t) {
      for (int64_t group = 0; group < g.groups; ++group) {
        if (options_.layout == "token_channel") {
          body(texture, t, group, group, t);
        } else {  // channel: the token's groups folded into its tile
          body(texture, t, group, group % g.tile_w, t * g.tile_h + group / g.tile_w);
        }
      }
    }
  }

  Geometry geometry(const std::vector<int64_t>& shape) const {
    Geometry g{};
    g.batch = shape[0];
    g.tokens = shape[1];
    g.dim = shape[2];
    g.groups = (g.dim + slots_ - 1) / slots_;
    if (options_.layout == "token_channel") {
      g.textures = g.batch;
      g.width = g.groups;
      g.height = g.tokens;
    } else if (options_.layout == "channel") {
      const auto root = static_cast<int64_t>(std::ceil(std::sqrt(static_cast<double>(g.groups))));
      g.tile_w = 4 * ((root + 3) / 4);
      g.tile_h = 4 * (((g.groups + g.tile_w - 1) / g.tile_w + 3) / 4);
      g.textures = g.batch;
      g.width = g.tile_w;
      g.height = g.tokens * g.tile_h;
    }
    if (options_.layout != "spatial") {
      if (g.width > 65536 || g.height > (1 << 24)) throw_input_error("features too large for one texture per image");
      g.texture_bytes = texture_bytes(g.width, g.height);
      return g;
    }
    if (options_.tokens_hw.empty()) {
      const auto side = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(g.tokens))));
      if (side * side != g.tokens) {
        throw_input_error("{} tokens are not a square grid; set compression.tokens_hw to [h, w]", g.tokens);
      }
      g.grid_h = g.grid_w = side;
    } else {
      if (options_.tokens_hw.size() != 2) throw_input_error("compression.tokens_hw must be [h, w]");
      g.grid_h = options_.tokens_hw[0];
      g.grid_w = options_.tokens_hw[1];
      if (g.grid_h * g.grid_w != g.tokens) {
        throw_input_error("compression.tokens_hw [{}, {}] has {} tokens but the features have N = {}", g.grid_h,
                          g.grid_w, g.grid_h * g.grid_w, g.tokens);
      }
    }
    g.height = g.grid_h;
    g.width = g.grid_w;
    g.textures = g.batch * g.groups;
    g.texture_bytes = texture_bytes(g.width, g.height);
    return g;
  }

  CompressionOptions options_;
  std::optional<Side> shared_;  // scope per_dataset, after fit()
  int64_t shared_bytes_ = 0;
  const FormatInfo* format_ = nullptr;
  Quality quality_ = Quality::kNormal;
  Profile profile_ = Profile::kLdr;
  Backend encoder_ = Backend::kCpu, decoder_ = Backend::kCpu;
  ValueDomain domain_ = ValueDomain::kUnorm;
  int channels_ = 4;  // channels the decoder returns
  int slots_ = 1;
};

}  // namespace

std::unique_ptr<Compressor> make_texture_compressor(const CompressionOptions& options) {
  return std::make_unique<TextureCompressor>(options);
}

}  // namespace bcfeat
