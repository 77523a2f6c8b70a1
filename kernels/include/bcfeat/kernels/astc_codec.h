// ASTC images: the 14 2D block sizes, encoding through ARM's libastcenc (the reference
// encoder, CPU), bcfeat's own decoder (astc.h) on CPU and CUDA, libastcenc's decoder as the
// reference, and `.astc` files (astcenc's 16-byte header).
//
// Pixels are row-major [height][width][channels] float32 in and out. Decoded images always
// have 4 channels (RGBA), as half floats widened to float32 (or the raw half bits). The
// encoder reads the first 4 channels (missing colour channels read 0, missing alpha 1);
// image sizes need not be multiples of the block size (astcenc pads partial blocks).
// Profiles: `ldr` (values in [0, 1]) and `hdr` (half floats in [0, 65504]).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace bcfeat {

struct AstcFormat {
  const char* name;  // "astc_4x4" ... "astc_12x12"
  int block_width, block_height;
};

const std::vector<AstcFormat>& astc_formats();
const AstcFormat* find_astc_format(const std::string& name);  // nullptr when unknown
const AstcFormat* find_astc_format(int block_width, int block_height);
std::vector<std::string> astc_format_names();
double astc_bits_per_texel(const AstcFormat& format);  // 128 / texels per block
// Bytes of the blocks of a width x height image (16 per block, partial blocks included).
inline int64_t astc_compressed_size(const AstcFormat& format, int width, int height) {
  const int64_t blocks_x = (width + format.block_width - 1) / format.block_width;
  return blocks_x * ((height + format.block_height - 1) / format.block_height) * 16;
}

enum class AstcProfile { kLdr, kHdr };
const char* astc_profile_name(AstcProfile profile);
AstcProfile parse_astc_profile(const std::string& name);  // throws std::invalid_argument

// libastcenc's presets; bcfeat's quality levels map fast → fast, normal → medium,
// high → thorough.
enum class AstcPreset { kFastest, kFast, kMedium, kThorough, kVeryThorough, kExhaustive };
const char* astc_preset_name(AstcPreset preset);
// Accepts the six preset names and fast/normal/high; throws std::invalid_argument.
AstcPreset parse_astc_preset(const std::string& name);

// libastcenc compression on `threads` CPU threads (0 = all). Throws std::runtime_error on a
// libastcenc error. Callers validate values first (finite, in the profile's range).
std::vector<uint8_t> astc_encode(const AstcFormat& format, AstcProfile profile, const float* pixels, int width,
                                 int height, int channels, AstcPreset preset, int threads = 0);

// bcfeat's decoder: RGBA half bits [height][width][4].
std::vector<uint16_t> astc_decode_half_cpu(const AstcFormat& format, AstcProfile profile, const uint8_t* blocks,
                                           int width, int height, int threads = 0);
// libastcenc's decoder, same layout (the reference the tests and the bench compare with).
std::vector<uint16_t> astc_decode_half_reference(const AstcFormat& format, AstcProfile profile,
                                                 const uint8_t* blocks, int width, int height, int threads = 0);
// CUDA kernel running the same block code (host buffers in and out; throws
// std::runtime_error without a usable GPU).
std::vector<uint16_t> astc_decode_half_cuda(const AstcFormat& format, AstcProfile profile, const uint8_t* blocks,
                                            int width, int height);
// Half bits → float32 (NaN stays NaN).
std::vector<float> astc_half_to_float(const std::vector<uint16_t>& half);

// `.astc` files: magic 0x5CA1AB13, block x/y/z (1 byte each), image x/y/z (3 bytes each,
// little endian), then the blocks row by row.
struct AstcImage {
  const AstcFormat* format = nullptr;
  int width = 0, height = 0;
  std::vector<uint8_t> blocks;
};
std::vector<uint8_t> make_astc_file(const AstcImage& image);
// Throws std::invalid_argument naming what is wrong (bad magic, 3D or unknown block size,
// size mismatch); `name` is used in the message.
AstcImage parse_astc_file(const std::vector<uint8_t>& bytes, const std::string& name);

// Seconds per decode of one image by the CUDA kernel (device-resident blocks and output,
// `repetitions` timed with CUDA events); bytes moved = blocks read + half RGBA written.
struct AstcCudaTiming {
  double decode_s = 0;
  int64_t encoded_bytes = 0, decoded_bytes = 0;
};
AstcCudaTiming time_astc_decode_cuda(const AstcFormat& format, AstcProfile profile, const uint8_t* blocks, int width,
                                     int height, int repetitions);

}  // namespace bcfeat
