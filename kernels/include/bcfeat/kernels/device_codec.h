// Device-resident codecs: every pointer is GPU memory, the work is queued on `stream` (nullptr:
// the default stream), and nothing is copied to the host or synchronised. They write the same
// bytes and floats as the host-buffer functions of codec.h and scalar_codec.h (the same
// kernels run behind both). Without a CUDA build or a usable GPU they throw std::runtime_error.
#pragma once

#include <cstdint>

#include "bcfeat/kernels/format.h"
#include "bcfeat/kernels/scalar_codec.h"

namespace bcfeat {

// ---- block textures ------------------------------------------------------------------------
// `count` textures of width x height, stored back to back, each as compressed_size() counts
// it (its blocks row-major). Pixels and decoded texels are float32 [count][ph][pw][channels]
// with ph, pw the height and width rounded up to whole blocks: texture i's texel (x, y) sits
// at row i·ph + y of one tall image, so one launch covers every texture. Encoders read 4
// channels a texel; pixels beyond width or height are read like any other (the caller pads
// by edge replication, as the CPU encoders do).
struct TextureStack {
  int width = 0, height = 0, count = 0;
  int padded_width(const FormatInfo& format) const;
  int padded_height(const FormatInfo& format) const;
};

// Formats with a CUDA encoder (format.has_encoder(Backend::kCuda)).
void encode_textures_device(const FormatInfo& format, const float* pixels, const TextureStack& stack,
                            const CodecSettings& settings, uint8_t* blocks, CudaStream stream);
// backend: kCuda (software) or kTexture (the texture units; formats with texture_decodable()).
void decode_textures_device(const FormatInfo& format, Backend backend, const uint8_t* blocks, const TextureStack& stack,
                            const CodecSettings& settings, float* texels, CudaStream stream);

// ---- scalar codecs ---------------------------------------------------------------------------
// Streams as scalar_codec.h lays them out. int_encode_device needs `scratch` of g.values() bytes.
void int_encode_device(const float* x, const GroupGeometry& g, int bits, uint8_t* out, uint8_t* scratch,
                       CudaStream stream);
void int_decode_device(const uint8_t* in, const GroupGeometry& g, int bits, float* y, CudaStream stream);
void fp8_encode_device(const float* x, const GroupGeometry& g, Fp8Spec spec, uint8_t* out, CudaStream stream);
void fp8_decode_device(const uint8_t* in, const GroupGeometry& g, Fp8Spec spec, float* y, CudaStream stream);
void half_encode_device(const float* x, int64_t count, bool bfloat, uint8_t* out, CudaStream stream);
void half_decode_device(const uint8_t* in, int64_t count, bool bfloat, float* y, CudaStream stream);

}  // namespace bcfeat
