// ASTC images: the 14 2D block sizes, encoding through ARM's libastcenc (the reference
// encoder, CPU), bcfeat's own decoder (blocks/astc.h) on CPU and CUDA, libastcenc's decoder
// as the reference, and `.astc` files (astcenc's 16-byte header). The format table's ASTC
// rows point at the *_entry functions; the rest is what the kernels tests and the entries
// share.
//
// Decoded images always have 4 channels (RGBA), as half floats (the raw bits here, float32
// through the entries). The encoder reads the first 4 channels (missing colour channels read
// 0, missing alpha 1); image sizes need not be multiples of the block size (libastcenc pads
// partial blocks). Profiles: ldr (values in [0, 1]) and hdr (half floats in [0, 65504]).
// Quality levels are libastcenc's presets: fastest, fast, medium (normal), thorough (high),
// verythorough, exhaustive.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bcfeat/kernels/codec.h"
#include "bcfeat/kernels/format.h"

namespace bcfeat {

// The ASTC rows of the format table, in block-size order; nullptr for a size without one.
std::vector<const FormatInfo*> astc_formats();
const FormatInfo* find_astc_format(int block_width, int block_height);

// libastcenc compression on `threads` CPU threads (0 = all). Throws std::runtime_error on a
// libastcenc error.
std::vector<uint8_t> astc_encode(const FormatInfo& format, Profile profile, const float* pixels, int width, int height,
                                 int channels, Quality quality, int threads = 0);
// bcfeat's decoder: RGBA half bits [height][width][4].
std::vector<uint16_t> astc_decode_half_cpu(const FormatInfo& format, Profile profile, const uint8_t* blocks, int width,
                                           int height, int threads = 0);
// libastcenc's decoder, same layout.
std::vector<uint16_t> astc_decode_half_reference(const FormatInfo& format, Profile profile, const uint8_t* blocks,
                                                 int width, int height, int threads = 0);
// The CUDA kernel running the same block code (host buffers in and out; throws
// std::runtime_error without a usable GPU).
std::vector<uint16_t> astc_decode_half_cuda(const FormatInfo& format, Profile profile, const uint8_t* blocks,
                                            int width, int height);
std::vector<float> astc_half_to_float(const std::vector<uint16_t>& half);  // NaN stays NaN

// `.astc` files: magic 0x5CA1AB13, block x/y/z (1 byte each), image x/y/z (3 bytes each,
// little endian), then the blocks row by row. parse_astc_file throws FormatError.
std::vector<uint8_t> make_astc_file(const BlockImage& image);
BlockImage parse_astc_file(const std::vector<uint8_t>& bytes, const std::string& name);

// The format table's entries.
std::vector<uint8_t> astc_encode_entry(const FormatInfo& format, const float* pixels, int width, int height,
                                       int channels, const CodecSettings& settings);
std::vector<float> astc_decode_cpu_entry(const FormatInfo& format, const uint8_t* blocks, int width, int height,
                                         const CodecSettings& settings);
std::vector<float> astc_decode_reference_entry(const FormatInfo& format, const uint8_t* blocks, int width, int height,
                                               const CodecSettings& settings);
std::vector<float> astc_decode_cuda_entry(const FormatInfo& format, const uint8_t* blocks, int width, int height,
                                          const CodecSettings& settings);
void astc_decode_device(const FormatInfo& format, Backend backend, const uint8_t* blocks, int width, int height,
                        const CodecSettings& settings, float* texels, CudaStream stream);
// The CUDA kernel on device-resident blocks, writing half RGBA (backend kCuda only).
CudaTiming astc_time_decode_cuda(const FormatInfo& format, Backend backend, const uint8_t* blocks, int width,
                                 int height, const CodecSettings& settings, int repetitions);

}  // namespace bcfeat
