// Lossless baseline: the tensor's fp16 codes, byte-shuffled (all high bytes, then all low
// bytes, as blosc does, so the exponent-heavy bytes sit together), compressed with zstd.
// Decoding returns exactly the fp16 values, so its distortion is fp16's and its rate is
// what entropy coding alone buys. The stream is zstd's frame (which records its size).
#include <zstd.h>

#include <cmath>
#include <cstring>

#include "bcfeat/framework/compressor.h"
#include "bcfeat/framework/error.h"
#include "bcfeat/kernels/float_formats.h"

namespace bcfeat {

namespace {

struct LosslessOptions {
  int zstd_level = 19;
  template <class Keys>
  void keys(Keys& k) {
    k.add("zstd_level", zstd_level, "zstd level").range(1, 22);
  }
};

class LosslessCompressor : public Compressor {
 public:
  explicit LosslessCompressor(const CompressionOptions& options)
      : level_(read_options<LosslessOptions>(options).zstd_level) {
    if (options.device != "cpu") throw_input_error("compression.device {}: the lossless compressor runs on the CPU only", options.device);
  }
  std::string timing_device() const override { return "cpu (1 thread)"; }

  Compressed compress_host(const torch::Tensor& features) const override {
    const int64_t count = features.numel();
    const float* x = features.data_ptr<float>();
    std::vector<uint8_t> shuffled(2 * count);
    for (int64_t i = 0; i < count; ++i) {
      if (std::fabs(x[i]) > 65504.0f) throw_input_error("feature value {} exceeds the fp16 range", x[i]);
      const uint16_t bits = float_to_half_bits(x[i]);
      shuffled[i] = static_cast<uint8_t>(bits >> 8);
      shuffled[count + i] = static_cast<uint8_t>(bits & 0xff);
    }
    Compressed out;
    out.shape = features.sizes().vec();
    out.bytes.resize(ZSTD_compressBound(shuffled.size()));
    const size_t size = ZSTD_compress(out.bytes.data(), out.bytes.size(), shuffled.data(), shuffled.size(), level_);
    if (ZSTD_isError(size)) throw std::runtime_error(std::string("zstd: ") + ZSTD_getErrorName(size));
    out.bytes.resize(size);
    return out;
  }

  torch::Tensor decompress_host(const Compressed& data) const override {
    torch::Tensor out = torch::empty(data.shape, torch::kFloat32);
    const int64_t count = out.numel();
    std::vector<uint8_t> shuffled(2 * count);
    const size_t size = ZSTD_decompress(shuffled.data(), shuffled.size(), data.bytes.data(), data.bytes.size());
    if (ZSTD_isError(size) || size != shuffled.size()) {
      throw_input_error("corrupt lossless stream (zstd: {})", ZSTD_isError(size) ? ZSTD_getErrorName(size) : "wrong length");
    }
    float* y = out.data_ptr<float>();
    for (int64_t i = 0; i < count; ++i) {
      y[i] = half_bits_to_float(static_cast<uint16_t>((shuffled[i] << 8) | shuffled[count + i]));
    }
    return out;
  }

 private:
  int level_;
};

}  // namespace

CompressorEntry lossless_compressor_entry() {
  return {"lossless", "fp16 codes, byte-shuffled, compressed with zstd (exact fp16)", keys_of<LosslessOptions>(),
          [](const CompressionOptions& options) { return std::make_unique<LosslessCompressor>(options); },
          {[](const CompressionOptions&) { return BoundScope::kToken; },
           [](const CompressionOptions&, double, double, double amax) { return amax * std::ldexp(1.0, -11) + 1e-7; }},
          {{}}};
}

}  // namespace bcfeat
