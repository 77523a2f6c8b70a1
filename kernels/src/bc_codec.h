// The BC1–BC7 family's entries in the format table: CPU drivers (codec_cpu.cpp), CUDA
// kernels and the texture-unit decoder (codec_cuda.cu; codec_no_cuda.cpp without CUDA).
// Callers go through codec.h, which checks the backend, quality and profile first.
#pragma once

#include <cstdint>
#include <vector>

#include "bcfeat/kernels/codec.h"
#include "bcfeat/kernels/format.h"

namespace bcfeat {

std::vector<uint8_t> bc_encode_cpu(const FormatInfo& format, const float* pixels, int width, int height, int channels,
                                   const CodecSettings& settings);
std::vector<float> bc_decode_cpu(const FormatInfo& format, const uint8_t* blocks, int width, int height,
                                 const CodecSettings& settings);
std::vector<uint8_t> bc_encode_cuda(const FormatInfo& format, const float* pixels, int width, int height, int channels,
                                    const CodecSettings& settings);
std::vector<float> bc_decode_cuda(const FormatInfo& format, const uint8_t* blocks, int width, int height,
                                  const CodecSettings& settings);
std::vector<float> bc_decode_texture(const FormatInfo& format, const uint8_t* blocks, int width, int height,
                                     const CodecSettings& settings);
CudaTiming bc_time_encode_cuda(const FormatInfo& format, const float* pixels, int width, int height, int channels,
                               const CodecSettings& settings, int repetitions);
// backend: kCuda (software decode, float32 out) or kTexture (texture units, float32 out).
CudaTiming bc_time_decode_cuda(const FormatInfo& format, Backend backend, const uint8_t* blocks, int width,
                               int height, const CodecSettings& settings, int repetitions);

void bc_encode_device(const FormatInfo& format, const float* pixels, int width, int height, const CodecSettings& settings,
                      uint8_t* blocks, CudaStream stream);
void bc_decode_device(const FormatInfo& format, Backend backend, const uint8_t* blocks, int width, int height,
                      const CodecSettings& settings, float* texels, CudaStream stream);

// .dds files (DX10 header on write; DX10 and the legacy FourCC headers on read).
std::vector<uint8_t> make_dds(const BlockImage& image);
BlockImage parse_dds(const std::vector<uint8_t>& bytes, const std::string& name);  // throws FormatError

}  // namespace bcfeat
