// Scalar baselines: fp16, bf16, asymmetric integer group quantization, scaled FP8 — the
// framework side of kernels/scalar_codec.h (which has the codecs, on the CPU and CUDA with
// identical bytes; `compression.device` picks one). Summary of the streams:
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
#include <cmath>
#include <cstring>

#include "bcfeat/framework/compressor.h"
#include "bcfeat/framework/error.h"
#include "bcfeat/kernels/codec.h"
#include "bcfeat/kernels/float_formats.h"
#include "bcfeat/kernels/scalar_codec.h"

namespace bcfeat {

namespace {

// The first value whose magnitude exceeds `limit`, as an input error naming `what`.
void check_magnitude(const torch::Tensor& features, float limit, const char* what) {
  const torch::Tensor beyond = features.abs() > limit;
  if (!beyond.any().item<bool>()) return;
  const float value = features.masked_select(beyond)[0].item<float>();
  throw_input_error("feature value {} exceeds the fp16 range, so its {} cannot be stored in fp16", value, what);
}

bool on_cuda(const CompressionOptions& options) {
  if (options.device != "cuda") return false;
  if (!cuda_codec_available()) throw_input_error("compression.device is cuda but no CUDA device is usable here");
  return true;
}

torch::Tensor to_tensor(const std::vector<float>& values, const std::vector<int64_t>& shape) {
  torch::Tensor out = torch::empty(shape, torch::kFloat32);
  std::memcpy(out.data_ptr<float>(), values.data(), values.size() * sizeof(float));
  return out;
}

GroupGeometry geometry_of(const std::vector<int64_t>& shape, const CompressionOptions& options) {
  return group_geometry(shape[0], shape[1], shape[2], options.axis == "channel", options.group_size);
}

class HalfCompressor : public Compressor {
 public:
  HalfCompressor(const CompressionOptions& options, bool bfloat) : cuda_(on_cuda(options)), bfloat_(bfloat) {}
  Compressed compress(const torch::Tensor& features) const override {
    if (!bfloat_) check_magnitude(features, 65504.0f, "fp16 code");
    const float* x = features.data_ptr<float>();
    const int64_t count = features.numel();
    return {cuda_ ? half_encode_cuda(x, count, bfloat_) : half_encode_cpu(x, count, bfloat_), 0, features.sizes().vec()};
  }
  torch::Tensor decompress(const Compressed& data) const override {
    int64_t count = 1;
    for (int64_t size : data.shape) count *= size;
    return to_tensor(cuda_ ? half_decode_cuda(data.bytes.data(), count, bfloat_)
                           : half_decode_cpu(data.bytes.data(), count, bfloat_),
                     data.shape);
  }

 private:
  bool cuda_, bfloat_;
};

class IntCompressor : public Compressor {
 public:
  explicit IntCompressor(const CompressionOptions& options) : options_(options), cuda_(on_cuda(options)) {}
  Compressed compress(const torch::Tensor& features) const override {
    check_magnitude(features, 65504.0f, "group minimum or maximum");
    const GroupGeometry g = geometry_of(features.sizes().vec(), options_);
    const float* x = features.data_ptr<float>();
    Compressed out{cuda_ ? int_encode_cuda(x, g, options_.bits) : int_encode_cpu(x, g, options_.bits), 4 * g.groups(),
                   features.sizes().vec()};
    return out;
  }
  torch::Tensor decompress(const Compressed& data) const override {
    const GroupGeometry g = geometry_of(data.shape, options_);
    return to_tensor(cuda_ ? int_decode_cuda(data.bytes.data(), g, options_.bits)
                           : int_decode_cpu(data.bytes.data(), g, options_.bits),
                     data.shape);
  }

 private:
  CompressionOptions options_;
  bool cuda_;
};

class Fp8Compressor : public Compressor {
 public:
  explicit Fp8Compressor(const CompressionOptions& options)
      : options_(options), spec_(options.fp8_format == "e4m3" ? kFp8E4M3 : kFp8E5M2), cuda_(on_cuda(options)) {}
  Compressed compress(const torch::Tensor& features) const override {
    // The largest group scale, amax / max_finite rounded up, must be a finite half.
    const float amax = features.abs().max().item<float>();
    if (!(half_bits_to_float(half_bits_toward(amax / spec_.max_finite, true)) <= 65504.0f)) {
      throw_input_error("feature value {} exceeds the fp16 range, so its fp8 scale cannot be stored in fp16", amax);
    }
    const GroupGeometry g = geometry_of(features.sizes().vec(), options_);
    const float* x = features.data_ptr<float>();
    return {cuda_ ? fp8_encode_cuda(x, g, spec_) : fp8_encode_cpu(x, g, spec_), 2 * g.groups(), features.sizes().vec()};
  }
  torch::Tensor decompress(const Compressed& data) const override {
    const GroupGeometry g = geometry_of(data.shape, options_);
    return to_tensor(cuda_ ? fp8_decode_cuda(data.bytes.data(), g, spec_) : fp8_decode_cpu(data.bytes.data(), g, spec_),
                     data.shape);
  }

 private:
  CompressionOptions options_;
  Fp8Spec spec_;
  bool cuda_;
};

}  // namespace

std::unique_ptr<Compressor> make_half_compressor(const CompressionOptions& options) {
  return std::make_unique<HalfCompressor>(options, false);
}
std::unique_ptr<Compressor> make_bfloat16_compressor(const CompressionOptions& options) {
  return std::make_unique<HalfCompressor>(options, true);
}
std::unique_ptr<Compressor> make_int_compressor(const CompressionOptions& options) {
  return std::make_unique<IntCompressor>(options);
}
std::unique_ptr<Compressor> make_fp8_compressor(const CompressionOptions& options) {
  return std::make_unique<Fp8Compressor>(options);
}

}  // namespace bcfeat
