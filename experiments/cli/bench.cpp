// `bcfeat bench codecs`: quality and speed of every block codec, next to libsquish and
// nvtt measured in the same run, written as JSON.
//
// Quality: mean PSNR over the images of the channels a format stores (RGB for bc1/bc2/bc3,
// R for bc4, RG for bc5; snorm formats see the image mapped to [−1, 1], peak 2), decoded
// with bcfeat's hardware-exact decoder, so every encoder is judged by what a GPU returns.
// Speed: CPU encode/decode with all threads; CUDA encode, software decode and texture-unit
// decode timed with CUDA events on device-resident data; decode bandwidth counts
// compressed bytes read + float32 texels written, next to the device's copy bandwidth
// measured in the same run. Baselines run single-threaded (their libraries are serial).
//
// `bcfeat bench astc`: libastcenc encodes (its presets), bcfeat's decoder on CPU and CUDA
// against libastcenc's own decoder (bit-exactness checked, CPU speeds side by side), and
// the CUDA decode bandwidth (blocks read + half RGBA written) against the copy bandwidth.
#include <squish.h>
#if defined(BCFEAT_WITH_NVTT)
#include <nvtt/nvtt.h>
#endif

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
#include "bcfeat/kernels/astc_codec.h"
#include "bcfeat/kernels/codec.h"
#include "bcfeat/kernels/codec_timing.h"
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

std::vector<float> in_domain(const BenchImage& image, const FormatInfo& format) {
  std::vector<float> pixels = image.rgba;
  for (size_t i = 0; i < pixels.size(); ++i) {
    float& v = pixels[i];
    const bool alpha = i % 4 == 3;
    if (format.domain == ValueDomain::kSnorm) {
      v = 2.0f * v - 1.0f;
    } else if (format.domain == ValueDomain::kUnsignedHalf && !alpha) {
      v = kHdrScale * srgb_to_linear(v);
    } else if (format.domain == ValueDomain::kHalf && !alpha) {
      v = kHdrScale * (srgb_to_linear(v) - 0.5f);
    }
  }
  return pixels;
}

// The width of the values in_domain produces: the PSNR peak.
double domain_peak(const FormatInfo& format) {
  if (value_domain_is_float(format.domain)) return kHdrScale;
  return format.domain == ValueDomain::kSnorm ? 2.0 : 1.0;
}

// Mean squared error over the colour channels the format stores (not alpha).
double colour_mse(const FormatInfo& format, const std::vector<float>& reference, const std::vector<float>& decoded,
                  int width, int height) {
  const int channels = std::min(format.channels, 3);
  double sum = 0.0;
  for (int64_t p = 0; p < static_cast<int64_t>(width) * height; ++p) {
    for (int c = 0; c < channels; ++c) {
      const double d = reference[p * 4 + c] - decoded[p * format.channels + c];
      sum += d * d;
    }
  }
  return sum / (static_cast<double>(width) * height * channels);
}

double psnr_from_mse(const FormatInfo& format, double mse) {
  const double peak = domain_peak(format);
  return mse > 0 ? 10.0 * std::log10(peak * peak / mse) : 99.0;
}

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

std::vector<uint8_t> to_rgba8(const BenchImage& image) {
  std::vector<uint8_t> out(image.rgba.size());
  for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<uint8_t>(std::lround(image.rgba[i] * 255.0f));
  return out;
}

// ---- baselines --------------------------------------------------------------------------

struct Baseline {
  std::string name;
  std::function<std::vector<uint8_t>(const BenchImage&)> encode;
};

std::vector<Baseline> squish_baselines(const FormatInfo& format) {
  int flags = 0;
  if (format.id == FormatId::kBC1) flags = squish::kDxt1;
  else if (format.id == FormatId::kBC2) flags = squish::kDxt3;
  else if (format.id == FormatId::kBC3) flags = squish::kDxt5;
  else return {};
  std::vector<Baseline> out;
  const std::pair<const char*, int> fits[] = {{"libsquish range fit", squish::kColourRangeFit},
                                              {"libsquish cluster fit", squish::kColourClusterFit},
                                              {"libsquish iterative cluster fit", squish::kColourIterativeClusterFit}};
  for (const auto& [name, fit] : fits) {
    out.push_back({name, [flags, fit = fit, &format](const BenchImage& image) {
                     const std::vector<uint8_t> rgba = to_rgba8(image);
                     std::vector<uint8_t> blocks(compressed_size(format, image.width, image.height));
                     squish::CompressImage(rgba.data(), image.width, image.height, blocks.data(),
                                           flags | fit);  // no metric: uniform weights, as PSNR counts
                     return blocks;
                   }});
  }
  return out;
}

#if defined(BCFEAT_WITH_NVTT)
struct NvttCollector : nvtt::OutputHandler {
  std::vector<uint8_t> bytes;
  void beginImage(int, int, int, int, int, int) override {}
  bool writeData(const void* data, int size) override {
    const uint8_t* p = static_cast<const uint8_t*>(data);
    bytes.insert(bytes.end(), p, p + size);
    return true;
  }
};

std::vector<Baseline> nvtt_baselines(const FormatInfo& format) {
  // Debian's nvtt 2.0.8 hands BC1-BC3 to the system libsquish through a class layout that
  // no longer matches (it crashes inside squish::ColourFit), so nvtt runs for BC4/BC5 only;
  // libsquish itself is the BC1-BC3 baseline. nvtt 2.0 has no signed BC4/BC5.
  nvtt::Format nvtt_format;
  switch (format.id) {
    case FormatId::kBC4Unorm: nvtt_format = nvtt::Format_BC4; break;
    case FormatId::kBC5Unorm: nvtt_format = nvtt::Format_BC5; break;
    default: return {};
  }
  std::vector<Baseline> out;
  for (const auto& [name, quality] : {std::pair<const char*, nvtt::Quality>{"nvtt production", nvtt::Quality_Production},
                                      {"nvtt highest", nvtt::Quality_Highest}}) {
    out.push_back({name, [nvtt_format, quality = quality, &format](const BenchImage& image) {
                     const std::vector<uint8_t> rgba = to_rgba8(image);
                     std::vector<uint8_t> bgra(rgba.size());
                     for (size_t p = 0; p < rgba.size(); p += 4) {
                       bgra[p] = rgba[p + 2]; bgra[p + 1] = rgba[p + 1]; bgra[p + 2] = rgba[p]; bgra[p + 3] = rgba[p + 3];
                       // nvtt 2.0 takes BC4's channel from elsewhere than red: give it red everywhere.
                       if (format.id == FormatId::kBC4Unorm) bgra[p] = bgra[p + 1] = bgra[p + 2] = bgra[p + 3] = rgba[p];
                     }
                     nvtt::InputOptions input;
                     input.setTextureLayout(nvtt::TextureType_2D, image.width, image.height);
                     input.setMipmapData(bgra.data(), image.width, image.height);
                     input.setMipmapGeneration(false);
                     input.setGamma(1.0f, 1.0f);
                     nvtt::CompressionOptions compression;
                     compression.setFormat(nvtt_format);
                     compression.setQuality(quality);
                     NvttCollector collector;
                     nvtt::OutputOptions output;
                     output.setOutputHandler(&collector);
                     output.setOutputHeader(false);
                     nvtt::Compressor compressor;
                     if (!compressor.process(input, compression, output)) throw std::runtime_error("nvtt failed");
                     collector.bytes.resize(compressed_size(format, image.width, image.height));
                     return collector.bytes;
                   }});
  }
  return out;
}
#else
std::vector<Baseline> nvtt_baselines(const FormatInfo&) { return {}; }  // built without nvtt
#endif


// The header both benchmarks write: what ran where, on which images, and (on a GPU) the
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

void write_report(const nlohmann::ordered_json& report, const std::string& output) {
  const std::string text = report.dump(2) + "\n";
  if (output.empty()) {
    fmt::print("{}", text);
  } else {
    write_file_atomic(output, text);
    fmt::print(stderr, "wrote {}\n", output);
  }
}

// Mean over the images of the RGB PSNR (LDR, peak 1) or of the relative RMSE (HDR).
int bench_astc(Args& args) {
  std::vector<std::string> format_list = split_list(args.option("--formats", ""));
  const std::vector<std::string> profile_list = split_list(args.option("--profiles", "ldr,hdr"));
  const std::vector<std::string> quality_list = split_list(args.option("--qualities", "normal"));
  const std::string image_dir = args.option("--images", "");
  const std::string output = args.option("--output", "");
  const int threads = args.int_option("--threads", static_cast<int>(std::thread::hardware_concurrency()), 1, 4096);
  const int repetitions = args.int_option("--repetitions", 20, 1, 10000);
  const int bandwidth_size = args.int_option("--bandwidth-size", 8192, 256, 32768);
  args.finish();
  if (format_list.empty()) format_list = astc_format_names();
  std::vector<const AstcFormat*> formats;
  for (const auto& name : format_list) {
    const AstcFormat* format = find_astc_format(name);
    if (!format) {
      throw_input_error("--formats: unknown ASTC format '{}'{}; valid: {}", name, did_you_mean(name, astc_format_names()),
                        join(astc_format_names()));
    }
    formats.push_back(format);
  }
  std::vector<AstcProfile> profiles;
  std::vector<AstcPreset> presets;
  for (const auto& name : profile_list) profiles.push_back(parse_input("", [&] { return parse_astc_profile(name); }));
  for (const auto& name : quality_list) presets.push_back(parse_input("", [&] { return parse_astc_preset(name); }));
  const std::vector<BenchImage> images = image_dir.empty() ? synthetic_images() : load_images(image_dir);
  const bool cuda = cuda_codec_available();
  nlohmann::ordered_json report = report_header("astc", cuda, threads, image_dir, images, repetitions);
  const int64_t texels = report["texels"].get<int64_t>();
  report["hdr_images"] = "the same images as 100·v² (RGB), alpha 1";
  report["results"] = nlohmann::ordered_json::array();
  report["bandwidth"] = nlohmann::ordered_json::array();

  for (AstcProfile profile : profiles) {
    const bool hdr = profile == AstcProfile::kHdr;
    std::vector<std::vector<float>> sources;
    for (const auto& image : images) {
      std::vector<float> pixels = image.rgba;
      if (hdr) {
        for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = i % 4 == 3 ? 1.0f : 100.0f * pixels[i] * pixels[i];
      }
      sources.push_back(std::move(pixels));
    }
    for (const AstcFormat* format : formats) {
      std::vector<uint8_t> first_blocks;
      for (AstcPreset preset : presets) {
        double encode_s = 0, decode_s = 0, reference_s = 0, quality_sum = 0;
        bool cpu_exact = true, cuda_exact = true;
        for (size_t i = 0; i < images.size(); ++i) {
          const int w = images[i].width, h = images[i].height;
          auto start = Clock::now();
          const auto blocks = astc_encode(*format, profile, sources[i].data(), w, h, 4, preset, threads);
          encode_s += seconds_since(start);
          if (i == 0 && first_blocks.empty()) first_blocks = blocks;
          start = Clock::now();
          const auto ours = astc_decode_half_cpu(*format, profile, blocks.data(), w, h, threads);
          decode_s += seconds_since(start);
          start = Clock::now();
          const auto reference = astc_decode_half_reference(*format, profile, blocks.data(), w, h, threads);
          reference_s += seconds_since(start);
          cpu_exact = cpu_exact && ours == reference;
          if (cuda) cuda_exact = cuda_exact && astc_decode_half_cuda(*format, profile, blocks.data(), w, h) == ours;
          const std::vector<float> decoded = astc_half_to_float(ours);
          double se = 0, energy = 0;
          for (size_t t = 0; t < static_cast<size_t>(w) * h; ++t) {
            for (int c = 0; c < 3; ++c) {
              const double a = sources[i][4 * t + c], d = decoded[4 * t + c] - a;
              se += d * d;
              energy += a * a;
            }
          }
          quality_sum += hdr ? std::sqrt(se / energy) : 10.0 * std::log10(1.0 / (se / (3.0 * w * h)));
        }
        nlohmann::ordered_json row = {
            {"format", format->name},
            {"profile", astc_profile_name(profile)},
            {"preset", astc_preset_name(preset)},
            {"bits_per_texel", astc_bits_per_texel(*format)},
            {hdr ? "relative_rmse" : "psnr_db", quality_sum / images.size()},
            {"cpu_encode_mtexel_s", texels / encode_s / 1e6},
            {"cpu_decode_mtexel_s", texels / decode_s / 1e6},
            {"libastcenc_decode_mtexel_s", texels / reference_s / 1e6},
            {"decode_equals_libastcenc", cpu_exact},
            {"cpu_threads", threads},
        };
        if (cuda) row["cuda_decode_equals_cpu"] = cuda_exact;
        fmt::print(stderr, "{:<11} {} {:<9} {} {:.4f}  enc {:.1f}  dec {:.1f} (libastcenc {:.1f}) Mtexel/s  exact {}{}\n",
                   format->name, astc_profile_name(profile), astc_preset_name(preset), hdr ? "rel.rmse" : "psnr",
                   quality_sum / images.size(), texels / encode_s / 1e6, texels / decode_s / 1e6,
                   texels / reference_s / 1e6, cpu_exact, cuda ? fmt::format(" cuda exact {}", cuda_exact) : "");
        report["results"].push_back(row);
      }
      if (cuda) {
        // A size x size image tiled with the blocks of the first image (decode cost depends on
        // the block encodings only).
        const BenchImage& tile = images.front();
        const int64_t tile_bx = (tile.width + format->block_width - 1) / format->block_width;
        const int64_t tile_by = (tile.height + format->block_height - 1) / format->block_height;
        const int size = bandwidth_size;
        const int64_t bx = (size + format->block_width - 1) / format->block_width;
        const int64_t by = (size + format->block_height - 1) / format->block_height;
        std::vector<uint8_t> big(static_cast<size_t>(bx * by * 16));
        for (int64_t y = 0; y < by; ++y) {
          for (int64_t x = 0; x < bx; ++x) {
            memcpy(&big[16 * (y * bx + x)], &first_blocks[16 * ((y % tile_by) * tile_bx + x % tile_bx)], 16);
          }
        }
        const AstcCudaTiming timing = time_astc_decode_cuda(*format, profile, big.data(), size, size, repetitions);
        const double copy = report["copy_bandwidth_GBps"].get<double>();
        const double gbps = (timing.encoded_bytes + timing.decoded_bytes) / timing.decode_s / 1e9;
        report["bandwidth"].push_back({{"format", format->name},
                                       {"profile", astc_profile_name(profile)},
                                       {"width", size},
                                       {"height", size},
                                       {"cuda_decode_GBps", gbps},
                                       {"cuda_decode_fraction_of_copy", gbps / copy},
                                       {"cuda_decode_gtexel_s", static_cast<double>(size) * size / timing.decode_s / 1e9}});
        fmt::print(stderr, "{:<11} {} bandwidth: decode {:.0f} GB/s = {:.0f}% of copy, {:.1f} Gtexel/s\n", format->name,
                   astc_profile_name(profile), gbps, 100 * gbps / copy,
                   static_cast<double>(size) * size / timing.decode_s / 1e9);
      }
    }
  }
  write_report(report, output);
  return 0;
}

}  // namespace

int command_bench(Args& args) {
  const std::string what = args.positional("codecs|astc");
  if (what == "astc") return bench_astc(args);
  if (what != "codecs") throw_input_error("bcfeat bench: unknown benchmark '{}'; valid: codecs, astc", what);
  std::vector<std::string> format_list = split_list(args.option("--formats", ""));
  std::vector<std::string> quality_list = split_list(args.option("--qualities", "fast,normal,high"));
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
  std::vector<Quality> qualities;
  for (const auto& name : quality_list) {
    qualities.push_back(parse_input("--qualities", [&] { return parse_quality(name); }));
  }
  const std::vector<BenchImage> images = image_dir.empty() ? synthetic_images() : load_images(image_dir);
  const bool cuda = device == "cuda";
  nlohmann::ordered_json report = report_header("codecs", cuda, threads, image_dir, images, repetitions);
  const int64_t texels = report["texels"].get<int64_t>();
  report["results"] = nlohmann::ordered_json::array();
  report["baselines"] = nlohmann::ordered_json::array();
  report["bandwidth"] = nlohmann::ordered_json::array();

  for (const FormatInfo* format : formats) {
    std::vector<std::vector<float>> sources;
    for (const auto& image : images) sources.push_back(in_domain(image, *format));
    for (Quality quality : qualities) {
      double encode_s = 0, decode_s = 0, quality_sum = 0, mse_sum = 0;
      bool cuda_matches = true;
      double cuda_encode_s = 0, cuda_decode_s = 0, cuda_texture_s = 0;
      for (size_t i = 0; i < images.size(); ++i) {
        const auto& image = images[i];
        auto start = Clock::now();
        const auto blocks = encode_image_cpu(*format, sources[i].data(), image.width, image.height, 4, quality, threads);
        encode_s += seconds_since(start);
        start = Clock::now();
        const auto decoded = decode_image_cpu(*format, blocks.data(), image.width, image.height, threads);
        decode_s += seconds_since(start);
        const double mse = colour_mse(*format, sources[i], decoded, image.width, image.height);
        quality_sum += psnr_from_mse(*format, mse);
        mse_sum += mse;
        if (cuda) {
          cuda_matches = cuda_matches &&
                         encode_image_cuda(*format, sources[i].data(), image.width, image.height, 4, quality) == blocks;
          const CudaCodecTiming timing =
              time_cuda_codec(*format, quality, sources[i].data(), image.width, image.height, 4, repetitions);
          cuda_encode_s += timing.encode_s;
          cuda_decode_s += timing.decode_s;
          cuda_texture_s += timing.texture_decode_s;
        }
      }
      nlohmann::ordered_json row = {
          {"format", format->name},
          {"quality", quality_name(quality)},
          {"encoder", "bcfeat"},
          {"psnr_db", quality_sum / images.size()},
          {"psnr_peak", domain_peak(*format)},
          {"rmse", std::sqrt(mse_sum / images.size())},
          {"cpu_encode_mtexel_s", texels / encode_s / 1e6},
          {"cpu_decode_mtexel_s", texels / decode_s / 1e6},
          {"cpu_threads", threads},
      };
      if (cuda) {
        row["cuda_encode_mtexel_s"] = texels / cuda_encode_s / 1e6;
        row["cuda_decode_mtexel_s"] = texels / cuda_decode_s / 1e6;
        if (format->texture_decodable) row["cuda_texture_decode_mtexel_s"] = texels / cuda_texture_s / 1e6;
        row["cuda_blocks_match_cpu"] = cuda_matches;
      }
      fmt::print(stderr, "{:<10} {:<7} bcfeat  {:.3f} dB  cpu enc {:.2f} Mtexel/s{}\n", format->name,
                 quality_name(quality), row["psnr_db"].get<double>(), row["cpu_encode_mtexel_s"].get<double>(),
                 cuda ? fmt::format("  cuda enc {:.1f} Mtexel/s dec {:.1f} Mtexel/s", row["cuda_encode_mtexel_s"].get<double>(),
                                    row["cuda_decode_mtexel_s"].get<double>())
                      : "");
      report["results"].push_back(row);
    }
    if (baselines) {
      std::vector<Baseline> list = squish_baselines(*format);
      for (auto& baseline : nvtt_baselines(*format)) list.push_back(std::move(baseline));
      for (const auto& baseline : list) {
        double encode_s = 0, quality_sum = 0, mse_sum = 0;
        for (size_t i = 0; i < images.size(); ++i) {
          const auto start = Clock::now();
          const auto blocks = baseline.encode(images[i]);
          encode_s += seconds_since(start);
          const auto decoded = decode_image_cpu(*format, blocks.data(), images[i].width, images[i].height, threads);
          const double mse = colour_mse(*format, sources[i], decoded, images[i].width, images[i].height);
          quality_sum += psnr_from_mse(*format, mse);
          mse_sum += mse;
        }
        nlohmann::ordered_json row = {{"format", format->name},
                                      {"encoder", baseline.name},
                                      {"psnr_db", quality_sum / images.size()},
                                      {"rmse", std::sqrt(mse_sum / images.size())},
                                      {"cpu_encode_mtexel_s", texels / encode_s / 1e6},
                                      {"cpu_threads", 1}};
        fmt::print(stderr, "{:<10} {:<32} {:.3f} dB  {:.2f} Mtexel/s (1 thread)\n", format->name, baseline.name,
                   row["psnr_db"].get<double>(), row["cpu_encode_mtexel_s"].get<double>());
        report["baselines"].push_back(row);
      }
    }
    if (cuda) {
      // Bandwidth on one large image (tiled from the first image), fast encode.
      const int size = bandwidth_size;
      std::vector<float> big(static_cast<size_t>(size) * size * 4);
      const BenchImage& tile = images.front();
      const std::vector<float>& tile_pixels = sources.front();
      for (int y = 0; y < size; ++y) {
        for (int x = 0; x < size; ++x) {
          const size_t source = (static_cast<size_t>(y % tile.height) * tile.width + x % tile.width) * 4;
          for (int c = 0; c < 4; ++c) big[(static_cast<size_t>(y) * size + x) * 4 + c] = tile_pixels[source + c];
        }
      }
      const CudaCodecTiming timing = time_cuda_codec(*format, Quality::kFast, big.data(), size, size, 4, repetitions);
      const double copy = report["copy_bandwidth_GBps"].get<double>();
      const double decode_gbps = (timing.encoded_bytes + timing.decoded_bytes) / timing.decode_s / 1e9;
      nlohmann::ordered_json row = {
          {"format", format->name},
          {"width", size},
          {"height", size},
          {"cuda_encode_fast_gtexel_s", static_cast<double>(size) * size / timing.encode_s / 1e9},
          {"cuda_decode_GBps", decode_gbps},
          {"cuda_decode_fraction_of_copy", decode_gbps / copy},
          {"cuda_decode_gtexel_s", static_cast<double>(size) * size / timing.decode_s / 1e9},
      };
      if (format->texture_decodable) {
        row["texture_decode_GBps"] = (timing.encoded_bytes + timing.decoded_bytes) / timing.texture_decode_s / 1e9;
      }
      fmt::print(stderr, "{:<10} bandwidth: fast encode {:.2f} Gtexel/s, decode {:.0f} GB/s = {:.0f}% of copy\n",
                 format->name, row["cuda_encode_fast_gtexel_s"].get<double>(), decode_gbps, 100 * decode_gbps / copy);
      report["bandwidth"].push_back(row);
    }
  }
  write_report(report, output);
  return 0;
}

}  // namespace bcfeat
