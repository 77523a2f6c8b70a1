// `bcfeat codec encode|decode|info`: block-compress images and read .dds files.
#include <chrono>
#include <cmath>
#include <filesystem>

#include <fmt/format.h>

#include "bcfeat/framework/error.h"
#include "bcfeat/framework/image_io.h"
#include "bcfeat/framework/results.h"
#include "bcfeat/kernels/astc_codec.h"
#include "bcfeat/kernels/codec.h"
#include "bcfeat/kernels/dds.h"
#include "cli.h"

namespace bcfeat {
namespace fs = std::filesystem;

namespace {

std::vector<uint8_t> read_bytes(const std::string& path) {
  if (!fs::is_regular_file(path)) throw_input_error("file '{}' does not exist", path);
  const std::string text = read_text_file(path);
  return std::vector<uint8_t>(text.begin(), text.end());
}

const FormatInfo& require_format(const std::string& name) {
  const FormatInfo* format = find_format(name);
  if (!format) throw_input_error("unknown format '{}'{}; valid: {}", name, did_you_mean(name, format_names()), join(format_names()));
  return *format;
}

// Finite values in the format's domain (clamped when asked); the first bad value is named.
void check_domain(FloatImage& image, const std::string& format, float low, float high, bool clamp, const std::string& path) {
  for (size_t i = 0; i < image.pixels.size(); ++i) {
    float& value = image.pixels[i];
    const size_t pixel = i / image.channels;
    if (!std::isfinite(value)) {
      throw_input_error("'{}' holds {} at [{}, {}, {}]; values must be finite", path, value, pixel / image.width,
                        pixel % image.width, i % image.channels);
    }
    if (value < low || value > high) {
      if (!clamp) {
        throw_input_error("'{}' holds {} at [{}, {}, {}], outside {}'s range [{}, {}]; pass --clamp to clamp", path, value,
                          pixel / image.width, pixel % image.width, i % image.channels, format, low, high);
      }
      value = std::fmin(high, std::fmax(low, value));
    }
  }
}

AstcProfile require_profile(const std::string& name) {
  return parse_input("--profile", [&] { return parse_astc_profile(name); });
}

std::string describe_padding(int width, int height, int block_width, int block_height) {
  const int padded_width = (width + block_width - 1) / block_width * block_width;
  const int padded_height = (height + block_height - 1) / block_height * block_height;
  if (padded_width == width && padded_height == height) return "";
  return fmt::format(", padded to {}x{}", padded_width, padded_height);
}

// ASTC: libastcenc encodes on the CPU (its own thread pool) into an .astc file.
int astc_encode_file(const AstcFormat& format, const std::string& input, const std::string& output,
                     const std::string& quality_text, const std::string& profile_text, const std::string& device,
                     bool clamp) {
  if (device != "cpu") {
    throw_input_error("--device {}: ASTC encodes on the CPU (libastcenc); decode with --device cuda", device);
  }
  const AstcProfile profile = require_profile(profile_text);
  const AstcPreset preset = parse_input("--quality", [&] { return parse_astc_preset(quality_text); });
  if (fs::path(output).extension() != ".astc") throw_input_error("output '{}' must end in .astc", output);
  FloatImage image = load_image(input);
  check_domain(image, fmt::format("{} ({})", format.name, astc_profile_name(profile)), 0.0f,
               profile == AstcProfile::kHdr ? 65504.0f : 1.0f, clamp, input);
  const auto start = std::chrono::steady_clock::now();
  AstcImage encoded{&format, image.width, image.height, {}};
  encoded.blocks = astc_encode(format, profile, image.pixels.data(), image.width, image.height, image.channels, preset);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const std::vector<uint8_t> file = make_astc_file(encoded);
  write_file_atomic(output, std::string(file.begin(), file.end()));
  fmt::print("{}: {}x{} -> {} ({} profile, libastcenc {} preset, cpu): {} blocks, {} bytes, {:.4f} bits/texel, {:.3f} s{}\n",
             input, image.width, image.height, output, astc_profile_name(profile), astc_preset_name(preset),
             encoded.blocks.size() / 16, encoded.blocks.size(),
             8.0 * encoded.blocks.size() / (static_cast<double>(image.width) * image.height), seconds,
             describe_padding(image.width, image.height, format.block_width, format.block_height));
  return 0;
}

AstcImage read_astc(const std::string& path) {
  return parse_input("", [&] { return parse_astc_file(read_bytes(path), path); });
}

int astc_decode_file(const std::string& input, const std::string& output, const std::string& device,
                     const std::string& profile_text) {
  if (device != "cpu" && device != "cuda" && device != "reference") {
    throw_input_error("--device must be cpu, cuda or reference (libastcenc) for .astc files, got '{}'", device);
  }
  const AstcProfile profile = require_profile(profile_text);
  const AstcImage image = read_astc(input);
  if (device == "cuda" && !cuda_codec_available()) throw_input_error("--device cuda: no CUDA device is available");
  const AstcFormat& f = *image.format;
  std::vector<uint16_t> half;
  if (device == "cuda") {
    half = astc_decode_half_cuda(f, profile, image.blocks.data(), image.width, image.height);
  } else if (device == "reference") {
    half = astc_decode_half_reference(f, profile, image.blocks.data(), image.width, image.height);
  } else {
    half = astc_decode_half_cpu(f, profile, image.blocks.data(), image.width, image.height);
  }
  FloatImage decoded{image.width, image.height, 4, astc_half_to_float(half)};
  save_image_npy(output, decoded);
  fmt::print("{}: {} ({}) {}x{} -> {} [{}, {}, 4] float32 ({})\n", input, f.name, astc_profile_name(profile), image.width,
             image.height, output, image.height, image.width, device == "reference" ? "libastcenc" : device);
  return 0;
}

int codec_encode(Args& args) {
  const std::string input = args.positional("IN");
  const std::string output = args.positional("OUT.dds|OUT.astc");
  const std::string format_name = args.option("--format", "");
  const std::string quality_name_text = args.option("--quality", "normal");
  const std::string device = args.option("--device", "cpu");
  const bool clamp = args.flag("--clamp");
  const std::string profile = args.option("--profile", "");
  args.finish();
  if (format_name.empty()) {
    throw_input_error("bcfeat codec encode: --format is required; valid: {}, {}", join(format_names()),
                      join(astc_format_names()));
  }
  if (const AstcFormat* astc = find_astc_format(format_name)) {
    return astc_encode_file(*astc, input, output, quality_name_text, profile.empty() ? "ldr" : profile, device, clamp);
  }
  if (!profile.empty()) throw_input_error("--profile applies to the ASTC formats only, not {}", format_name);
  const FormatInfo& format = require_format(format_name);
  if (device != "cpu" && device != "cuda") throw_input_error("--device must be cpu or cuda for encoding, got '{}'", device);
  const Quality quality = parse_input("--quality", [&] { return parse_quality(quality_name_text); });
  if (fs::path(output).extension() != ".dds") throw_input_error("output '{}' must end in .dds", output);
  FloatImage image = load_image(input);
  check_domain(image, format.name, value_domain_low(format.domain), value_domain_high(format.domain), clamp, input);
  if (device == "cuda" && !cuda_codec_available()) throw_input_error("--device cuda: no CUDA device is available");
  const auto start = std::chrono::steady_clock::now();
  BlockImage encoded{&format, image.width, image.height, {}};
  encoded.blocks = device == "cuda"
                       ? encode_image_cuda(format, image.pixels.data(), image.width, image.height, image.channels, quality)
                       : encode_image_cpu(format, image.pixels.data(), image.width, image.height, image.channels, quality);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const std::vector<uint8_t> file = make_dds(encoded);
  write_file_atomic(output, std::string(file.begin(), file.end()));
  const BlockGrid grid = block_grid(format, image.width, image.height);
  const std::string padding = describe_padding(image.width, image.height, format.block_width, format.block_height);
  fmt::print("{}: {}x{} -> {} ({} quality, {}): {} blocks, {} bytes, {:.4f} bits/texel, {:.3f} s{}{}\n", input,
             image.width, image.height, output, quality_name(quality), device, grid.blocks(), encoded.blocks.size(),
             8.0 * encoded.blocks.size() / (static_cast<double>(image.width) * image.height), seconds,
             padding.empty() ? "" : padding + " by edge replication",
             image.channels > format.channels ? fmt::format(" (input channels beyond {} ignored)", format.channels) : "");
  return 0;
}

int codec_decode(Args& args) {
  const std::string input = args.positional("IN.dds|IN.astc");
  const std::string output = args.positional("OUT.npy");
  const std::string device = args.option("--device", "cpu");
  const std::string profile = args.option("--profile", "");
  args.finish();
  if (fs::path(output).extension() != ".npy") throw_input_error("output '{}' must end in .npy", output);
  if (fs::path(input).extension() == ".astc") return astc_decode_file(input, output, device, profile.empty() ? "ldr" : profile);
  if (!profile.empty()) throw_input_error("--profile applies to .astc files only");
  if (device != "cpu" && device != "cuda" && device != "texture") {
    throw_input_error("--device must be cpu, cuda or texture, got '{}'", device);
  }
  const BlockImage image = parse_dds(read_bytes(input), input);
  if (device != "cpu" && !cuda_codec_available()) throw_input_error("--device {}: no CUDA device is available", device);
  FloatImage decoded;
  decoded.width = image.width;
  decoded.height = image.height;
  decoded.channels = image.format->channels;
  if (device == "cuda") {
    decoded.pixels = decode_image_cuda(*image.format, image.blocks.data(), image.width, image.height);
  } else if (device == "texture") {
    decoded.pixels = decode_image_texture(*image.format, image.blocks.data(), image.width, image.height);
  } else {
    decoded.pixels = decode_image_cpu(*image.format, image.blocks.data(), image.width, image.height);
  }
  save_image_npy(output, decoded);
  fmt::print("{}: {} {}x{} -> {} [{}, {}, {}] float32 ({})\n", input, image.format->name, image.width, image.height,
             output, image.height, image.width, decoded.channels, device);
  return 0;
}

int codec_info(Args& args) {
  const std::string input = args.positional("FILE");
  args.finish();
  if (fs::path(input).extension() == ".astc") {
    const AstcImage image = read_astc(input);
    const AstcFormat& f = *image.format;
    const int bx = (image.width + f.block_width - 1) / f.block_width, by = (image.height + f.block_height - 1) / f.block_height;
    fmt::print("file          {}\nformat        {} (ASTC {}x{} blocks, {:.4f} bits/texel per block; profile not stored: "
               "decode with --profile ldr|hdr)\nsize          {}x{} ({}x{} padded)\nblocks        {}x{} = {}\n"
               "bytes         {}\nbits/texel    {:.4f} (over the {}x{} image, padding included)\n",
               input, f.name, f.block_width, f.block_height, astc_bits_per_texel(f), image.width, image.height,
               bx * f.block_width, by * f.block_height, bx, by, bx * by, image.blocks.size(),
               8.0 * image.blocks.size() / (static_cast<double>(image.width) * image.height), image.width, image.height);
    return 0;
  }
  const BlockImage image = parse_dds(read_bytes(input), input);
  const FormatInfo& format = *image.format;
  const BlockGrid grid = block_grid(format, image.width, image.height);
  fmt::print("file          {}\nformat        {} ({})\nsize          {}x{} ({}x{} padded)\nblocks        {}x{} = {}\n"
             "bytes         {}\nbits/texel    {:.4f} (over the {}x{} image, padding included)\n",
             input, format.name, format.description, image.width, image.height, grid.blocks_x * format.block_width,
             grid.blocks_y * format.block_height, grid.blocks_x, grid.blocks_y, grid.blocks(), image.blocks.size(),
             8.0 * image.blocks.size() / (static_cast<double>(image.width) * image.height), image.width, image.height);
  return 0;
}

}  // namespace

int command_codec(Args& args) {
  const std::string action = args.positional("encode|decode|info");
  if (action == "encode") return codec_encode(args);
  if (action == "decode") return codec_decode(args);
  if (action == "info") return codec_info(args);
  throw_input_error("bcfeat codec: unknown action '{}'{}; valid: encode, decode, info", action,
                    did_you_mean(action, {"encode", "decode", "info"}));
}

}  // namespace bcfeat
