// Compressed K/V storage on the host: layouts, compression with the format's encoder or int
// group quantisation, the CPU decode (the same float operations as the CUDA kernels) and the
// reference attention the kernels are tested against.
#include "bcfeat/kernels/kv_attention.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "bcfeat/kernels/codec.h"
#include "bcfeat/kernels/float_formats.h"
#include "blocks/block_codec.h"

namespace bcfeat {

namespace {

[[noreturn]] void fail(const std::string& message) { throw std::invalid_argument(message); }

bool block_codec_supported(const FormatInfo& format) {
  switch (format.id) {
    case FormatId::kBC1:
    case FormatId::kBC3:
    case FormatId::kBC4Unorm:
    case FormatId::kBC5Unorm:
    case FormatId::kBC6HSf16:
    case FormatId::kBC7:
      return true;
    default:
      return false;
  }
}

const char* const kBlockNames[] = {"bc1", "bc3", "bc4_unorm", "bc5_unorm", "bc6h_sf16", "bc7"};

float half_value(uint16_t bits) { return half_bits_to_float(bits); }

}  // namespace

std::string KvCodec::name() const {
  if (format) return format->name;
  std::string out = "int" + std::to_string(int_bits);
  if (group > 0) out += "_g" + std::to_string(group);
  return out;
}

std::vector<std::string> kv_codec_names() {
  std::vector<std::string> out(std::begin(kBlockNames), std::end(kBlockNames));
  out.push_back("int4");
  out.push_back("int8");
  out.push_back("int4_gN");
  out.push_back("int8_gN");
  return out;
}

KvCodec parse_kv_codec(const std::string& name) {
  auto valid = [] {
    std::string list;
    for (const auto& n : kv_codec_names()) list += (list.empty() ? "" : ", ") + n;
    return list;
  };
  KvCodec codec;
  if (name.rfind("int", 0) == 0) {
    const std::string rest = name.substr(3);
    const size_t underscore = rest.find("_g");
    const std::string bits = rest.substr(0, underscore);
    if (bits != "4" && bits != "8") fail("kv codec '" + name + "': int takes 4 or 8 bits (one of " + valid() + ")");
    codec.int_bits = bits == "4" ? 4 : 8;
    if (underscore != std::string::npos) {
      const std::string group = rest.substr(underscore + 2);
      if (group.empty() || group.size() > 6 || group.find_first_not_of("0123456789") != std::string::npos ||
          std::stoi(group) < 1) {
        fail("kv codec '" + name + "': the group after _g must be a positive whole number");
      }
      codec.group = std::stoi(group);
    }
    return codec;
  }
  codec.format = find_format(name);
  if (!codec.format || !block_codec_supported(*codec.format)) {
    fail("kv codec '" + name + "' is not one of " + valid());
  }
  return codec;
}

int64_t KvLayout::maps_per_pair() const {
  if (is_block()) {
    if (map == MapKind::kDirect) return 0;
    return role == KvRole::kKeys ? shape.dim : shape.tokens;
  }
  return role == KvRole::kKeys ? static_cast<int64_t>(map_groups) * shape.dim
                               : static_cast<int64_t>(shape.tokens) * map_groups;
}

KvLayout kv_layout(const KvShape& shape, KvRole role, const KvCodec& codec) {
  if (shape.batch < 1 || shape.heads < 1 || shape.tokens < 1 || shape.dim < 1) {
    fail("kv shape [" + std::to_string(shape.batch) + ", " + std::to_string(shape.heads) + ", " +
         std::to_string(shape.tokens) + ", " + std::to_string(shape.dim) + "] has an empty dimension");
  }
  if (shape.dim % 4 != 0) fail("kv head dim " + std::to_string(shape.dim) + " is not a multiple of 4");
  KvLayout l;
  l.shape = shape;
  l.role = role;
  l.codec = codec;
  const int64_t pairs = shape.pairs();
  if (codec.format) {
    if (!block_codec_supported(*codec.format)) fail(std::string("kv codec: no K/V layout for ") + codec.format->name);
    l.slots = codec.format->value_channels;
    l.groups = (shape.dim + l.slots - 1) / l.slots;
    l.blocks_x = (l.groups + 3) / 4;
    l.padded_tokens = (shape.tokens + 3) / 4 * 4;
    l.bytes_per_block = codec.format->bytes_per_block;
    l.map = value_domain_is_float(codec.format->domain) ? MapKind::kDirect : MapKind::kAffine;
    l.data_bytes = pairs * l.blocks_per_pair() * l.bytes_per_block;
  } else {
    if (codec.int_bits != 4 && codec.int_bits != 8) fail("kv codec: int takes 4 or 8 bits");
    l.group = codec.group > 0 ? codec.group : (role == KvRole::kKeys ? 64 : shape.dim);
    const int span = role == KvRole::kKeys ? shape.tokens : shape.dim;
    l.map_groups = (span + l.group - 1) / l.group;
    l.data_bytes = pairs * shape.tokens * l.bytes_per_token_int();
  }
  l.side_bytes = pairs * l.maps_per_pair() * 2 * static_cast<int64_t>(sizeof(uint16_t));
  return l;
}

namespace {

// (low, step) in fp16 covering [lo, hi]: low rounded down, step rounded up.
void fit_map(float lo, float hi, uint16_t* out) {
  const uint16_t low = half_bits_toward(lo, false);
  out[0] = low;
  out[1] = half_bits_toward(std::max(0.0f, hi - half_value(low)), true);
}

float to_unit(float x, const uint16_t* map) {
  const float low = half_value(map[0]), step = half_value(map[1]);
  if (!(step > 0.0f)) return 0.0f;
  return std::min(1.0f, std::max(0.0f, (x - low) / step));
}

void compress_blocks(const float* x, const KvLayout& l, Backend encoder, CompressedKv& out) {
  const KvShape& s = l.shape;
  const int64_t pairs = s.pairs();
  const int64_t per_pair = l.maps_per_pair();
  out.side.assign(static_cast<size_t>(pairs * per_pair * 2), 0);
  for (int64_t p = 0; p < pairs && l.map == MapKind::kAffine; ++p) {
    const float* xp = x + p * s.tokens * s.dim;
    uint16_t* maps = out.side.data() + p * per_pair * 2;
    if (l.role == KvRole::kKeys) {
      for (int d = 0; d < s.dim; ++d) {
        float lo = xp[d], hi = xp[d];
        for (int t = 1; t < s.tokens; ++t) lo = std::min(lo, xp[t * s.dim + d]), hi = std::max(hi, xp[t * s.dim + d]);
        fit_map(lo, hi, maps + 2 * d);
      }
    } else {
      for (int t = 0; t < s.tokens; ++t) {
        const float* row = xp + static_cast<int64_t>(t) * s.dim;
        fit_map(*std::min_element(row, row + s.dim), *std::max_element(row, row + s.dim), maps + 2 * t);
      }
    }
  }
  // The image of every pair's texture stacked along y: [pairs · padded_tokens][groups][slots].
  const int64_t rows = pairs * l.padded_tokens;
  if (rows > std::numeric_limits<int>::max() / 4) fail("kv: too many tokens for one block image");
  std::vector<float> image(static_cast<size_t>(rows * l.groups * l.slots), 0.0f);
  for (int64_t p = 0; p < pairs; ++p) {
    const uint16_t* maps = out.side.data() + p * per_pair * 2;
    for (int r = 0; r < l.padded_tokens; ++r) {
      const int t = std::min(r, s.tokens - 1);
      const float* row = x + (p * s.tokens + t) * s.dim;
      float* texels = image.data() + ((p * l.padded_tokens + r) * l.groups) * l.slots;
      for (int d = 0; d < s.dim; ++d) {
        float v = row[d];
        if (l.map == MapKind::kAffine) v = to_unit(v, maps + 2 * (l.role == KvRole::kKeys ? d : t));
        texels[d] = v;  // channel d = texel d / slots, slot d % slots
      }
    }
  }
  CodecSettings settings;
  settings.quality = l.codec.quality;
  out.data = encode_image(*l.codec.format, encoder, image.data(), l.groups, static_cast<int>(rows), l.slots, settings);
  if (static_cast<int64_t>(out.data.size()) != l.data_bytes) fail("kv: the encoder returned an unexpected size");
}

void compress_int(const float* x, const KvLayout& l, CompressedKv& out) {
  const KvShape& s = l.shape;
  const int64_t pairs = s.pairs();
  const int64_t per_pair = l.maps_per_pair();
  const int levels = (1 << l.codec.int_bits) - 1;
  out.side.assign(static_cast<size_t>(pairs * per_pair * 2), 0);
  out.data.assign(static_cast<size_t>(l.data_bytes), 0);
  const int64_t row_bytes = l.bytes_per_token_int();
  for (int64_t p = 0; p < pairs; ++p) {
    const float* xp = x + p * s.tokens * s.dim;
    uint16_t* maps = out.side.data() + p * per_pair * 2;
    // maps: keys [map_groups][dim], values [tokens][map_groups]
    for (int64_t m = 0; m < per_pair; ++m) {
      int t0, t1, d0, d1;
      if (l.role == KvRole::kKeys) {
        const int g = static_cast<int>(m / s.dim), d = static_cast<int>(m % s.dim);
        t0 = g * l.group, t1 = std::min(s.tokens, t0 + l.group), d0 = d, d1 = d + 1;
      } else {
        const int t = static_cast<int>(m / l.map_groups), g = static_cast<int>(m % l.map_groups);
        t0 = t, t1 = t + 1, d0 = g * l.group, d1 = std::min(s.dim, d0 + l.group);
      }
      float lo = std::numeric_limits<float>::infinity(), hi = -lo;
      for (int t = t0; t < t1; ++t) {
        for (int d = d0; d < d1; ++d) lo = std::min(lo, xp[t * s.dim + d]), hi = std::max(hi, xp[t * s.dim + d]);
      }
      const uint16_t low = half_bits_toward(lo, false);
      const uint16_t step = half_bits_toward(std::max(0.0f, (hi - half_value(low)) / levels), true);
      maps[2 * m] = low;
      maps[2 * m + 1] = step;
      const float lowf = half_value(low), stepf = half_value(step);
      for (int t = t0; t < t1; ++t) {
        uint8_t* codes = out.data.data() + (p * s.tokens + t) * row_bytes;
        for (int d = d0; d < d1; ++d) {
          const int code = stepf > 0.0f ? std::clamp(static_cast<int>(std::lrint((xp[t * s.dim + d] - lowf) / stepf)), 0, levels) : 0;
          if (l.codec.int_bits == 8) {
            codes[d] = static_cast<uint8_t>(code);
          } else {
            codes[d / 2] = static_cast<uint8_t>(codes[d / 2] | (code << (4 * (d & 1))));
          }
        }
      }
    }
  }
}

}  // namespace

CompressedKv compress_kv(const float* x, const KvShape& shape, KvRole role, const KvCodec& codec, Backend encoder) {
  CompressedKv out;
  out.layout = kv_layout(shape, role, codec);
  for (int64_t i = 0; i < shape.values(); ++i) {
    if (!std::isfinite(x[i])) fail("kv: value " + std::to_string(i) + " is not finite");
    if (codec.format && value_domain_is_float(codec.format->domain) && std::fabs(x[i]) > 65504.0f) {
      fail("kv: value " + std::to_string(i) + " is outside the half-float range " + codec.format->name + " stores");
    }
  }
  if (codec.format) {
    const std::string why = encoder_unavailable(*codec.format, encoder);
    if (!why.empty()) fail("kv: " + why);
    compress_blocks(x, out.layout, encoder, out);
  } else {
    compress_int(x, out.layout, out);
  }
  return out;
}

std::vector<float> decode_kv(const CompressedKv& kv) {
  const KvLayout& l = kv.layout;
  const KvShape& s = l.shape;
  const int64_t pairs = s.pairs();
  const int64_t per_pair = l.maps_per_pair();
  std::vector<float> out(static_cast<size_t>(s.values()));
  for (int64_t p = 0; p < pairs; ++p) {
    const uint16_t* maps = kv.side.data() + p * per_pair * 2;
    float* op = out.data() + p * s.tokens * s.dim;
    if (l.is_block()) {
      const uint8_t* blocks = kv.data.data() + p * l.blocks_per_pair() * l.bytes_per_block;
      for (int64_t b = 0; b < l.blocks_per_pair(); ++b) {
        const int by = static_cast<int>(b / l.blocks_x), bx = static_cast<int>(b % l.blocks_x);
        float texels[16][4];
        decode_block(l.codec.format->id, blocks + b * l.bytes_per_block, texels);
        for (int i = 0; i < 16; ++i) {
          const int t = by * 4 + (i >> 2), g = bx * 4 + (i & 3);
          if (t >= s.tokens || g >= l.groups) continue;
          for (int c = 0; c < l.slots; ++c) {
            const int d = g * l.slots + c;
            if (d >= s.dim) break;
            float v = texels[i][c];
            if (l.map == MapKind::kAffine) {
              const uint16_t* m = maps + 2 * (l.role == KvRole::kKeys ? d : t);
              v = half_value(m[0]) + v * half_value(m[1]);
            }
            op[t * s.dim + d] = v;
          }
        }
      }
    } else {
      const int64_t row_bytes = l.bytes_per_token_int();
      for (int t = 0; t < s.tokens; ++t) {
        const uint8_t* codes = kv.data.data() + (p * s.tokens + t) * row_bytes;
        for (int d = 0; d < s.dim; ++d) {
          const int code = l.codec.int_bits == 8 ? codes[d] : (codes[d / 2] >> (4 * (d & 1))) & 15;
          const int64_t m = l.role == KvRole::kKeys ? static_cast<int64_t>(t / l.group) * s.dim + d
                                                    : static_cast<int64_t>(t) * l.map_groups + d / l.group;
          op[t * s.dim + d] = half_value(maps[2 * m]) + static_cast<float>(code) * half_value(maps[2 * m + 1]);
        }
      }
    }
  }
  return out;
}

std::vector<float> attention_reference(const float* q, int queries, const CompressedKv& keys, const CompressedKv& values,
                                       const uint8_t* padding, float scale, bool half_precision) {
  const KvShape& s = keys.layout.shape;
  const KvShape& sv = values.layout.shape;
  if (s.batch != sv.batch || s.heads != sv.heads || s.tokens != sv.tokens || s.dim != sv.dim) {
    fail("attention_reference: keys and values differ in shape");
  }
  if (queries < 1) fail("attention_reference: no queries");
  auto round = [&](float v) {
    return half_precision ? half_bits_to_float(float_to_half_bits(v)) : bfloat16_bits_to_float(float_to_bfloat16_bits(v));
  };
  std::vector<float> k = decode_kv(keys), v = decode_kv(values);
  for (auto& x : k) x = round(x);
  for (auto& x : v) x = round(x);
  if (scale == 0.0f) scale = 1.0f / std::sqrt(static_cast<float>(s.dim));
  std::vector<float> out(static_cast<size_t>(s.pairs() * queries * s.dim), 0.0f);
  std::vector<double> weights(static_cast<size_t>(s.tokens));
  for (int64_t p = 0; p < s.pairs(); ++p) {
    const int b = static_cast<int>(p / s.heads);
    const float* kp = k.data() + p * s.tokens * s.dim;
    const float* vp = v.data() + p * s.tokens * s.dim;
    for (int i = 0; i < queries; ++i) {
      const float* qi = q + (p * queries + i) * s.dim;
      double best = -std::numeric_limits<double>::infinity();
      for (int t = 0; t < s.tokens; ++t) {
        if (padding && padding[static_cast<int64_t>(b) * s.tokens + t]) {
          weights[t] = -std::numeric_limits<double>::infinity();
          continue;
        }
        double dot = 0.0;
        for (int d = 0; d < s.dim; ++d) dot += static_cast<double>(round(qi[d])) * kp[t * s.dim + d];
        weights[t] = dot * scale;
        best = std::max(best, weights[t]);
      }
      float* oi = out.data() + (p * queries + i) * s.dim;
      if (best == -std::numeric_limits<double>::infinity()) continue;  // every key ignored: 0
      double total = 0.0;
      for (int t = 0; t < s.tokens; ++t) total += weights[t] = std::exp(weights[t] - best);
      for (int d = 0; d < s.dim; ++d) {
        double acc = 0.0;
        for (int t = 0; t < s.tokens; ++t) acc += weights[t] * vp[t * s.dim + d];
        oi[d] = round(static_cast<float>(acc / total));
      }
    }
  }
  return out;
}

}  // namespace bcfeat
