// The block-compression format table: one row per format, BC and ASTC alike.
//
// A row says what a format stores (block size, bytes, channels, value domain, profiles),
// which container holds it (.dds or .astc), which quality names its encoder takes, and its
// entry points on every backend it has (CPU and CUDA encoders; CPU, CUDA, texture-unit and
// reference decoders). Code above kernels/ looks formats up here and calls codec.h; it never
// branches on a format family. Adding a format = its codec file(s) + one row in format.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace bcfeat {

enum class FormatId : int {
  kBC1,
  kBC2,
  kBC3,
  kBC4Unorm,
  kBC4Snorm,
  kBC5Unorm,
  kBC5Snorm,
  kBC6HUf16,
  kBC6HSf16,
  kBC7,
  kAstc4x4,
  kAstc5x4,
  kAstc5x5,
  kAstc6x5,
  kAstc6x6,
  kAstc8x5,
  kAstc8x6,
  kAstc8x8,
  kAstc10x5,
  kAstc10x6,
  kAstc10x8,
  kAstc10x10,
  kAstc12x10,
  kAstc12x12,
};

enum class ValueDomain : int {
  kUnorm,         // [0, 1]
  kSnorm,         // [-1, 1]
  kUnsignedHalf,  // finite half floats ≥ 0 ([0, 65504])
  kHalf,          // finite half floats ([-65504, 65504])
};

// Encoder effort, from least to most. The BC encoders take fast, normal and high;
// libastcenc's six presets are the six levels (normal = medium, high = thorough).
enum class Quality : int { kFastest, kFast, kNormal, kHigh, kVeryThorough, kExhaustive };

// Colour profile, for formats that have one: ldr stores the format's `domain`, hdr its
// `hdr_domain`. Formats without profiles take ldr only.
enum class Profile : int { kLdr, kHdr };

// Where a codec runs: the CPU driver, a CUDA kernel, the GPU texture units (decode only), or
// an independent reference implementation (decode only; libastcenc for ASTC).
enum class Backend : int { kCpu, kCuda, kTexture, kReference };
constexpr int kBackendCount = 4;

// The file a format is stored in: DDS with a DX10 header, or astcenc's .astc.
enum class Container : int { kDds, kAstc };

// What an encode or decode call is asked for.
struct CodecSettings {
  Quality quality = Quality::kNormal;
  Profile profile = Profile::kLdr;
  int threads = 0;  // CPU backends: threads to use (0 = every hardware thread)
  // The blocks hold sRGB-encoded colour (a DDS *_UNORM_SRGB file): the decoders return linear
  // values, those the texture units return for an sRGB texture (the colour channels through
  // the hardware's sRGB table, alpha as stored). Only for BC1, BC2, BC3 and BC7.
  bool srgb = false;
};

struct FormatInfo;

// Pixels are row-major [height][width][channels] float32; a format reads its first
// channels (missing colour channels read 0, missing alpha 1). Blocks are row-major.
using EncodeEntry = std::vector<uint8_t> (*)(const FormatInfo& format, const float* pixels, int width, int height,
                                             int channels, const CodecSettings& settings);
// Returns [height][width][format.channels] float32.
using DecodeEntry = std::vector<float> (*)(const FormatInfo& format, const uint8_t* blocks, int width, int height,
                                           const CodecSettings& settings);

// Seconds per image of one CUDA backend on device-resident data (CUDA events), and the bytes
// it moved: blocks read and decoded texels written (or pixels read and blocks written).
struct CudaTiming {
  double seconds = 0;
  int64_t bytes_read = 0, bytes_written = 0;
};
using EncodeTimer = CudaTiming (*)(const FormatInfo& format, const float* pixels, int width, int height, int channels,
                                   const CodecSettings& settings, int repetitions);
using DecodeTimer = CudaTiming (*)(const FormatInfo& format, Backend backend, const uint8_t* blocks, int width,
                                   int height, const CodecSettings& settings, int repetitions);

// Device-resident entries (GPU pointers, work queued on a cudaStream_t passed as void*): one
// image of width x height in whole blocks (a stack of textures, device_codec.h).
using CudaStream = void*;
using DeviceEncodeEntry = void (*)(const FormatInfo& format, const float* pixels, int width, int height,
                                   const CodecSettings& settings, uint8_t* blocks, CudaStream stream);
using DeviceDecodeEntry = void (*)(const FormatInfo& format, Backend backend, const uint8_t* blocks, int width,
                                   int height, const CodecSettings& settings, float* texels, CudaStream stream);

struct QualityName {
  const char* name;
  Quality quality;
};

struct FormatInfo {
  const char* name;
  FormatId id;
  int block_width, block_height, bytes_per_block;
  int channels;        // channels the decoder returns
  int value_channels;  // channels that hold a value at the format's precision (bc1's alpha is one bit: 3)
  ValueDomain domain;      // the values stored (under the ldr profile for formats with profiles)
  ValueDomain hdr_domain;  // under the hdr profile (= domain for formats without profiles)
  bool has_profiles;
  Container container;
  uint32_t dxgi_format;  // DXGI_FORMAT code in .dds files (0 for other containers)
  std::vector<QualityName> qualities;  // names the encoder takes; a level's first name is its display name
  bool levels_nested;  // each level's search includes the one before, so its squared error is no larger
  const char* description;
  const char* encoder_name;  // whose encoder: "bcfeat", "libastcenc"
  const char* backend_note;  // why the backends a row lacks are absent ("" when it has them all)
  EncodeEntry encode[kBackendCount];  // by Backend; nullptr where the format has no such encoder
  DecodeEntry decode[kBackendCount];
  EncodeTimer time_encode_cuda;  // nullptr without a CUDA encoder
  DecodeTimer time_decode_cuda;  // the CUDA and texture-unit decoders; nullptr without either
  DeviceEncodeEntry encode_device;  // the CUDA encoder on device memory; nullptr without one
  DeviceDecodeEntry decode_device;  // the CUDA and texture-unit decoders on device memory

  bool has_encoder(Backend backend) const { return encode[static_cast<int>(backend)] != nullptr; }
  bool has_decoder(Backend backend) const { return decode[static_cast<int>(backend)] != nullptr; }
  bool texture_decodable() const { return has_decoder(Backend::kTexture); }
};

const std::vector<FormatInfo>& format_table();
const FormatInfo* find_format(const std::string& name);  // nullptr when unknown
const FormatInfo& format_info(FormatId id);
std::vector<std::string> format_names();
double format_bits_per_texel(const FormatInfo& format);

// The domain of the values a format stores under `profile`.
ValueDomain format_domain(const FormatInfo& format, Profile profile);
const char* value_domain_name(ValueDomain domain);
float value_domain_low(ValueDomain domain);  // the closed interval of values a domain holds
float value_domain_high(ValueDomain domain);
bool value_domain_is_float(ValueDomain domain);
bool value_domain_is_signed(ValueDomain domain);

// Names. The parsers throw std::invalid_argument naming the valid choices.
const char* quality_name(const FormatInfo& format, Quality quality);  // the format's display name
Quality parse_quality(const FormatInfo& format, const std::string& name);
std::vector<std::string> quality_names();  // every name any format takes, in level order
const char* profile_name(Profile profile);
Profile parse_profile_name(const std::string& name);  // ldr or hdr
Profile parse_profile(const FormatInfo& format, const std::string& name);  // hdr only where the format has it
const char* backend_name(Backend backend);
Backend parse_backend(const std::string& name);
const char* container_extension(Container container);  // ".dds", ".astc"

}  // namespace bcfeat
