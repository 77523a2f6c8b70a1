// Scalar codecs on feature tensors [B, N, D] (float32, row-major): fp16, bf16, asymmetric
// integer group quantization and scaled FP8, on the CPU and on CUDA with identical bytes.
//
// Groups. With the token axis a group is `group_size` consecutive channels of one token
// (per-token quantization, as for activations); with the channel axis it is `group_size`
// consecutive tokens of one channel (per-channel, as KIVI does for keys). group_size 0
// means the whole axis; the last group of a line may be shorter; nothing is padded.
// Groups are numbered line by line (token axis: lines are the B·N tokens; channel axis:
// the B·D (image, channel) pairs), and the codes of a stream follow that order.
//
// Integer codes (bits b, L = 2^b − 1 levels): each group stores its minimum m and step s
// as fp16, rounded so that [m, m + L·s] still covers the group (m toward −inf, s toward
// +inf); q = clamp(rint((x − m)/s), 0, L) and x̂ = m + q·s with the stored m and s.
// Stream: [fp16 m, fp16 s] per group, then the codes packed LSB-first.
// FP8 codes: each group stores one fp16 scale a = amax / max_finite (rounded up; the
// smallest subnormal if that underflows); q = fp8(x / a) with saturation, x̂ = fp8⁻¹(q)·a.
// Stream: fp16 scales, then one byte per value. fp16/bf16: two bytes per value.
//
// The per-group arithmetic below is shared host/device code (BCFEAT_HD), so the CPU and
// CUDA drivers produce the same bytes. Callers check ranges first: every |x| ≤ 65504 for
// fp16 and int; for fp8, amax / max_finite must round to a finite half.
#pragma once

#include <cstdint>
#include <vector>

#include "bcfeat/kernels/float_formats.h"
#include "bcfeat/kernels/host_device.h"

namespace bcfeat {

struct GroupGeometry {
  int64_t batch = 1, tokens = 1, dim = 1;
  bool channel_axis = false;
  int64_t size = 1;      // values per full group
  int64_t per_line = 1;  // groups per line
  int64_t lines = 1;
  int64_t line_length = 1;
  BCFEAT_HD int64_t groups() const { return lines * per_line; }
  BCFEAT_HD int64_t values() const { return batch * tokens * dim; }
};

inline GroupGeometry group_geometry(int64_t batch, int64_t tokens, int64_t dim, bool channel_axis, int64_t group_size) {
  GroupGeometry g;
  g.batch = batch;
  g.tokens = tokens;
  g.dim = dim;
  g.channel_axis = channel_axis;
  g.line_length = channel_axis ? tokens : dim;
  g.lines = channel_axis ? batch * dim : batch * tokens;
  g.size = group_size > 0 && group_size < g.line_length ? group_size : g.line_length;
  g.per_line = (g.line_length + g.size - 1) / g.size;
  return g;
}

// Group `group`: the memory offset of its first value, the stride between its values, its
// value count and the stream index of its first code.
struct GroupSpan {
  int64_t offset, stride, count, first;
};

BCFEAT_HD GroupSpan group_span(const GroupGeometry& g, int64_t group) {
  const int64_t line = group / g.per_line, chunk = group % g.per_line;
  const int64_t start = chunk * g.size;
  GroupSpan span;
  span.count = g.line_length - start < g.size ? g.line_length - start : g.size;
  span.first = line * g.line_length + start;
  if (g.channel_axis) {
    const int64_t image = line / g.dim, channel = line % g.dim;
    span.offset = (image * g.tokens + start) * g.dim + channel;
    span.stride = g.dim;
  } else {
    span.offset = line * g.dim + start;
    span.stride = 1;
  }
  return span;
}

// The group holding stream index `index` and the index's position inside it.
BCFEAT_HD int64_t group_of(const GroupGeometry& g, int64_t index, int64_t* position) {
  const int64_t line = index / g.line_length, along = index % g.line_length;
  *position = along % g.size;
  return line * g.per_line + along / g.size;
}

// Integer group parameters: fp16 bits of the minimum and of the step.
BCFEAT_HD void int_group_params(const float* x, const GroupSpan& span, int bits, uint16_t* min_bits, uint16_t* step_bits) {
  float low = x[span.offset], high = low;
  for (int64_t i = 1; i < span.count; ++i) {
    const float v = x[span.offset + i * span.stride];
    low = v < low ? v : low;
    high = v > high ? v : high;
  }
  *min_bits = half_bits_toward(low, false);
  const float minimum = half_bits_to_float(*min_bits);
  const float levels = static_cast<float>((1u << bits) - 1u);
  *step_bits = high > minimum ? half_bits_toward((high - minimum) / levels, true) : 0;
}

BCFEAT_HD uint32_t int_code(float value, float minimum, float step, int bits) {
  if (!(step > 0.0f)) return 0;
  const float levels = static_cast<float>((1u << bits) - 1u);
  const float scaled = rintf((value - minimum) / step);
  return static_cast<uint32_t>(fminf(fmaxf(scaled, 0.0f), levels));
}

// FP8 group scale (fp16 bits).
BCFEAT_HD uint16_t fp8_group_scale(const float* x, const GroupSpan& span, Fp8Spec spec) {
  float amax = 0.0f;
  for (int64_t i = 0; i < span.count; ++i) amax = fmaxf(amax, fabsf(x[span.offset + i * span.stride]));
  if (!(amax > 0.0f)) return 0;
  const uint16_t bits = half_bits_toward(amax / spec.max_finite, true);
  return bits == 0 ? 1 : bits;  // below the smallest fp16 subnormal
}

// Host drivers: `x` in memory order; streams as described above; decoders return values in
// memory order. The _cuda versions take and return host buffers and throw
// std::runtime_error without a usable GPU.
std::vector<uint8_t> int_encode_cpu(const float* x, const GroupGeometry& g, int bits);
std::vector<float> int_decode_cpu(const uint8_t* stream, const GroupGeometry& g, int bits);
std::vector<uint8_t> fp8_encode_cpu(const float* x, const GroupGeometry& g, Fp8Spec spec);
std::vector<float> fp8_decode_cpu(const uint8_t* stream, const GroupGeometry& g, Fp8Spec spec);
std::vector<uint8_t> half_encode_cpu(const float* x, int64_t count, bool bfloat);
std::vector<float> half_decode_cpu(const uint8_t* stream, int64_t count, bool bfloat);

std::vector<uint8_t> int_encode_cuda(const float* x, const GroupGeometry& g, int bits);
std::vector<float> int_decode_cuda(const uint8_t* stream, const GroupGeometry& g, int bits);
std::vector<uint8_t> fp8_encode_cuda(const float* x, const GroupGeometry& g, Fp8Spec spec);
std::vector<float> fp8_decode_cuda(const uint8_t* stream, const GroupGeometry& g, Fp8Spec spec);
std::vector<uint8_t> half_encode_cuda(const float* x, int64_t count, bool bfloat);
std::vector<float> half_decode_cuda(const uint8_t* stream, int64_t count, bool bfloat);

// Stream sizes in bytes.
inline int64_t int_stream_bytes(const GroupGeometry& g, int bits) { return 4 * g.groups() + (g.values() * bits + 7) / 8; }
inline int64_t fp8_stream_bytes(const GroupGeometry& g) { return 2 * g.groups() + g.values(); }

}  // namespace bcfeat
