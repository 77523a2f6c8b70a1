// The one dispatch from (format, backend) to a codec: checks what the row offers, then calls
// its entry. Files: the container is the row's; reading tells DDS and .astc apart by magic.
#include "bcfeat/kernels/codec.h"

#include <cctype>
#include <cmath>
#include <cstring>

#include "astc_codec.h"
#include "bc_codec.h"
#include "bcfeat/kernels/device_codec.h"
#include "bcfeat/kernels/feature_decode.h"
#include "bcfeat/kernels/float_formats.h"
#include "srgb_table.h"

namespace bcfeat {

namespace {

bool gpu_backend(Backend backend) { return backend == Backend::kCuda || backend == Backend::kTexture; }

std::string missing(const FormatInfo& format, Backend backend, const char* what) {
  std::string reason = std::string(format.name) + " has no " + backend_name(backend) + " " + what;
  if (format.backend_note[0] != '\0') reason += std::string(" (") + format.backend_note + ")";
  return reason;
}

std::string no_gpu(Backend backend) {
  return std::string(backend_name(backend)) + " needs a CUDA device, and none is usable here";
}

// Throws std::invalid_argument where the format lacks the entry, std::runtime_error where the
// machine lacks the GPU.
void require(const FormatInfo& format, Backend backend, bool present, const char* what) {
  if (!present) throw std::invalid_argument(missing(format, backend, what));
  if (gpu_backend(backend) && !cuda_codec_available()) throw std::runtime_error(no_gpu(backend));
}

void check_settings(const FormatInfo& format, const CodecSettings& settings) {
  if (quality_name(format, settings.quality)[0] == '?') {
    throw std::invalid_argument(std::string(format.name) + " has no quality level " +
                                std::to_string(static_cast<int>(settings.quality)));
  }
  if (settings.profile == Profile::kHdr && !format.has_profiles) {
    throw std::invalid_argument(std::string(format.name) + " has no hdr profile");
  }
}

}  // namespace

BlockGrid block_grid(const FormatInfo& format, int width, int height) {
  return {(width + format.block_width - 1) / format.block_width, (height + format.block_height - 1) / format.block_height};
}

int64_t compressed_size(const FormatInfo& format, int width, int height) {
  return block_grid(format, width, height).blocks() * format.bytes_per_block;
}

std::string encoder_unavailable(const FormatInfo& format, Backend backend) {
  if (!format.has_encoder(backend)) return missing(format, backend, "encoder");
  return gpu_backend(backend) && !cuda_codec_available() ? no_gpu(backend) : "";
}

std::string decoder_unavailable(const FormatInfo& format, Backend backend) {
  if (!format.has_decoder(backend)) return missing(format, backend, "decoder");
  return gpu_backend(backend) && !cuda_codec_available() ? no_gpu(backend) : "";
}

std::vector<uint8_t> encode_image(const FormatInfo& format, Backend backend, const float* pixels, int width, int height,
                                  int channels, const CodecSettings& settings) {
  require(format, backend, format.has_encoder(backend), "encoder");
  check_settings(format, settings);
  return format.encode[static_cast<int>(backend)](format, pixels, width, height, channels, settings);
}

std::vector<float> decode_image(const FormatInfo& format, Backend backend, const uint8_t* blocks, int width, int height,
                                const CodecSettings& settings) {
  require(format, backend, format.has_decoder(backend), "decoder");
  check_settings(format, settings);
  if (settings.srgb && !format_has_srgb(format)) {
    throw std::invalid_argument(std::string(format.name) + " has no sRGB variant");
  }
  std::vector<float> texels = format.decode[static_cast<int>(backend)](format, blocks, width, height, settings);
  // The texture units convert in the fetch (the texture is created sRGB); the others here.
  if (settings.srgb && backend != Backend::kTexture) {
    srgb_to_linear(texels.data(), static_cast<size_t>(width) * height, format.channels);
  }
  return texels;
}

bool format_has_srgb(const FormatInfo& format) {
  return format.id == FormatId::kBC1 || format.id == FormatId::kBC2 || format.id == FormatId::kBC3 ||
         format.id == FormatId::kBC7;
}

void srgb_to_linear(float* texels, size_t count, int channels) {
  // The decoders of these formats return 8-bit levels (k / 255); each maps through the table.
  for (size_t i = 0; i < count; ++i) {
    for (int c = 0; c < std::min(channels, 3); ++c) {
      float& v = texels[i * channels + c];
      const long level = std::lround(std::min(1.0f, std::max(0.0f, v)) * 255.0f);
      v = half_bits_to_float(kSrgbLinearHalf[level]);
    }
  }
}

std::vector<uint8_t> write_block_file(const BlockImage& image) {
  return image.format->container == Container::kAstc ? make_astc_file(image) : make_dds(image);
}

BlockImage read_block_file(const std::vector<uint8_t>& bytes, const std::string& name) {
  const uint32_t kAstcMagic = 0x5CA1AB13u;
  uint32_t magic = 0;
  if (bytes.size() >= 4) std::memcpy(&magic, bytes.data(), 4);
  if (magic == kAstcMagic) return parse_astc_file(bytes, name);
  if (bytes.size() >= 4 && std::memcmp(bytes.data(), "DDS ", 4) == 0) return parse_dds(bytes, name);
  throw FormatError("'" + name + "' is neither a DDS nor an .astc file (its first bytes are '" +
                    escape_bytes(bytes.data(), std::min<size_t>(bytes.size(), 4)) + "')");
}

std::string escape_bytes(const uint8_t* bytes, size_t count) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < count; ++i) {
    const uint8_t c = bytes[i];
    if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'') {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

CudaTiming time_encode_cuda(const FormatInfo& format, const float* pixels, int width, int height, int channels,
                            const CodecSettings& settings, int repetitions) {
  require(format, Backend::kCuda, format.time_encode_cuda != nullptr, "encoder");
  check_settings(format, settings);
  return format.time_encode_cuda(format, pixels, width, height, channels, settings, repetitions);
}

CudaTiming time_decode_cuda(const FormatInfo& format, Backend backend, const uint8_t* blocks, int width, int height,
                            const CodecSettings& settings, int repetitions) {
  if (!gpu_backend(backend)) throw std::invalid_argument("time_decode_cuda times the cuda and texture decoders only");
  require(format, backend, format.has_decoder(backend), "decoder");
  check_settings(format, settings);
  return format.time_decode_cuda(format, backend, blocks, width, height, settings, repetitions);
}

int TextureStack::padded_width(const FormatInfo& format) const {
  return block_grid(format, width, height).blocks_x * format.block_width;
}

int TextureStack::padded_height(const FormatInfo& format) const {
  return block_grid(format, width, height).blocks_y * format.block_height;
}

void encode_textures_device(const FormatInfo& format, const float* pixels, const TextureStack& stack,
                            const CodecSettings& settings, uint8_t* blocks, CudaStream stream) {
  require(format, Backend::kCuda, format.encode_device != nullptr, "encoder");
  check_settings(format, settings);
  format.encode_device(format, pixels, stack.padded_width(format), stack.padded_height(format) * stack.count, settings,
                       blocks, stream);
}

void decode_textures_device(const FormatInfo& format, Backend backend, const uint8_t* blocks, const TextureStack& stack,
                            const CodecSettings& settings, float* texels, CudaStream stream) {
  if (!gpu_backend(backend)) throw std::invalid_argument("decode_textures_device runs the cuda and texture decoders only");
  require(format, backend, format.has_decoder(backend) && format.decode_device != nullptr, "decoder");
  check_settings(format, settings);
  format.decode_device(format, backend, blocks, stack.padded_width(format), stack.padded_height(format) * stack.count,
                       settings, texels, stream);
}

bool spatial_feature_decode_supported(const FormatInfo& format, Backend backend) {
  // The rows of the BC block code (4x4 blocks), in software or through the texture units.
  const bool bc = format.decode[static_cast<int>(Backend::kCpu)] == &bc_decode_cpu;
  if (backend == Backend::kTexture) return bc && format.texture_decodable();
  return backend == Backend::kCuda && bc && format.has_decoder(Backend::kCuda);
}

}  // namespace bcfeat
