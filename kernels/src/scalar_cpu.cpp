// CPU drivers of the scalar codecs (scalar_codec.h): one pass over the groups in stream
// order, using the shared per-group code.
#include <cstring>

#include "bcfeat/kernels/codebook.h"
#include "bcfeat/kernels/scalar_codec.h"

namespace bcfeat {

namespace {

void put_u16(uint8_t* out, uint16_t value) { std::memcpy(out, &value, 2); }
uint16_t get_u16(const uint8_t* in) {
  uint16_t value;
  std::memcpy(&value, in, 2);
  return value;
}

}  // namespace

std::vector<uint8_t> int_encode_cpu(const float* x, const GroupGeometry& g, int bits) {
  std::vector<uint8_t> out(static_cast<size_t>(int_stream_bytes(g, bits)), 0);
  uint64_t bit_position = 8ull * 4 * static_cast<uint64_t>(g.groups());
  for (int64_t group = 0; group < g.groups(); ++group) {
    const GroupSpan span = group_span(g, group);
    uint16_t min_bits, step_bits;
    int_group_params(x, span, bits, &min_bits, &step_bits);
    put_u16(&out[4 * group], min_bits);
    put_u16(&out[4 * group + 2], step_bits);
    const float minimum = half_bits_to_float(min_bits), step = half_bits_to_float(step_bits);
    for (int64_t i = 0; i < span.count; ++i) {
      const uint32_t code = int_code(x[span.offset + i * span.stride], minimum, step, bits);
      for (int b = 0; b < bits; ++b, ++bit_position) {
        if (code >> b & 1u) out[bit_position >> 3] |= static_cast<uint8_t>(1u << (bit_position & 7));
      }
    }
  }
  return out;
}

std::vector<float> int_decode_cpu(const uint8_t* stream, const GroupGeometry& g, int bits) {
  std::vector<float> y(static_cast<size_t>(g.values()));
  uint64_t bit_position = 8ull * 4 * static_cast<uint64_t>(g.groups());
  for (int64_t group = 0; group < g.groups(); ++group) {
    const GroupSpan span = group_span(g, group);
    const float minimum = half_bits_to_float(get_u16(stream + 4 * group));
    const float step = half_bits_to_float(get_u16(stream + 4 * group + 2));
    for (int64_t i = 0; i < span.count; ++i) {
      uint32_t code = 0;
      for (int b = 0; b < bits; ++b, ++bit_position) {
        code |= static_cast<uint32_t>(stream[bit_position >> 3] >> (bit_position & 7) & 1u) << b;
      }
      y[static_cast<size_t>(span.offset + i * span.stride)] = minimum + static_cast<float>(code) * step;
    }
  }
  return y;
}

std::vector<uint8_t> fp8_encode_cpu(const float* x, const GroupGeometry& g, Fp8Spec spec) {
  std::vector<uint8_t> out(static_cast<size_t>(fp8_stream_bytes(g)));
  const int64_t side = 2 * g.groups();
  for (int64_t group = 0; group < g.groups(); ++group) {
    const GroupSpan span = group_span(g, group);
    const uint16_t scale_bits = fp8_group_scale(x, span, spec);
    put_u16(&out[2 * group], scale_bits);
    const float scale = half_bits_to_float(scale_bits);
    for (int64_t i = 0; i < span.count; ++i) {
      out[side + span.first + i] = scale > 0.0f ? float_to_fp8_bits(x[span.offset + i * span.stride] / scale, spec) : 0;
    }
  }
  return out;
}

std::vector<float> fp8_decode_cpu(const uint8_t* stream, const GroupGeometry& g, Fp8Spec spec) {
  std::vector<float> y(static_cast<size_t>(g.values()));
  const int64_t side = 2 * g.groups();
  for (int64_t group = 0; group < g.groups(); ++group) {
    const GroupSpan span = group_span(g, group);
    const float scale = half_bits_to_float(get_u16(stream + 2 * group));
    for (int64_t i = 0; i < span.count; ++i) {
      y[static_cast<size_t>(span.offset + i * span.stride)] = fp8_bits_to_float(stream[side + span.first + i], spec) * scale;
    }
  }
  return y;
}

std::vector<uint8_t> half_encode_cpu(const float* x, int64_t count, bool bfloat) {
  std::vector<uint8_t> out(static_cast<size_t>(2 * count));
  for (int64_t i = 0; i < count; ++i) put_u16(&out[2 * i], bfloat ? float_to_bfloat16_bits(x[i]) : float_to_half_bits(x[i]));
  return out;
}

std::vector<float> half_decode_cpu(const uint8_t* stream, int64_t count, bool bfloat) {
  std::vector<float> y(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    const uint16_t bits = get_u16(stream + 2 * i);
    y[i] = bfloat ? bfloat16_bits_to_float(bits) : half_bits_to_float(bits);
  }
  return y;
}

std::vector<int32_t> codebook_assign_cpu(const float* x, const CodebookShape& shape, const float* books) {
  const int64_t spaces = shape.subspaces();
  const int64_t book_size = static_cast<int64_t>(shape.entries) * shape.width;
  std::vector<int32_t> out(static_cast<size_t>(shape.rows * spaces));
  for (int64_t r = 0; r < shape.rows; ++r) {
    for (int64_t s = 0; s < spaces; ++s) {
      const float* book = books + (shape.per_subspace ? s * book_size : 0);
      out[static_cast<size_t>(r * spaces + s)] = nearest_entry(x + r * shape.dim, s, shape, book);
    }
  }
  return out;
}

}  // namespace bcfeat
