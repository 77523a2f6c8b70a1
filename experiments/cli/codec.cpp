// `bcfeat codec encode|decode|info`: block-compress images and read .dds files.
#include <chrono>
#include <cmath>
#include <filesystem>

#include <fmt/format.h>

#include "bcfeat/framework/error.h"
#include "bcfeat/framework/image_io.h"
#include "bcfeat/framework/results.h"
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
void check_domain(FloatImage& image, const FormatInfo& format, bool clamp, const std::string& path) {
  const float low = value_domain_low(format.domain), high = value_domain_high(format.domain);
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
                          pixel / image.width, pixel % image.width, i % image.channels, format.name, low, high);
      }
      value = std::fmin(high, std::fmax(low, value));
    }
  }
}

int codec_encode(Args& args) {
  const std::string input = args.positional("IN");
  const std::string output = args.positional("OUT.dds");
  const std::string format_name = args.option("--format", "");
  const std::string quality_name_text = args.option("--quality", "normal");
  const std::string device = args.option("--device", "cpu");
  const bool clamp = args.flag("--clamp");
  args.finish();
  if (format_name.empty()) throw_input_error("bcfeat codec encode: --format is required; valid: {}", join(format_names()));
  const FormatInfo& format = require_format(format_name);
  if (device != "cpu" && device != "cuda") throw_input_error("--device must be cpu or cuda for encoding, got '{}'", device);
  Quality quality;
  try {
    quality = parse_quality(quality_name_text);
  } catch (const std::invalid_argument& e) {
    throw_input_error("--quality: {}", e.what());
  }
  if (fs::path(output).extension() != ".dds") throw_input_error("output '{}' must end in .dds", output);
  FloatImage image = load_image(input);
  check_domain(image, format, clamp, input);
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
  const int padded_width = grid.blocks_x * format.block_width, padded_height = grid.blocks_y * format.block_height;
  fmt::print("{}: {}x{} -> {} ({} quality, {}): {} blocks, {} bytes, {:.4f} bits/texel, {:.3f} s{}{}\n", input,
             image.width, image.height, output, quality_name(quality), device, grid.blocks(), encoded.blocks.size(),
             8.0 * encoded.blocks.size() / (static_cast<double>(image.width) * image.height), seconds,
             padded_width != image.width || padded_height != image.height
                 ? fmt::format(", padded to {}x{} by edge replication", padded_width, padded_height)
                 : "",
             image.channels > format.channels ? fmt::format(" (input channels beyond {} ignored)", format.channels) : "");
  return 0;
}

int codec_decode(Args& args) {
  const std::string input = args.positional("IN.dds");
  const std::string output = args.positional("OUT.npy");
  const std::string device = args.option("--device", "cpu");
  args.finish();
  if (device != "cpu" && device != "cuda" && device != "texture") {
    throw_input_error("--device must be cpu, cuda or texture, got '{}'", device);
  }
  if (fs::path(output).extension() != ".npy") throw_input_error("output '{}' must end in .npy", output);
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
