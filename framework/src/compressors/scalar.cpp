// Scalar baselines: fp16, bf16, asymmetric integer group quantization, scaled FP8.
//
// Groups. With axis `token` a group is `group_size` consecutive channels of one token
// (per-token quantization, as for activations); with axis `channel` it is `group_size`
// consecutive tokens of one channel (per-channel, as KIVI does for keys). group_size 0
// means the whole axis. The last group of an axis may be shorter; nothing is padded.
//
// Integer codes (bits b, L = 2^b − 1 levels): each group stores its minimum m and step s
// as fp16, rounded so that [m, m + L·s] still covers the group (m rounded toward −inf,
// s toward +inf), then q = clamp(round((x − m)/s), 0, L) and x̂ = m + q·s with the stored
// m and s — the decoder sees exactly what the encoder used. Codes are packed LSB-first.
// Stream: [fp16 m, fp16 s] per group, then the packed codes.
//
// FP8 codes: each group stores one fp16 scale a = amax / max_finite (rounded up);
// q = fp8(x / a) with saturation, x̂ = fp8⁻¹(q)·a. Stream: fp16 scales, then one byte per value.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "bcfeat/framework/compressor.h"
#include "bcfeat/framework/error.h"
#include "bcfeat/kernels/float_formats.h"

namespace bcfeat {

namespace {

struct Group {
  int64_t offset, stride, count;
};

std::vector<Group> make_groups(const std::vector<int64_t>& shape, const std::string& axis, int group_size) {
  const int64_t batch = shape[0], tokens = shape[1], dim = shape[2];
  std::vector<Group> groups;
  if (axis == "token") {
    const int64_t size = group_size > 0 ? std::min<int64_t>(group_size, dim) : dim;
    for (int64_t t = 0; t < batch * tokens; ++t) {
      for (int64_t d = 0; d < dim; d += size) groups.push_back({t * dim + d, 1, std::min(size, dim - d)});
    }
  } else {
    const int64_t size = group_size > 0 ? std::min<int64_t>(group_size, tokens) : tokens;
    for (int64_t b = 0; b < batch; ++b) {
      for (int64_t d = 0; d < dim; ++d) {
        for (int64_t n = 0; n < tokens; n += size) {
          groups.push_back({(b * tokens + n) * dim + d, dim, std::min(size, tokens - n)});
        }
      }
    }
  }
  return groups;
}

// The fp16 value nearest to `value` from below (toward −inf), and from above for value >= 0.
uint16_t half_at_most(float value) {
  uint16_t bits = float_to_half_bits(value);
  if (half_bits_to_float(bits) > value) {
    if (bits == 0) {
      bits = 0x8001u;
    } else {
      bits = (bits & 0x8000u) ? static_cast<uint16_t>(bits + 1) : static_cast<uint16_t>(bits - 1);
    }
  }
  return bits;
}
uint16_t half_at_least(float value) {
  uint16_t bits = float_to_half_bits(value);
  if (half_bits_to_float(bits) < value) ++bits;
  return bits;
}

void put_u16(std::vector<uint8_t>& out, size_t at, uint16_t value) { std::memcpy(&out[at], &value, 2); }
uint16_t get_u16(const std::vector<uint8_t>& in, size_t at) {
  uint16_t value;
  std::memcpy(&value, &in[at], 2);
  return value;
}

void check_half_range(float value, const char* what) {
  if (std::fabs(value) > 65504.0f) {
    throw_input_error("feature value {} exceeds the fp16 range, so its {} cannot be stored in fp16", value, what);
  }
}

class HalfCompressor : public Compressor {
 public:
  explicit HalfCompressor(bool bfloat) : bfloat_(bfloat) {}
  Compressed compress(const torch::Tensor& features) const override {
    const int64_t count = features.numel();
    const float* x = features.data_ptr<float>();
    Compressed out{std::vector<uint8_t>(2 * count), 0, features.sizes().vec()};
    for (int64_t i = 0; i < count; ++i) {
      if (!bfloat_) check_half_range(x[i], "fp16 code");
      put_u16(out.bytes, 2 * i, bfloat_ ? float_to_bfloat16_bits(x[i]) : float_to_half_bits(x[i]));
    }
    return out;
  }
  torch::Tensor decompress(const Compressed& data) const override {
    torch::Tensor out = torch::empty(data.shape, torch::kFloat32);
    float* y = out.data_ptr<float>();
    for (int64_t i = 0; i < out.numel(); ++i) {
      const uint16_t bits = get_u16(data.bytes, 2 * i);
      y[i] = bfloat_ ? bfloat16_bits_to_float(bits) : half_bits_to_float(bits);
    }
    return out;
  }

 private:
  bool bfloat_;
};

class IntCompressor : public Compressor {
 public:
  explicit IntCompressor(const CompressionOptions& options) : options_(options) {}
  Compressed compress(const torch::Tensor& features) const override {
    const std::vector<Group> groups = make_groups(features.sizes().vec(), options_.axis, options_.group_size);
    const int bits = options_.bits;
    const uint32_t levels = (1u << bits) - 1u;
    const int64_t count = features.numel();
    const size_t side = 4 * groups.size();
    Compressed out{std::vector<uint8_t>(side + (count * bits + 7) / 8, 0), static_cast<int64_t>(side),
                   features.sizes().vec()};
    const float* x = features.data_ptr<float>();
    uint64_t bit_position = 8ull * side;
    for (size_t g = 0; g < groups.size(); ++g) {
      const Group& group = groups[g];
      float low = x[group.offset], high = low;
      for (int64_t i = 1; i < group.count; ++i) {
        low = std::min(low, x[group.offset + i * group.stride]);
        high = std::max(high, x[group.offset + i * group.stride]);
      }
      check_half_range(low, "group minimum");
      check_half_range(high, "group maximum");
      const uint16_t min_bits = half_at_most(low);
      const float minimum = half_bits_to_float(min_bits);
      const uint16_t step_bits = high > minimum ? half_at_least((high - minimum) / static_cast<float>(levels)) : 0;
      const float step = half_bits_to_float(step_bits);
      put_u16(out.bytes, 4 * g, min_bits);
      put_u16(out.bytes, 4 * g + 2, step_bits);
      for (int64_t i = 0; i < group.count; ++i) {
        uint32_t code = 0;
        if (step > 0.0f) {
          const float scaled = rintf((x[group.offset + i * group.stride] - minimum) / step);
          code = static_cast<uint32_t>(std::min(std::max(scaled, 0.0f), static_cast<float>(levels)));
        }
        for (int b = 0; b < bits; ++b, ++bit_position) {
          if (code >> b & 1u) out.bytes[bit_position >> 3] |= static_cast<uint8_t>(1u << (bit_position & 7));
        }
      }
    }
    return out;
  }
  torch::Tensor decompress(const Compressed& data) const override {
    const std::vector<Group> groups = make_groups(data.shape, options_.axis, options_.group_size);
    torch::Tensor out = torch::empty(data.shape, torch::kFloat32);
    float* y = out.data_ptr<float>();
    const int bits = options_.bits;
    uint64_t bit_position = 8ull * 4 * groups.size();
    for (size_t g = 0; g < groups.size(); ++g) {
      const float minimum = half_bits_to_float(get_u16(data.bytes, 4 * g));
      const float step = half_bits_to_float(get_u16(data.bytes, 4 * g + 2));
      for (int64_t i = 0; i < groups[g].count; ++i) {
        uint32_t code = 0;
        for (int b = 0; b < bits; ++b, ++bit_position) {
          code |= static_cast<uint32_t>(data.bytes[bit_position >> 3] >> (bit_position & 7) & 1u) << b;
        }
        y[groups[g].offset + i * groups[g].stride] = minimum + static_cast<float>(code) * step;
      }
    }
    return out;
  }

 private:
  CompressionOptions options_;
};

class Fp8Compressor : public Compressor {
 public:
  explicit Fp8Compressor(const CompressionOptions& options)
      : options_(options), spec_(options.fp8_format == "e4m3" ? kFp8E4M3 : kFp8E5M2) {}
  Compressed compress(const torch::Tensor& features) const override {
    const std::vector<Group> groups = make_groups(features.sizes().vec(), options_.axis, options_.group_size);
    const size_t side = 2 * groups.size();
    Compressed out{std::vector<uint8_t>(side + features.numel()), static_cast<int64_t>(side), features.sizes().vec()};
    const float* x = features.data_ptr<float>();
    size_t code_position = side;
    for (size_t g = 0; g < groups.size(); ++g) {
      const Group& group = groups[g];
      float amax = 0.0f;
      for (int64_t i = 0; i < group.count; ++i) amax = std::max(amax, std::fabs(x[group.offset + i * group.stride]));
      uint16_t scale_bits = amax > 0.0f ? half_at_least(amax / spec_.max_finite) : 0;
      if (amax > 0.0f && scale_bits == 0) scale_bits = 1;  // below the smallest fp16 subnormal
      check_half_range(half_bits_to_float(scale_bits), "fp8 scale");
      const float scale = half_bits_to_float(scale_bits);
      put_u16(out.bytes, 2 * g, scale_bits);
      for (int64_t i = 0; i < group.count; ++i) {
        const float value = x[group.offset + i * group.stride];
        out.bytes[code_position++] = scale > 0.0f ? float_to_fp8_bits(value / scale, spec_) : 0;
      }
    }
    return out;
  }
  torch::Tensor decompress(const Compressed& data) const override {
    const std::vector<Group> groups = make_groups(data.shape, options_.axis, options_.group_size);
    torch::Tensor out = torch::empty(data.shape, torch::kFloat32);
    float* y = out.data_ptr<float>();
    size_t code_position = 2 * groups.size();
    for (size_t g = 0; g < groups.size(); ++g) {
      const float scale = half_bits_to_float(get_u16(data.bytes, 2 * g));
      for (int64_t i = 0; i < groups[g].count; ++i) {
        y[groups[g].offset + i * groups[g].stride] = fp8_bits_to_float(data.bytes[code_position++], spec_) * scale;
      }
    }
    return out;
  }

 private:
  CompressionOptions options_;
  Fp8Spec spec_;
};

}  // namespace

std::unique_ptr<Compressor> make_half_compressor(const CompressionOptions&) {
  return std::make_unique<HalfCompressor>(false);
}
std::unique_ptr<Compressor> make_bfloat16_compressor(const CompressionOptions&) {
  return std::make_unique<HalfCompressor>(true);
}
std::unique_ptr<Compressor> make_int_compressor(const CompressionOptions& options) {
  return std::make_unique<IntCompressor>(options);
}
std::unique_ptr<Compressor> make_fp8_compressor(const CompressionOptions& options) {
  return std::make_unique<Fp8Compressor>(options);
}

}  // namespace bcfeat
