// ASTC on the CPU: libastcenc for encoding and as the reference decoder, bcfeat's block
// decoder (astc.h) over threads, and the .astc container.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <thread>

// Debian's libastcenc exports C symbols while astcenc.h declares C++ functions.
extern "C" {
#include <astcenc.h>
}

#include "astc_codec.h"
#include "bcfeat/kernels/float_formats.h"
#include "blocks/astc.h"

namespace bcfeat {

std::vector<const FormatInfo*> astc_formats() {
  std::vector<const FormatInfo*> formats;
  for (const auto& format : format_table()) {
    if (format.container == Container::kAstc) formats.push_back(&format);
  }
  return formats;
}

const FormatInfo* find_astc_format(int block_width, int block_height) {
  for (const FormatInfo* format : astc_formats()) {
    if (format->block_width == block_width && format->block_height == block_height) return format;
  }
  return nullptr;
}

namespace {

int64_t blocks_y(const FormatInfo& f, int height) { return (height + f.block_height - 1) / f.block_height; }

astcenc_profile library_profile(Profile profile) {
  return profile == Profile::kHdr ? ASTCENC_PRF_HDR : ASTCENC_PRF_LDR;
}

// libastcenc's preset for each quality level.
float library_quality(Quality quality) {
  switch (quality) {
    case Quality::kFastest: return ASTCENC_PRE_FASTEST;
    case Quality::kFast: return ASTCENC_PRE_FAST;
    case Quality::kNormal: return ASTCENC_PRE_MEDIUM;
    case Quality::kHigh: return ASTCENC_PRE_THOROUGH;
    case Quality::kVeryThorough: return ASTCENC_PRE_VERYTHOROUGH;
    case Quality::kExhaustive: return ASTCENC_PRE_EXHAUSTIVE;
  }
  return ASTCENC_PRE_MEDIUM;
}

int thread_count(int threads) {
  return threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

void check(astcenc_error status, const char* what) {
  if (status != ASTCENC_SUCCESS) throw std::runtime_error(std::string("libastcenc ") + what + ": " + astcenc_get_error_string(status));
}

struct ContextFree {
  void operator()(astcenc_context* context) const { astcenc_context_free(context); }
};
using Context = std::unique_ptr<astcenc_context, ContextFree>;

Context make_context(const FormatInfo& format, Profile profile, float quality, unsigned flags, int threads) {
  astcenc_config config;
  check(astcenc_config_init(library_profile(profile), format.block_width, format.block_height, 1, quality, flags, &config),
        "config");
  astcenc_context* context = nullptr;
  check(astcenc_context_alloc(&config, threads, &context), "context");
  return Context(context);
}

// Runs `body(thread_index)` on `threads` threads (libastcenc's own work scheduling).
template <class Body>
void run_threads(int threads, Body body) {
  std::vector<std::thread> pool;
  std::vector<astcenc_error> status(threads, ASTCENC_SUCCESS);
  for (int t = 0; t < threads; ++t) pool.emplace_back([&, t] { status[t] = body(t); });
  for (auto& thread : pool) thread.join();
  for (astcenc_error s : status) check(s, "run");
}

}  // namespace

std::vector<uint8_t> astc_encode(const FormatInfo& format, Profile profile, const float* pixels, int width, int height,
                                 int channels, Quality quality, int threads) {
  threads = thread_count(threads);
  Context context = make_context(format, profile, library_quality(quality), 0, threads);
  const size_t texels = static_cast<size_t>(width) * height;
  std::vector<float> rgba(texels * 4);
  for (size_t p = 0; p < texels; ++p) {
    for (int c = 0; c < 4; ++c) rgba[4 * p + c] = c < channels ? pixels[p * channels + c] : (c == 3 ? 1.0f : 0.0f);
  }
  // LDR values that are all k/255 (an 8-bit source such as a PNG) go to libastcenc as 8-bit
  // data, as the astcenc tool passes them, so both produce the same blocks for one preset.
  std::vector<uint8_t> rgba8;
  if (profile == Profile::kLdr) {
    rgba8.resize(rgba.size());
    for (size_t i = 0; i < rgba.size(); ++i) {
      const float v = rgba[i];
      const long q = std::lround(v * 255.0f);
      if (q < 0 || q > 255 || static_cast<float>(q) / 255.0f != v) {
        rgba8.clear();
        break;
      }
      rgba8[i] = static_cast<uint8_t>(q);
    }
  }
  void* slices[1] = {rgba8.empty() ? static_cast<void*>(rgba.data()) : static_cast<void*>(rgba8.data())};
  astcenc_image image{static_cast<unsigned>(width), static_cast<unsigned>(height), 1,
                      rgba8.empty() ? ASTCENC_TYPE_F32 : ASTCENC_TYPE_U8, slices};
  const astcenc_swizzle swizzle{ASTCENC_SWZ_R, ASTCENC_SWZ_G, ASTCENC_SWZ_B, ASTCENC_SWZ_A};
  std::vector<uint8_t> out(static_cast<size_t>(compressed_size(format, width, height)));
  run_threads(threads, [&](int t) {
    return astcenc_compress_image(context.get(), &image, &swizzle, out.data(), out.size(), static_cast<unsigned>(t));
  });
  return out;
}

std::vector<uint16_t> astc_decode_half_cpu(const FormatInfo& format, Profile profile, const uint8_t* blocks, int width,
                                           int height, int threads) {
  const int64_t by = blocks_y(format, height);
  std::vector<uint16_t> out(static_cast<size_t>(width) * height * 4);
  threads = std::min<int>(thread_count(threads), static_cast<int>(by));
  const bool hdr = profile == Profile::kHdr;
  auto rows = [&](int first) {
    for (int64_t row = first; row < by; row += threads) {
      decode_astc_block_row(blocks, format.block_width, format.block_height, hdr, width, height, row, out.data());
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(rows, t);
  rows(0);
  for (auto& thread : pool) thread.join();
  return out;
}

std::vector<uint16_t> astc_decode_half_reference(const FormatInfo& format, Profile profile, const uint8_t* blocks,
                                                 int width, int height, int threads) {
  threads = thread_count(threads);
  Context context = make_context(format, profile, ASTCENC_PRE_MEDIUM, ASTCENC_FLG_DECOMPRESS_ONLY, threads);
  std::vector<uint16_t> out(static_cast<size_t>(width) * height * 4);
  void* slices[1] = {out.data()};
  astcenc_image image{static_cast<unsigned>(width), static_cast<unsigned>(height), 1, ASTCENC_TYPE_F16, slices};
  const astcenc_swizzle swizzle{ASTCENC_SWZ_R, ASTCENC_SWZ_G, ASTCENC_SWZ_B, ASTCENC_SWZ_A};
  const size_t bytes = static_cast<size_t>(compressed_size(format, width, height));
  run_threads(threads, [&](int t) {
    return astcenc_decompress_image(context.get(), blocks, bytes, &image, &swizzle, static_cast<unsigned>(t));
  });
  return out;
}

std::vector<float> astc_half_to_float(const std::vector<uint16_t>& half) {
  std::vector<float> out(half.size());
  for (size_t i = 0; i < half.size(); ++i) out[i] = half_bits_to_float(half[i]);
  return out;
}

std::vector<uint8_t> make_astc_file(const BlockImage& image) {
  std::vector<uint8_t> out(16 + image.blocks.size());  // one allocation: header, then the blocks
  const uint32_t magic = 0x5CA1AB13u;
  memcpy(out.data(), &magic, 4);
  out[4] = static_cast<uint8_t>(image.format->block_width);
  out[5] = static_cast<uint8_t>(image.format->block_height);
  out[6] = 1;
  const uint32_t dims[3] = {static_cast<uint32_t>(image.width), static_cast<uint32_t>(image.height), 1};
  for (int d = 0; d < 3; ++d) {
    for (int k = 0; k < 3; ++k) out[7 + 3 * d + k] = static_cast<uint8_t>(dims[d] >> (8 * k));
  }
  std::copy(image.blocks.begin(), image.blocks.end(), out.begin() + 16);
  return out;
}

BlockImage parse_astc_file(const std::vector<uint8_t>& bytes, const std::string& name) {
  if (bytes.size() < 16) throw FormatError("'" + name + "' is too short for an .astc header (16 bytes)");
  uint32_t magic;
  memcpy(&magic, bytes.data(), 4);
  if (magic != 0x5CA1AB13u) throw FormatError("'" + name + "' is not an .astc file (bad magic number)");
  uint32_t dims[3];
  for (int d = 0; d < 3; ++d) {
    dims[d] = bytes[7 + 3 * d] | (bytes[8 + 3 * d] << 8) | (bytes[9 + 3 * d] << 16);
  }
  if (bytes[6] != 1 || dims[2] != 1) throw FormatError("'" + name + "' is a 3D .astc file; bcfeat reads 2D only");
  BlockImage image;
  image.format = find_astc_format(bytes[4], bytes[5]);
  if (!image.format) {
    throw FormatError("'" + name + "' has block size " + std::to_string(bytes[4]) + "x" +
                                std::to_string(bytes[5]) + ", not one of the 2D ASTC block sizes");
  }
  if (dims[0] == 0 || dims[1] == 0 || dims[0] > (1u << 16) || dims[1] > (1u << 16)) {
    throw FormatError("'" + name + "' has image size " + std::to_string(dims[0]) + "x" +
                                std::to_string(dims[1]) + " (1..65536 each)");
  }
  image.width = static_cast<int>(dims[0]);
  image.height = static_cast<int>(dims[1]);
  const size_t expected = static_cast<size_t>(compressed_size(*image.format, image.width, image.height));
  if (bytes.size() - 16 != expected) {
    throw FormatError("'" + name + "' holds " + std::to_string(bytes.size() - 16) + " bytes of blocks; a " +
                                std::to_string(image.width) + "x" + std::to_string(image.height) + " " +
                                image.format->name + " image needs " + std::to_string(expected));
  }
  image.blocks.assign(bytes.begin() + 16, bytes.end());
  return image;
}

std::vector<uint8_t> astc_encode_entry(const FormatInfo& format, const float* pixels, int width, int height,
                                       int channels, const CodecSettings& settings) {
  return astc_encode(format, settings.profile, pixels, width, height, channels, settings.quality, settings.threads);
}

std::vector<float> astc_decode_cpu_entry(const FormatInfo& format, const uint8_t* blocks, int width, int height,
                                         const CodecSettings& settings) {
  return astc_half_to_float(astc_decode_half_cpu(format, settings.profile, blocks, width, height, settings.threads));
}

std::vector<float> astc_decode_reference_entry(const FormatInfo& format, const uint8_t* blocks, int width, int height,
                                               const CodecSettings& settings) {
  return astc_half_to_float(
      astc_decode_half_reference(format, settings.profile, blocks, width, height, settings.threads));
}

std::vector<float> astc_decode_cuda_entry(const FormatInfo& format, const uint8_t* blocks, int width, int height,
                                          const CodecSettings& settings) {
  return astc_half_to_float(astc_decode_half_cuda(format, settings.profile, blocks, width, height));
}

}  // namespace bcfeat
