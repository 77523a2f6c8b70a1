// Whole-image block compression for every format of the table, on every backend it has,
// and the files that hold the blocks.
//
// Pixels are row-major [height][width][channels] float32. A format reads its first channels
// (missing colour channels read 0, missing alpha 1) and decodes to exactly its `channels`.
// Images whose size is not a multiple of the block size are padded (edge replication for the
// BC encoders, libastcenc's own padding for ASTC); blocks are row-major,
// ceil(w / block_width) · ceil(h / block_height) of them.
//
// The decoders of one format (CPU, CUDA, texture units, reference) return the same floats
// bit for bit; the CPU and CUDA encoders return the same blocks. Callers validate values
// first (finite, in the format's domain): these functions assume valid input, and throw
// std::invalid_argument for a backend, quality or profile the format does not have, and
// std::runtime_error for a GPU backend without a usable GPU.
#pragma once

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "bcfeat/kernels/format.h"

namespace bcfeat {

struct BlockGrid {
  int blocks_x, blocks_y;
  int64_t blocks() const { return static_cast<int64_t>(blocks_x) * blocks_y; }
};
BlockGrid block_grid(const FormatInfo& format, int width, int height);
int64_t compressed_size(const FormatInfo& format, int width, int height);

// True when this build and machine can run CUDA (and texture-unit) kernels.
bool cuda_codec_available();

// "" when `format` can encode (decode) on `backend` here; otherwise why not, as one clause
// naming the format and the backend.
std::string encoder_unavailable(const FormatInfo& format, Backend backend);
std::string decoder_unavailable(const FormatInfo& format, Backend backend);

std::vector<uint8_t> encode_image(const FormatInfo& format, Backend backend, const float* pixels, int width, int height,
                                  int channels, const CodecSettings& settings = {});
std::vector<float> decode_image(const FormatInfo& format, Backend backend, const uint8_t* blocks, int width, int height,
                                const CodecSettings& settings = {});

// ---- files ------------------------------------------------------------------------------

// A malformed or unsupported file; the message names the file and the problem.
class FormatError : public std::runtime_error {
 public:
  explicit FormatError(const std::string& message) : std::runtime_error(message) {}
};

struct BlockImage {
  const FormatInfo* format = nullptr;
  int width = 0, height = 0;
  std::vector<uint8_t> blocks;  // row-major blocks of the top mip level
  int mip_levels = 1;           // levels the file holds (only the top one is read)
  bool srgb = false;            // a DDS *_UNORM_SRGB format: the colour is sRGB-encoded
};

// The bytes of the format's container (header + blocks).
std::vector<uint8_t> write_block_file(const BlockImage& image);
// Parses a .dds or .astc file's bytes (told apart by their magic number); `name` is used in
// error messages, which print the file's bytes escaped.
BlockImage read_block_file(const std::vector<uint8_t>& bytes, const std::string& name);

// sRGB-encoded 8-bit levels (k / 255) to linear values as the texture units return them (their
// table, within 0.0038 of the IEC 61966-2-1 curve), on channels 0-2 of each texel of `texels`
// (alpha is linear already). What decode_image applies with CodecSettings::srgb.
void srgb_to_linear(float* texels, size_t count, int channels);
// Whether a format has an sRGB variant (BC1, BC2, BC3, BC7).
bool format_has_srgb(const FormatInfo& format);

// Bytes as text for messages: printable ASCII as is, everything else (and \\ and ') as \xNN.
std::string escape_bytes(const uint8_t* bytes, size_t count);

// ---- other encoders --------------------------------------------------------------------

// An independent encoder of `format` (libsquish, nvtt) for benchmarks: 8-bit RGBA in.
struct BaselineEncoder {
  std::string name;
  std::function<std::vector<uint8_t>(const uint8_t* rgba, int width, int height)> encode;
};
std::vector<BaselineEncoder> baseline_encoders(const FormatInfo& format);

// ---- GPU timings ------------------------------------------------------------------------

// CUDA encode (formats with a CUDA encoder) and CUDA / texture-unit decode (formats with
// those decoders) of one image, `repetitions` times each, on device-resident data.
CudaTiming time_encode_cuda(const FormatInfo& format, const float* pixels, int width, int height, int channels,
                            const CodecSettings& settings, int repetitions);
CudaTiming time_decode_cuda(const FormatInfo& format, Backend backend, const uint8_t* blocks, int width, int height,
                            const CodecSettings& settings, int repetitions);

// Device-to-device cudaMemcpy bandwidth in bytes/s, counting bytes read + written.
double measure_copy_bandwidth(int64_t bytes, int repetitions);

}  // namespace bcfeat
