// `bcfeat bench codecs`: quality and speed of every format of the table (each profile of
// the formats that have profiles, each quality level asked for) on every backend this machine
// has, next to the other encoders of the same formats (libsquish, nvtt), written as JSON.
//
// Quality: mean PSNR over the images of the colour channels a format stores (RGB, or R for
// bc4, RG for bc5) at the domain's peak, RMSE, and for half-float domains the relative RMSE;
// snorm formats see the image mapped to [−1, 1] (peak 2), half-float domains an HDR version
// (sRGB decoded to linear light × 16, or shifted to [−8, 8] for signed ones; peak 16).
// Decoded with bcfeat's decoder, which is the hardware's (or the reference's) bit for bit,
// so every encoder is judged by what a GPU returns. Each decoder present (CUDA, texture
// units, reference) is checked bit for bit against the CPU decoder on every image.
// Speed: CPU encode/decode with `--threads`; the reference decoder likewise; CUDA encode,
// software decode and texture-unit decode timed with CUDA events on device-resident data on a
// large image tiled with the first image's blocks; decode bandwidth counts compressed bytes
// read + texels written, next to the device's copy bandwidth measured in the same run.
// Other encoders run single-threaded (their libraries are serial).

#include <chrono>
#include <cmath>
#include <cstring>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bcfeat/framework/error.h"
#include "bcfeat/framework/image_io.h"
#include "bcfeat/framework/provenance.h"
#include "bcfeat/framework/results.h"
#include "bcfeat/kernels/codec.h"
#include "bcfeat/kernels/cuda_device.h"
#include "cli.h"

namespace bcfeat {

namespace {

using Clock = std::chrono::steady_clock;

struct BenchImage {
  std::string name;
  int width, height;
  std::vector<float> rgba;  // [H][W][4] in [0, 1]
};

// Smooth and textured synthetic images when no directory is given.
std::vector<BenchImage> synthetic_images() {
  std::vector<BenchImage> images;
  for (int k = 0; k < 4; ++k) {
    BenchImage image{fmt::format("synthetic{}", k), 512, 384, {}};
    image.rgba.resize(static_cast<size_t>(image.width) * image.height * 4);
    uint64_t state = 12345 + k;
    for (int y = 0; y < image.height; ++y) {
      for (int x = 0; x < image.width; ++x) {
        for (int c = 0; c < 4; ++c) {
          state = state * 6364136223846793005ull + 1442695040888963407ull;
          const float noise = static_cast<float>((state >> 40) & 0xffff) / 65536.0f - 0.5f;
          float v = 0.5f + 0.4f * std::sin(0.02f * (k + 1) * x + 0.013f * y * (c + 1)) + 0.04f * k * noise;
          image.rgba[(static_cast<size_t>(y) * image.width + x) * 4 + c] = c == 3 ? 1.0f : std::fmin(1.0f, std::fmax(0.0f, v));
        }
      }
    }
    images.push_back(std::move(image));
  }
  return images;
}

std::vector<BenchImage> load_images(const std::string& directory) {
  std::vector<BenchImage> images;
  for (const auto& path : list_png_files(directory)) {
    const FloatImage loaded = load_png(path);
    BenchImage image{path.substr(path.find_last_of('/') + 1), loaded.width, loaded.height, {}};
    image.rgba.resize(static_cast<size_t>(loaded.width) * loaded.height * 4);
    for (size_t p = 0; p < static_cast<size_t>(loaded.width) * loaded.height; ++p) {
      for (int c = 0; c < 4; ++c) {
        const int source = loaded.channels >= 3 ? c : (c < 3 ? 0 : -1);  // grey → RGB
        image.rgba[p * 4 + c] = (source >= 0 && source < loaded.channels) ? loaded.pixels[p * loaded.channels + source] : 1.0f;
      }
    }
    images.push_back(std::move(image));
  }
  return images;
}

// The image as the format sees it: snorm formats get 2x − 1; the half-float formats get an
// HDR version — sRGB decoded to linear light and scaled to [0, 16] (UF16) or shifted to
// [−8, 8] (SF16) — so that BC6H is measured on a 16:1-and-beyond dynamic range.
constexpr float kHdrScale = 16.0f;

float srgb_to_linear(float v) { return v <= 0.04045f ? v / 12.92f : std::pow((v + 0.055f) / 1.055f, 2.4f); }

std::vector<float> in_domain(const BenchImage& image, ValueDomain domain) {
  std::vector<float> pixels = image.rgba;
  for (size_t i = 0; i < pixels.size(); ++i) {
    float& v = pixels[i];
    const bool alpha = i % 4 == 3;
    if (domain == ValueDomain::kSnorm) {
      v = 2.0f * v - 1.0f;
    } else if (domain == ValueDomain::kUnsignedHalf && !alpha) {
      v = kHdrScale * srgb_to_linear(v);
    } else if (domain == ValueDomain::kHalf && !alpha) {
      v = kHdrScale * (srgb_to_linear(v) - 0.5f);
    }
  }
  return pixels;
}

// The width of the values in_domain produces: the PSNR peak.
double domain_peak(ValueDomain domain) {
  if (value_domain_is_float(domain)) return kHdrScale;
  return domain == ValueDomain::kSnorm ? 2.0 : 1.0;
}

// Squared error and energy over the colour channels the format stores (not alpha).
struct ColourError {
  double squared = 0, energy = 0;
  int64_t values = 0;
};
ColourError colour_error(const FormatInfo& format, const std::vector<float>& reference,
                         const std::vector<float>& decoded, int width, int height) {
  const int channels = std::min(format.channels, 3);
  ColourError e;
  for (int64_t p = 0; p < static_cast<int64_t>(width) * height; ++p) {
    for (int c = 0; c < channels; ++c) {
      const double a = reference[p * 4 + c], d = a - decoded[p * format.channels + c];
      e.squared += d * d;
      e.energy += a * a;
    }
  }
  e.values = static_cast<int64_t>(width) * height * channels;
  return e;
}

double psnr_from_mse(ValueDomain domain, double mse) {
  const double peak = domain_peak(domain);
  return mse > 0 ? 10.0 * std::log10(peak * peak / mse) : 99.0;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

std::vector<uint8_t> to_rgba8(const BenchImage& image) {
  std::vector<uint8_t> out(image.rgba.size());
  for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<uint8_t>(std::lround(image.rgba[i] * 255.0f));
  return out;
}

// The report header: what ran where, on which images, and (on a GPU) the
// device's copy bandwidth measured in the same run.
nlohmann::ordered_json report_header(const std::string& bench, bool cuda, int threads, const std::string& image_dir,
                                     const std::vector<BenchImage>& images, int repetitions) {
  int64_t texels = 0;
  for (const auto& image : images) texels += static_cast<int64_t>(image.width) * image.height;
  nlohmann::ordered_json report;
  report["bench"] = bench;
  report["time"] = iso_time_now();
  report["provenance"] = provenance_snapshot();
  report["device"] = cuda ? cuda_device_name(0) : "cpu";
  report["cpu_threads"] = threads;
  report["images"] = image_dir.empty() ? "synthetic (4 × 512x384)" : image_dir;
  report["image_count"] = images.size();
  report["texels"] = texels;
  if (cuda) report["copy_bandwidth_GBps"] = measure_copy_bandwidth(int64_t{1} << 28, repetitions) / 1e9;
  return report;
}


// One quality level of one format and profile over every image.
struct LevelResult {
  nlohmann::ordered_json row;
  std::vector<uint8_t> first_blocks;  // the first image's blocks (CPU encoder)
};

LevelResult bench_level(const FormatInfo& format, const CodecSettings& settings, const std::vector<BenchImage>& images,
                        const std::vector<std::vector<float>>& sources, bool cuda, int64_t texels) {
  const ValueDomain domain = format_domain(format, settings.profile);
  const bool reference = format.has_decoder(Backend::kReference);
  const bool cuda_encoder = cuda && format.has_encoder(Backend::kCuda);
  const bool cuda_decoder = cuda && format.has_decoder(Backend::kCuda);
  const bool texture_decoder = cuda && format.has_decoder(Backend::kTexture);
  double encode_s = 0, decode_s = 0, reference_s = 0, psnr_sum = 0, mse_sum = 0, relative_sum = 0;
  bool reference_equal = true, cuda_blocks_equal = true, cuda_equal = true, texture_equal = true;
  LevelResult result;
  for (size_t i = 0; i < images.size(); ++i) {
    const int w = images[i].width, h = images[i].height;
    auto start = Clock::now();
    const auto blocks = encode_image(format, Backend::kCpu, sources[i].data(), w, h, 4, settings);
    encode_s += seconds_since(start);
    if (i == 0) result.first_blocks = blocks;
    start = Clock::now();
    const auto decoded = decode_image(format, Backend::kCpu, blocks.data(), w, h, settings);
    decode_s += seconds_since(start);
    if (reference) {
      start = Clock::now();
      const auto other = decode_image(format, Backend::kReference, blocks.data(), w, h, settings);
      reference_s += seconds_since(start);
      reference_equal = reference_equal && same_bits(other, decoded);
    }
    if (cuda_encoder) {
      cuda_blocks_equal = cuda_blocks_equal &&
                          encode_image(format, Backend::kCuda, sources[i].data(), w, h, 4, settings) == blocks;
    }
    if (cuda_decoder) cuda_equal = cuda_equal && same_bits(decode_image(format, Backend::kCuda, blocks.data(), w, h, settings), decoded);
    if (texture_decoder) {
      texture_equal = texture_equal && same_bits(decode_image(format, Backend::kTexture, blocks.data(), w, h, settings), decoded);
    }
    const ColourError e = colour_error(format, sources[i], decoded, w, h);
    const double mse = e.squared / static_cast<double>(e.values);
    psnr_sum += psnr_from_mse(domain, mse);
    mse_sum += mse;
    relative_sum += e.energy > 0 ? std::sqrt(e.squared / e.energy) : 0.0;
  }
  const double n = static_cast<double>(images.size());
  nlohmann::ordered_json& row = result.row;
  row["format"] = format.name;
  if (format.has_profiles) row["profile"] = profile_name(settings.profile);
  row["quality"] = quality_name(format, settings.quality);
  row["encoder"] = format.encoder_name;
  row["bits_per_texel"] = format_bits_per_texel(format);
  row["psnr_db"] = psnr_sum / n;
  row["psnr_peak"] = domain_peak(domain);
  row["rmse"] = std::sqrt(mse_sum / n);
  if (value_domain_is_float(domain)) row["relative_rmse"] = relative_sum / n;
  row["cpu_encode_mtexel_s"] = texels / encode_s / 1e6;
  row["cpu_decode_mtexel_s"] = texels / decode_s / 1e6;
  row["cpu_threads"] = settings.threads;
  if (reference) {
    row["reference_decode_mtexel_s"] = texels / reference_s / 1e6;
    row["decode_equals_reference"] = reference_equal;
  }
  if (cuda_encoder) row["cuda_blocks_match_cpu"] = cuda_blocks_equal;
  if (cuda_decoder) row["cuda_decode_equals_cpu"] = cuda_equal;
  if (texture_decoder) row["texture_decode_equals_cpu"] = texture_equal;
  fmt::print(stderr, "{:<11} {} {:<8} {:.3f} dB  cpu enc {:.2f} dec {:.1f} Mtexel/s{}{}\n", format.name,
             format.has_profiles ? profile_name(settings.profile) : "   ", quality_name(format, settings.quality),
             row["psnr_db"].get<double>(), row["cpu_encode_mtexel_s"].get<double>(),
             row["cpu_decode_mtexel_s"].get<double>(),
             reference ? fmt::format("  reference dec {:.1f} Mtexel/s, equal {}", texels / reference_s / 1e6, reference_equal)
                       : "",
             cuda ? fmt::format("  cuda equal {}", cuda_equal && cuda_blocks_equal && texture_equal) : "");
  return result;
}

// GPU speed on one size x size image tiled with the first image's blocks (decode time
// depends on the blocks only), and of the CUDA encoder on the same tiling of its pixels.
nlohmann::ordered_json bench_bandwidth(const FormatInfo& format, const CodecSettings& settings, const BenchImage& tile,
                                       const std::vector<float>& tile_pixels, const std::vector<uint8_t>& tile_blocks,
                                       int size, int repetitions, double copy_gbps) {
  const BlockGrid tile_grid = block_grid(format, tile.width, tile.height);
  const BlockGrid grid = block_grid(format, size, size);
  const size_t block_bytes = static_cast<size_t>(format.bytes_per_block);
  std::vector<uint8_t> blocks(static_cast<size_t>(grid.blocks()) * block_bytes);
  for (int64_t y = 0; y < grid.blocks_y; ++y) {
    for (int64_t x = 0; x < grid.blocks_x; ++x) {
      const int64_t from = (y % tile_grid.blocks_y) * tile_grid.blocks_x + x % tile_grid.blocks_x;
      std::memcpy(&blocks[(y * grid.blocks_x + x) * block_bytes], &tile_blocks[from * block_bytes], block_bytes);
    }
  }
  const double texels = static_cast<double>(size) * size;
  nlohmann::ordered_json row = {{"format", format.name}};
  if (format.has_profiles) row["profile"] = profile_name(settings.profile);
  row["quality"] = quality_name(format, settings.quality);
  row["width"] = size;
  row["height"] = size;
  std::string line;
  if (format.has_encoder(Backend::kCuda)) {
    std::vector<float> pixels(static_cast<size_t>(size) * size * 4);
    for (int y = 0; y < size; ++y) {
      for (int x = 0; x < size; ++x) {
        const size_t source = (static_cast<size_t>(y % tile.height) * tile.width + x % tile.width) * 4;
        std::memcpy(&pixels[(static_cast<size_t>(y) * size + x) * 4], &tile_pixels[source], 4 * sizeof(float));
      }
    }
    const CudaTiming encode = time_encode_cuda(format, pixels.data(), size, size, 4, settings, repetitions);
    row["cuda_encode_gtexel_s"] = texels / encode.seconds / 1e9;
    line += fmt::format(" encode {:.2f} Gtexel/s", texels / encode.seconds / 1e9);
  }
  if (format.has_decoder(Backend::kCuda)) {
    const CudaTiming decode = time_decode_cuda(format, Backend::kCuda, blocks.data(), size, size, settings, repetitions);
    const double gbps = (decode.bytes_read + decode.bytes_written) / decode.seconds / 1e9;
    row["cuda_decode_GBps"] = gbps;
    row["cuda_decode_fraction_of_copy"] = gbps / copy_gbps;
    row["cuda_decode_gtexel_s"] = texels / decode.seconds / 1e9;
    row["cuda_decode_bytes_per_texel_written"] = static_cast<double>(decode.bytes_written) / texels;
    line += fmt::format(" decode {:.0f} GB/s = {:.0f}% of copy", gbps, 100 * gbps / copy_gbps);
  }
  if (format.has_decoder(Backend::kTexture)) {
    const CudaTiming decode = time_decode_cuda(format, Backend::kTexture, blocks.data(), size, size, settings, repetitions);
    const double gbps = (decode.bytes_read + decode.bytes_written) / decode.seconds / 1e9;
    row["texture_decode_GBps"] = gbps;
    row["texture_decode_fraction_of_copy"] = gbps / copy_gbps;
    line += fmt::format(", texture units {:.0f} GB/s", gbps);
  }
  fmt::print(stderr, "{:<11} bandwidth:{}\n", format.name, line);
  return row;
}

}  // namespace

int bench_features(Args& args);   // bench_features.cpp
int bench_attention(Args& args);  // bench_attention.cpp

int command_bench(Args& args) {
  const std::string what = args.positional("codecs|features|attention");
  if (what == "features") return bench_features(args);
  if (what == "attention") return bench_attention(args);
  if (what != "codecs") throw_input_error("bcfeat bench: unknown benchmark '{}'; valid: codecs, features, attention", what);
  std::vector<std::string> format_list = split_list(args.option("--formats", ""));
  const std::vector<std::string> quality_list = split_list(args.option("--qualities", "fast,normal,high"));
  const std::vector<std::string> profile_list = split_list(args.option("--profiles", "ldr,hdr"));
  const std::string image_dir = args.option("--images", "");
  const std::string device = args.option("--device", cuda_codec_available() ? "cuda" : "cpu");
  const std::string output = args.option("--output", "");
  const int threads = args.int_option("--threads", static_cast<int>(std::thread::hardware_concurrency()), 1, 4096);
  const int repetitions = args.int_option("--repetitions", 20, 1, 10000);
  const int bandwidth_size = args.int_option("--bandwidth-size", 8192, 256, 32768);
  const bool baselines = !args.flag("--no-baselines");
  args.finish();
  if (device != "cpu" && device != "cuda") throw_input_error("--device must be cpu or cuda, got '{}'", device);
  if (device == "cuda" && !cuda_codec_available()) throw_input_error("--device cuda: no CUDA device is available");
  if (format_list.empty()) format_list = format_names();
  std::vector<const FormatInfo*> formats;
  for (const auto& name : format_list) {
    const FormatInfo* format = find_format(name);
    if (!format) throw_input_error("--formats: unknown format '{}'{}; valid: {}", name, did_you_mean(name, format_names()), join(format_names()));
    formats.push_back(format);
  }
  // Every level and profile named must exist for every format asked for.
  std::vector<std::vector<Quality>> qualities;
  std::vector<std::vector<Profile>> profiles;
  for (const FormatInfo* format : formats) {
    qualities.emplace_back();
    for (const auto& name : quality_list) {
      qualities.back().push_back(parse_input("--qualities", [&] { return parse_quality(*format, name); }));
    }
    profiles.emplace_back();
    for (const auto& name : profile_list) {
      const Profile profile = parse_input("--profiles", [&] { return parse_profile_name(name); });
      if (profile == Profile::kHdr && !format->has_profiles) continue;  // formats without profiles run once
      profiles.back().push_back(profile);
    }
    if (profiles.back().empty()) profiles.back().push_back(Profile::kLdr);
  }
  const std::vector<BenchImage> images = image_dir.empty() ? synthetic_images() : load_images(image_dir);
  const bool cuda = device == "cuda";
  nlohmann::ordered_json report = report_header("codecs", cuda, threads, image_dir, images, repetitions);
  const int64_t texels = report["texels"].get<int64_t>();
  report["results"] = nlohmann::ordered_json::array();
  report["baselines"] = nlohmann::ordered_json::array();
  report["bandwidth"] = nlohmann::ordered_json::array();

  for (size_t f = 0; f < formats.size(); ++f) {
    const FormatInfo& format = *formats[f];
    for (Profile profile : profiles[f]) {
      const ValueDomain domain = format_domain(format, profile);
      std::vector<std::vector<float>> sources;
      for (const auto& image : images) sources.push_back(in_domain(image, domain));
      std::vector<uint8_t> first_blocks;
      for (Quality quality : qualities[f]) {
        LevelResult level = bench_level(format, CodecSettings{quality, profile, threads}, images, sources, cuda, texels);
        if (first_blocks.empty()) first_blocks = std::move(level.first_blocks);
        report["results"].push_back(level.row);
      }
      if (baselines && profile == Profile::kLdr) {
        for (const auto& baseline : baseline_encoders(format)) {
          double encode_s = 0, psnr_sum = 0, mse_sum = 0;
          for (size_t i = 0; i < images.size(); ++i) {
            const std::vector<uint8_t> rgba = to_rgba8(images[i]);
            const auto start = Clock::now();
            const auto blocks = baseline.encode(rgba.data(), images[i].width, images[i].height);
            encode_s += seconds_since(start);
            const auto decoded = decode_image(format, Backend::kCpu, blocks.data(), images[i].width, images[i].height,
                                              CodecSettings{Quality::kNormal, profile, threads});
            const ColourError e = colour_error(format, sources[i], decoded, images[i].width, images[i].height);
            const double mse = e.squared / static_cast<double>(e.values);
            psnr_sum += psnr_from_mse(domain, mse);
            mse_sum += mse;
          }
          nlohmann::ordered_json row = {{"format", format.name},
                                        {"encoder", baseline.name},
                                        {"psnr_db", psnr_sum / images.size()},
                                        {"rmse", std::sqrt(mse_sum / images.size())},
                                        {"cpu_encode_mtexel_s", texels / encode_s / 1e6},
                                        {"cpu_threads", 1}};
          fmt::print(stderr, "{:<11} {:<32} {:.3f} dB  {:.2f} Mtexel/s (1 thread)\n", format.name, baseline.name,
                     row["psnr_db"].get<double>(), row["cpu_encode_mtexel_s"].get<double>());
          report["baselines"].push_back(row);
        }
      }
      if (cuda && (format.has_decoder(Backend::kCuda) || format.has_encoder(Backend::kCuda))) {
        const CodecSettings settings{qualities[f].front(), profile, threads};
        report["bandwidth"].push_back(bench_bandwidth(format, settings, images.front(), sources.front(), first_blocks,
                                                      bandwidth_size, repetitions,
                                                      report["copy_bandwidth_GBps"].get<double>()));
      }
    }
  }
  write_report(report, output);
  return 0;
}

void write_report(const nlohmann::ordered_json& report, const std::string& output) {
  const std::string text = report.dump(2) + "\n";
  if (output.empty()) {
    fmt::print("{}", text);
  } else {
    write_file_atomic(output, text);
    fmt::print(stderr, "wrote {}\n", output);
  }
}

}  // namespace bcfeat
