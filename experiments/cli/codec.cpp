// `bcfeat codec encode|decode|info`: block-compress images into the format's container
// (.dds or .astc) and decode such files, on any backend the format has.
#include <chrono>
#include <cmath>
#include <filesystem>

#include <fmt/format.h>

#include "bcfeat/framework/error.h"
#include "bcfeat/framework/image_io.h"
#include "bcfeat/framework/results.h"
#include "bcfeat/kernels/codec.h"
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

// The profile asked for ("" = ldr); hdr only on formats that have it.
Profile require_profile(const FormatInfo& format, const std::string& name) {
  if (name.empty()) return Profile::kLdr;
  return parse_input("--profile", [&] { return parse_profile(format, name); });
}

Backend require_backend(const std::string& name) {
  return parse_input("--device", [&] { return parse_backend(name); });
}

std::string describe_padding(int width, int height, int block_width, int block_height) {
  const int padded_width = (width + block_width - 1) / block_width * block_width;
  const int padded_height = (height + block_height - 1) / block_height * block_height;
  if (padded_width == width && padded_height == height) return "";
  return fmt::format(", padded to {}x{}", padded_width, padded_height);
}

// "bc7" or "astc_8x8 (hdr)": a format with profiles is named with its profile.
std::string format_label(const FormatInfo& format, Profile profile) {
  return format.has_profiles ? fmt::format("{} ({})", format.name, profile_name(profile)) : format.name;
}

int codec_encode(Args& args) {
  const std::string input = args.positional("IN");
  const std::string output = args.positional("OUT.dds|OUT.astc");
  const std::string format_name = args.option("--format", "");
  const std::string quality_text = args.option("--quality", "normal");
  const std::string device = args.option("--device", "cpu");
  const bool clamp = args.flag("--clamp");
  const std::string profile_text = args.option("--profile", "");
  const bool srgb = args.flag("--srgb");
  args.finish();
  if (format_name.empty()) throw_input_error("bcfeat codec encode: --format is required; valid: {}", join(format_names()));
  const FormatInfo& format = require_format(format_name);
  if (srgb && !format_has_srgb(format)) throw_input_error("--srgb: {} has no sRGB variant (bc1, bc2, bc3 and bc7 do)", format.name);
  const Profile profile = require_profile(format, profile_text);
  const Backend backend = require_backend(device);
  const std::string missing = encoder_unavailable(format, backend);
  if (!missing.empty()) throw_input_error("--device {}: {}", device, missing);
  const Quality quality = parse_input("--quality", [&] { return parse_quality(format, quality_text); });
  const char* extension = container_extension(format.container);
  if (fs::path(output).extension() != extension) throw_input_error("output '{}' must end in {}", output, extension);
  FloatImage image = load_image(input);
  const ValueDomain domain = format_domain(format, profile);
  check_domain(image, format_label(format, profile), value_domain_low(domain), value_domain_high(domain), clamp, input);
  const auto start = std::chrono::steady_clock::now();
  BlockImage encoded{&format, image.width, image.height, {}};
  encoded.srgb = srgb;  // the values are stored as given, tagged as sRGB-encoded colour
  encoded.blocks = encode_image(format, backend, image.pixels.data(), image.width, image.height, image.channels,
                                CodecSettings{quality, profile, 0});
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const std::vector<uint8_t> file = write_block_file(encoded);
  write_file_atomic(output, std::string(file.begin(), file.end()));
  const BlockGrid grid = block_grid(format, image.width, image.height);
  const std::string padding = describe_padding(image.width, image.height, format.block_width, format.block_height);
  fmt::print("{}: {}x{} -> {} ({}, {} quality, {}): {} blocks, {} bytes, {:.4f} bits/texel, {:.3f} s{}{}\n", input,
             image.width, image.height, output, format_label(format, profile), quality_name(format, quality), device,
             grid.blocks(), encoded.blocks.size(),
             8.0 * encoded.blocks.size() / (static_cast<double>(image.width) * image.height), seconds, padding,
             image.channels > format.channels ? fmt::format(" (input channels beyond {} ignored)", format.channels) : "");
  return 0;
}

BlockImage read_file(const std::string& path) {
  const std::vector<uint8_t> bytes = read_bytes(path);
  try {
    return read_block_file(bytes, path);
  } catch (const FormatError& e) {
    throw_input_error("{}", e.what());
  }
}

int codec_decode(Args& args) {
  const std::string input = args.positional("IN.dds|IN.astc");
  const std::string output = args.positional("OUT.npy");
  const std::string device = args.option("--device", "cpu");
  const std::string profile_text = args.option("--profile", "");
  const std::string srgb_text = args.option("--srgb", "linear");
  args.finish();
  if (fs::path(output).extension() != ".npy") throw_input_error("output '{}' must end in .npy", output);
  if (srgb_text != "linear" && srgb_text != "stored") {
    throw_input_error("--srgb must be linear or stored, got '{}'{}", srgb_text, did_you_mean(srgb_text, {"linear", "stored"}));
  }
  const Backend backend = require_backend(device);
  const BlockImage image = read_file(input);
  const FormatInfo& format = *image.format;
  const Profile profile = require_profile(format, profile_text);
  const std::string missing = decoder_unavailable(format, backend);
  if (!missing.empty()) throw_input_error("--device {}: {}", device, missing);
  // An sRGB file decodes to linear colour, as the texture units sample it, unless --srgb stored.
  CodecSettings settings{Quality::kNormal, profile, 0};
  settings.srgb = image.srgb && srgb_text == "linear";
  FloatImage decoded{image.width, image.height, format.channels,
                     decode_image(format, backend, image.blocks.data(), image.width, image.height, settings)};
  save_image_npy(output, decoded);
  fmt::print("{}: {} {}x{} -> {} [{}, {}, {}] float32 ({}){}{}\n", input, format_label(format, profile), image.width,
             image.height, output, image.height, image.width, decoded.channels, device,
             image.srgb ? (settings.srgb ? "; sRGB colour decoded to linear" : "; sRGB colour as stored") : "",
             image.mip_levels > 1 ? fmt::format("; the top of {} mip levels", image.mip_levels) : "");
  return 0;
}

int codec_info(Args& args) {
  const std::string input = args.positional("FILE");
  args.finish();
  const BlockImage image = read_file(input);
  const FormatInfo& format = *image.format;
  const BlockGrid grid = block_grid(format, image.width, image.height);
  fmt::print("file          {}\nformat        {} ({}x{} blocks, {:.4f} bits/texel per block; {}){}\n"
             "size          {}x{} ({}x{} padded)\nblocks        {}x{} = {}\n"
             "bytes         {}\nbits/texel    {:.4f} (over the {}x{} image, padding included)\n",
             input, format.name, format.block_width, format.block_height, format_bits_per_texel(format),
             format.description,
             format.has_profiles ? "\nprofile       not stored in the file: decode with --profile ldr|hdr" : "",
             image.width, image.height, grid.blocks_x * format.block_width, grid.blocks_y * format.block_height,
             grid.blocks_x, grid.blocks_y, grid.blocks(), image.blocks.size(),
             8.0 * image.blocks.size() / (static_cast<double>(image.width) * image.height), image.width, image.height);
  if (image.srgb) fmt::print("colour        sRGB-encoded (decode gives linear values; --srgb stored for the stored ones)\n");
  if (image.mip_levels > 1) fmt::print("mip levels    {} (the top level is read)\n", image.mip_levels);
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
