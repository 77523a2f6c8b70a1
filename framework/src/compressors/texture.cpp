// Texture compressor, spatial layout: each image's h×w token grid becomes textures of h×w
// texels, one per group of C consecutive channels (C = 3 for bc1, whose alpha is one bit;
// 4 for bc2/bc3; 1 for bc4; 2 for bc5), so a 4×4 block covers 16 neighbouring tokens.
//
// Values are mapped affinely into the format's domain ([0, 1] unorm, [−1, 1] snorm) with
// a minimum and maximum stored in fp16 (rounded outward so the range still covers the
// data): per channel over the whole tensor (`per_channel`), or per texture and channel
// slot (`per_texture`). Channels that pad D up to a multiple of C are encoded as the
// domain's midpoint and dropped on decode.
//
// Stream: fp16 (min, max) pairs, then every texture's blocks (image-major, then channel
// group), ceil(h/4)·ceil(w/4) blocks each — so padding of odd grids is counted too.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "bcfeat/framework/compressor.h"
#include "bcfeat/framework/error.h"
#include "bcfeat/kernels/codec.h"
#include "bcfeat/kernels/float_formats.h"

namespace bcfeat {

namespace {

uint16_t half_toward(float value, bool up) {
  uint16_t bits = float_to_half_bits(value);
  const float stored = half_bits_to_float(bits);
  if (up && stored < value) bits = (bits & 0x8000u) ? (bits == 0x8000u ? 1 : bits - 1) : bits + 1;
  if (!up && stored > value) bits = (bits & 0x8000u) ? bits + 1 : (bits == 0 ? 0x8001u : bits - 1);
  return bits;
}

class TextureCompressor : public Compressor {
 public:
  explicit TextureCompressor(const CompressionOptions& options) : options_(options) {
    format_ = find_format(options.format);
    if (!format_) throw_input_error("compression.format '{}' is not a block format; valid: {}", options.format, join(format_names()));
    quality_ = parse_quality(options.quality);
    slots_ = format_->id == FormatId::kBC1 ? 3 : format_->channels;
  }

  Compressed compress(const torch::Tensor& features) const override {
    const Geometry g = geometry(features.sizes().vec());
    const float* x = features.data_ptr<float>();
    const bool per_channel = options_.value_map == "per_channel";
    // Ranges: per channel d (whole tensor) or per (image, channel) for per_texture.
    const int64_t ranges = per_channel ? g.dim : g.batch * g.dim;
    std::vector<float> low(ranges, 3.0e38f), high(ranges, -3.0e38f);
    for (int64_t b = 0; b < g.batch; ++b) {
      for (int64_t t = 0; t < g.tokens; ++t) {
        for (int64_t d = 0; d < g.dim; ++d) {
          const int64_t r = per_channel ? d : b * g.dim + d;
          const float v = x[(b * g.tokens + t) * g.dim + d];
          low[r] = std::min(low[r], v);
          high[r] = std::max(high[r], v);
        }
      }
    }
    Compressed out;
    out.shape = features.sizes().vec();
    out.side_bytes = 4 * ranges;
    out.bytes.resize(out.side_bytes + g.textures * g.texture_bytes);
    std::vector<float> stored_low(ranges), stored_high(ranges);
    for (int64_t r = 0; r < ranges; ++r) {
      if (std::fabs(low[r]) > 65504.0f || std::fabs(high[r]) > 65504.0f) {
        throw_input_error("feature range [{}, {}] exceeds fp16, so the texture value map cannot be stored", low[r], high[r]);
      }
      const uint16_t lo = half_toward(low[r], false), hi = half_toward(high[r], true);
      std::memcpy(&out.bytes[4 * r], &lo, 2);
      std::memcpy(&out.bytes[4 * r + 2], &hi, 2);
      stored_low[r] = half_bits_to_float(lo);
      stored_high[r] = half_bits_to_float(hi);
    }
    const bool is_signed = format_->domain == ValueDomain::kSnorm;
    std::vector<float> pixels(static_cast<size_t>(g.height) * g.width * 4);
    int64_t texture = 0;
    for (int64_t b = 0; b < g.batch; ++b) {
      for (int64_t group = 0; group < g.groups; ++group, ++texture) {
        for (int64_t t = 0; t < g.tokens; ++t) {
          for (int c = 0; c < 4; ++c) {
            const int64_t d = group * slots_ + c;
            float value = c == 3 && slots_ == 3 ? 1.0f : 0.5f;  // bc1 alpha opaque; padding at mid-range
            if (c < slots_ && d < g.dim) {
              const int64_t r = per_channel ? d : b * g.dim + d;
              const float span = stored_high[r] - stored_low[r];
              const float unit = span > 0.0f ? (x[(b * g.tokens + t) * g.dim + d] - stored_low[r]) / span : 0.0f;
              value = std::min(1.0f, std::max(0.0f, unit));
            }
            pixels[t * 4 + c] = is_signed && !(c == 3 && slots_ == 3) ? 2.0f * value - 1.0f : value;
          }
        }
        const std::vector<uint8_t> blocks =
            encode_image_cpu(*format_, pixels.data(), static_cast<int>(g.width), static_cast<int>(g.height), 4, quality_);
        std::memcpy(&out.bytes[out.side_bytes + texture * g.texture_bytes], blocks.data(), blocks.size());
      }
    }
    return out;
  }

  torch::Tensor decompress(const Compressed& data) const override {
    const Geometry g = geometry(data.shape);
    const bool per_channel = options_.value_map == "per_channel";
    const bool is_signed = format_->domain == ValueDomain::kSnorm;
    torch::Tensor out = torch::empty(data.shape, torch::kFloat32);
    float* y = out.data_ptr<float>();
    int64_t texture = 0;
    for (int64_t b = 0; b < g.batch; ++b) {
      for (int64_t group = 0; group < g.groups; ++group, ++texture) {
        const std::vector<float> pixels =
            decode_image_cpu(*format_, &data.bytes[data.side_bytes + texture * g.texture_bytes],
                             static_cast<int>(g.width), static_cast<int>(g.height));
        for (int64_t t = 0; t < g.tokens; ++t) {
          for (int c = 0; c < slots_; ++c) {
            const int64_t d = group * slots_ + c;
            if (d >= g.dim) break;
            const int64_t r = per_channel ? d : b * g.dim + d;
            uint16_t lo, hi;
            std::memcpy(&lo, &data.bytes[4 * r], 2);
            std::memcpy(&hi, &data.bytes[4 * r + 2], 2);
            const float low = half_bits_to_float(lo), high = half_bits_to_float(hi);
            float unit = pixels[t * format_->channels + c];
            if (is_signed) unit = (unit + 1.0f) * 0.5f;
            y[(b * g.tokens + t) * g.dim + d] = low + unit * (high - low);
          }
        }
      }
    }
    return out;
  }

 private:
  struct Geometry {
    int64_t batch, tokens, dim, height, width, groups, textures, texture_bytes;
  };

  Geometry geometry(const std::vector<int64_t>& shape) const {
    Geometry g{};
    g.batch = shape[0];
    g.tokens = shape[1];
    g.dim = shape[2];
    if (options_.tokens_hw.empty()) {
      const auto side = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(g.tokens))));
      if (side * side != g.tokens) {
        throw_input_error("{} tokens are not a square grid; set compression.tokens_hw to [h, w]", g.tokens);
      }
      g.height = g.width = side;
    } else {
      if (options_.tokens_hw.size() != 2) throw_input_error("compression.tokens_hw must be [h, w]");
      g.height = options_.tokens_hw[0];
      g.width = options_.tokens_hw[1];
      if (g.height * g.width != g.tokens) {
        throw_input_error("compression.tokens_hw [{}, {}] has {} tokens but the features have N = {}", g.height, g.width,
                          g.height * g.width, g.tokens);
      }
    }
    g.groups = (g.dim + slots_ - 1) / slots_;
    g.textures = g.batch * g.groups;
    g.texture_bytes = compressed_size(*format_, static_cast<int>(g.width), static_cast<int>(g.height));
    return g;
  }

  CompressionOptions options_;
  const FormatInfo* format_ = nullptr;
  Quality quality_ = Quality::kNormal;
  int slots_ = 1;
};

}  // namespace

std::unique_ptr<Compressor> make_texture_compressor(const CompressionOptions& options) {
  return std::make_unique<TextureCompressor>(options);
}

}  // namespace bcfeat
