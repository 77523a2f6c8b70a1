// CUDA drivers of the scalar codecs (scalar_codec.h) and of codebook assignment
// (codebook.h: one thread per sub-vector). Encoders: one thread per group
// computes its parameters and codes (int codes go to a byte-per-value buffer that a second
// kernel packs, one thread per stream byte, so no two threads write the same byte);
// decoders: one thread per value. The per-group arithmetic is the CPU's (shared header).
#include <cuda_runtime.h>

#include "bcfeat/kernels/codebook.h"
#include "bcfeat/kernels/device_codec.h"
#include "bcfeat/kernels/scalar_codec.h"
#include "cuda_util.cuh"

namespace bcfeat {

namespace {

using cuda_util::check_cuda;
using cuda_util::DeviceBuffer;
using cuda_util::require_gpu;

constexpr int kThreads = 256;

unsigned launch_blocks(int64_t items) { return static_cast<unsigned>((items + kThreads - 1) / kThreads); }

__global__ void int_params_kernel(const float* x, GroupGeometry g, int bits, uint16_t* side, uint8_t* codes) {
  const int64_t group = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (group >= g.groups()) return;
  const GroupSpan span = group_span(g, group);
  uint16_t min_bits, step_bits;
  int_group_params(x, span, bits, &min_bits, &step_bits);
  side[2 * group] = min_bits;
  side[2 * group + 1] = step_bits;
  const float minimum = half_bits_to_float(min_bits), step = half_bits_to_float(step_bits);
  for (int64_t i = 0; i < span.count; ++i) {
    codes[span.first + i] = static_cast<uint8_t>(int_code(x[span.offset + i * span.stride], minimum, step, bits));
  }
}

// Byte k of the packed codes holds stream bits 8k..8k+7.
__global__ void pack_kernel(const uint8_t* codes, int64_t values, int bits, uint8_t* packed, int64_t bytes) {
  const int64_t k = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (k >= bytes) return;
  uint32_t byte = 0;
  for (int j = 0; j < 8; ++j) {
    const int64_t bit = 8 * k + j, value = bit / bits;
    if (value < values) byte |= ((codes[value] >> (bit % bits)) & 1u) << j;
  }
  packed[k] = static_cast<uint8_t>(byte);
}

__global__ void int_decode_kernel(const uint8_t* stream, GroupGeometry g, int bits, float* y) {
  const int64_t index = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (index >= g.values()) return;
  int64_t position;
  const int64_t group = group_of(g, index, &position);
  const GroupSpan span = group_span(g, group);
  const uint16_t* side = reinterpret_cast<const uint16_t*>(stream);
  const uint8_t* packed = stream + 4 * g.groups();
  uint32_t code = 0;
  for (int b = 0; b < bits; ++b) {
    const int64_t bit = index * bits + b;
    code |= static_cast<uint32_t>((packed[bit >> 3] >> (bit & 7)) & 1u) << b;
  }
  const float minimum = half_bits_to_float(side[2 * group]), step = half_bits_to_float(side[2 * group + 1]);
  y[span.offset + position * span.stride] = minimum + static_cast<float>(code) * step;
}

__global__ void fp8_encode_kernel(const float* x, GroupGeometry g, Fp8Spec spec, uint8_t* stream) {
  const int64_t group = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (group >= g.groups()) return;
  const GroupSpan span = group_span(g, group);
  const uint16_t scale_bits = fp8_group_scale(x, span, spec);
  reinterpret_cast<uint16_t*>(stream)[group] = scale_bits;
  const float scale = half_bits_to_float(scale_bits);
  uint8_t* codes = stream + 2 * g.groups();
  for (int64_t i = 0; i < span.count; ++i) {
    codes[span.first + i] = scale > 0.0f ? float_to_fp8_bits(x[span.offset + i * span.stride] / scale, spec) : 0;
  }
}

__global__ void fp8_decode_kernel(const uint8_t* stream, GroupGeometry g, Fp8Spec spec, float* y) {
  const int64_t index = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (index >= g.values()) return;
  int64_t position;
  const int64_t group = group_of(g, index, &position);
  const GroupSpan span = group_span(g, group);
  const float scale = half_bits_to_float(reinterpret_cast<const uint16_t*>(stream)[group]);
  y[span.offset + position * span.stride] = fp8_bits_to_float(stream[2 * g.groups() + index], spec) * scale;
}

__global__ void half_encode_kernel(const float* x, int64_t count, bool bfloat, uint16_t* out) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < count) out[i] = bfloat ? float_to_bfloat16_bits(x[i]) : float_to_half_bits(x[i]);
}

__global__ void half_decode_kernel(const uint16_t* in, int64_t count, bool bfloat, float* y) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < count) y[i] = bfloat ? bfloat16_bits_to_float(in[i]) : half_bits_to_float(in[i]);
}

__global__ void codebook_assign_kernel(const float* x, CodebookShape shape, const float* books, int32_t* out) {
  const int64_t spaces = shape.subspaces();
  const int64_t item = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (item >= shape.rows * spaces) return;
  const int64_t r = item / spaces, s = item % spaces;
  const float* book = books + (shape.per_subspace ? s * static_cast<int64_t>(shape.entries) * shape.width : 0);
  out[item] = nearest_entry(x + r * shape.dim, s, shape, book);
}

template <class T>
void upload(DeviceBuffer<T>& buffer, const T* host, size_t count) {
  check_cuda(cudaMemcpy(buffer.data, host, count * sizeof(T), cudaMemcpyHostToDevice), "upload");
}
template <class T>
std::vector<T> download(const DeviceBuffer<T>& buffer, size_t count) {
  std::vector<T> host(count);
  check_cuda(cudaMemcpy(host.data(), buffer.data, count * sizeof(T), cudaMemcpyDeviceToHost), "download");
  return host;
}

}  // namespace

std::vector<uint8_t> int_encode_cuda(const float* x, const GroupGeometry& g, int bits) {
  require_gpu();
  const size_t values = static_cast<size_t>(g.values()), bytes = static_cast<size_t>(int_stream_bytes(g, bits));
  const int64_t side = 4 * g.groups();
  DeviceBuffer<float> device_x(values);
  DeviceBuffer<uint8_t> codes(values), stream(bytes);
  upload(device_x, x, values);
  int_params_kernel<<<launch_blocks(g.groups()), kThreads>>>(device_x.data, g, bits,
                                                             reinterpret_cast<uint16_t*>(stream.data), codes.data);
  check_cuda(cudaGetLastError(), "int encode launch");
  const int64_t packed = static_cast<int64_t>(bytes) - side;
  pack_kernel<<<launch_blocks(packed), kThreads>>>(codes.data, g.values(), bits, stream.data + side, packed);
  check_cuda(cudaGetLastError(), "int pack launch");
  return download(stream, bytes);
}

std::vector<float> int_decode_cuda(const uint8_t* stream, const GroupGeometry& g, int bits) {
  require_gpu();
  const size_t values = static_cast<size_t>(g.values()), bytes = static_cast<size_t>(int_stream_bytes(g, bits));
  DeviceBuffer<uint8_t> device_stream(bytes);
  DeviceBuffer<float> y(values);
  upload(device_stream, stream, bytes);
  int_decode_kernel<<<launch_blocks(g.values()), kThreads>>>(device_stream.data, g, bits, y.data);
  check_cuda(cudaGetLastError(), "int decode launch");
  return download(y, values);
}

std::vector<uint8_t> fp8_encode_cuda(const float* x, const GroupGeometry& g, Fp8Spec spec) {
  require_gpu();
  const size_t values = static_cast<size_t>(g.values()), bytes = static_cast<size_t>(fp8_stream_bytes(g));
  DeviceBuffer<float> device_x(values);
  DeviceBuffer<uint8_t> stream(bytes);
  upload(device_x, x, values);
  fp8_encode_kernel<<<launch_blocks(g.groups()), kThreads>>>(device_x.data, g, spec, stream.data);
  check_cuda(cudaGetLastError(), "fp8 encode launch");
  return download(stream, bytes);
}

std::vector<float> fp8_decode_cuda(const uint8_t* stream, const GroupGeometry& g, Fp8Spec spec) {
  require_gpu();
  const size_t values = static_cast<size_t>(g.values()), bytes = static_cast<size_t>(fp8_stream_bytes(g));
  DeviceBuffer<uint8_t> device_stream(bytes);
  DeviceBuffer<float> y(values);
  upload(device_stream, stream, bytes);
  fp8_decode_kernel<<<launch_blocks(g.values()), kThreads>>>(device_stream.data, g, spec, y.data);
  check_cuda(cudaGetLastError(), "fp8 decode launch");
  return download(y, values);
}

std::vector<uint8_t> half_encode_cuda(const float* x, int64_t count, bool bfloat) {
  require_gpu();
  DeviceBuffer<float> device_x(static_cast<size_t>(count));
  DeviceBuffer<uint16_t> out(static_cast<size_t>(count));
  upload(device_x, x, static_cast<size_t>(count));
  half_encode_kernel<<<launch_blocks(count), kThreads>>>(device_x.data, count, bfloat, out.data);
  check_cuda(cudaGetLastError(), "half encode launch");
  const std::vector<uint16_t> halves = download(out, static_cast<size_t>(count));
  std::vector<uint8_t> bytes(2 * halves.size());
  std::memcpy(bytes.data(), halves.data(), bytes.size());
  return bytes;
}

std::vector<float> half_decode_cuda(const uint8_t* stream, int64_t count, bool bfloat) {
  require_gpu();
  std::vector<uint16_t> halves(static_cast<size_t>(count));
  std::memcpy(halves.data(), stream, 2 * halves.size());
  DeviceBuffer<uint16_t> in(static_cast<size_t>(count));
  DeviceBuffer<float> y(static_cast<size_t>(count));
  upload(in, halves.data(), halves.size());
  half_decode_kernel<<<launch_blocks(count), kThreads>>>(in.data, count, bfloat, y.data);
  check_cuda(cudaGetLastError(), "half decode launch");
  return download(y, static_cast<size_t>(count));
}

void int_encode_device(const float* x, const GroupGeometry& g, int bits, uint8_t* out, uint8_t* scratch,
                       CudaStream stream) {
  require_gpu();
  const auto cuda_stream = static_cast<cudaStream_t>(stream);
  const int64_t side = 4 * g.groups(), packed = int_stream_bytes(g, bits) - side;
  int_params_kernel<<<launch_blocks(g.groups()), kThreads, 0, cuda_stream>>>(x, g, bits, reinterpret_cast<uint16_t*>(out),
                                                                             scratch);
  check_cuda(cudaGetLastError(), "int encode launch");
  pack_kernel<<<launch_blocks(packed), kThreads, 0, cuda_stream>>>(scratch, g.values(), bits, out + side, packed);
  check_cuda(cudaGetLastError(), "int pack launch");
}

void int_decode_device(const uint8_t* in, const GroupGeometry& g, int bits, float* y, CudaStream stream) {
  require_gpu();
  int_decode_kernel<<<launch_blocks(g.values()), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(in, g, bits, y);
  check_cuda(cudaGetLastError(), "int decode launch");
}

void fp8_encode_device(const float* x, const GroupGeometry& g, Fp8Spec spec, uint8_t* out, CudaStream stream) {
  require_gpu();
  fp8_encode_kernel<<<launch_blocks(g.groups()), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(x, g, spec, out);
  check_cuda(cudaGetLastError(), "fp8 encode launch");
}

void fp8_decode_device(const uint8_t* in, const GroupGeometry& g, Fp8Spec spec, float* y, CudaStream stream) {
  require_gpu();
  fp8_decode_kernel<<<launch_blocks(g.values()), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(in, g, spec, y);
  check_cuda(cudaGetLastError(), "fp8 decode launch");
}

void half_encode_device(const float* x, int64_t count, bool bfloat, uint8_t* out, CudaStream stream) {
  require_gpu();
  half_encode_kernel<<<launch_blocks(count), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      x, count, bfloat, reinterpret_cast<uint16_t*>(out));
  check_cuda(cudaGetLastError(), "half encode launch");
}

void half_decode_device(const uint8_t* in, int64_t count, bool bfloat, float* y, CudaStream stream) {
  require_gpu();
  half_decode_kernel<<<launch_blocks(count), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      reinterpret_cast<const uint16_t*>(in), count, bfloat, y);
  check_cuda(cudaGetLastError(), "half decode launch");
}

std::vector<int32_t> codebook_assign_cuda(const float* x, const CodebookShape& shape, const float* books) {
  require_gpu();
  const int64_t spaces = shape.subspaces();
  const size_t values = static_cast<size_t>(shape.rows * shape.dim);
  const size_t book_values = static_cast<size_t>((shape.per_subspace ? spaces : 1) * shape.entries * shape.width);
  const size_t items = static_cast<size_t>(shape.rows * spaces);
  DeviceBuffer<float> device_x(values), device_books(book_values);
  DeviceBuffer<int32_t> out(items);
  upload(device_x, x, values);
  upload(device_books, books, book_values);
  codebook_assign_kernel<<<launch_blocks(static_cast<int64_t>(items)), kThreads>>>(device_x.data, shape,
                                                                                   device_books.data, out.data);
  check_cuda(cudaGetLastError(), "codebook assign launch");
  return download(out, items);
}

}  // namespace bcfeat
