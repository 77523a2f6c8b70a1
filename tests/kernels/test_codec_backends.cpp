// The consistency harness: every format of the table (each profile of those with profiles)
// on every backend this machine has — CPU always, libastcenc's reference decoder where a
// format has one, CUDA and the texture units on a GPU machine:
//   - each decoder returns the CPU decoder's floats bit for bit, each encoder the CPU's blocks;
//   - round trips stay above a quality floor, and higher levels are no worse where the row
//     says its levels are nested;
//   - mean PSNR per format, profile and level on the fixed test images does not fall more than
//     0.05 dB below tests/data/codec_psnr.csv (regenerate it deliberately with
//     BCFEAT_UPDATE_CODEC_BASELINE=1 when an encoder changes on purpose);
//   - odd sizes pad and crop, CPU encoding ignores the thread count, files round-trip.
// A new row of the table is tested here the moment it is added.
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "bcfeat/kernels/codec.h"
#include "catch.h"
#include "kernels/test_images.h"

using namespace bcfeat;

namespace {

struct Variant {
  const FormatInfo* format;
  Profile profile;
  ValueDomain domain() const { return format_domain(*format, profile); }
  std::string label() const {
    return format->has_profiles ? std::string(format->name) + "/" + profile_name(profile) : format->name;
  }
};

std::vector<Variant> variants() {
  std::vector<Variant> out;
  for (const auto& format : format_table()) {
    out.push_back({&format, Profile::kLdr});
    if (format.has_profiles) out.push_back({&format, Profile::kHdr});
  }
  return out;
}

// The three levels every row names fast, normal and high.
std::vector<Quality> levels(const FormatInfo& format) {
  return {parse_quality(format, "fast"), parse_quality(format, "normal"), parse_quality(format, "high")};
}

// Backends this build and machine run for the format (CPU first).
std::vector<Backend> encoders_here(const FormatInfo& format) {
  std::vector<Backend> out;
  for (int b = 0; b < kBackendCount; ++b) {
    if (encoder_unavailable(format, static_cast<Backend>(b)).empty()) out.push_back(static_cast<Backend>(b));
  }
  return out;
}
std::vector<Backend> decoders_here(const FormatInfo& format) {
  std::vector<Backend> out;
  for (int b = 0; b < kBackendCount; ++b) {
    if (decoder_unavailable(format, static_cast<Backend>(b)).empty()) out.push_back(static_cast<Backend>(b));
  }
  return out;
}

// A test image in the variant's domain; alpha is 1 where the format keeps less than a full
// alpha channel (bc1).
std::vector<float> image_for(const Variant& v, int width, int height, bool smooth, uint32_t seed) {
  return make_test_image(width, height, smooth, v.domain(), seed, v.format->value_channels < 4);
}

// Mean squared error over the channels the format decodes (alpha included when it has one).
double image_mse(const FormatInfo& format, const std::vector<float>& pixels, const std::vector<float>& decoded,
                 int width, int height) {
  double sum = 0.0;
  for (int i = 0; i < width * height; ++i) {
    for (int c = 0; c < format.channels; ++c) {
      const double d = pixels[i * 4 + c] - decoded[i * format.channels + c];
      sum += d * d;
    }
  }
  return sum / (static_cast<double>(width) * height * format.channels);
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

std::string baseline_path() { return std::string(BCFEAT_TEST_DATA) + "/codec_psnr.csv"; }

// "label,quality" -> mean PSNR (dB).
std::map<std::string, double> read_baseline() {
  std::map<std::string, double> out;
  std::ifstream in(baseline_path());
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::stringstream fields(line);
    std::string label, quality, psnr;
    std::getline(fields, label, ',');
    std::getline(fields, quality, ',');
    std::getline(fields, psnr, ',');
    if (!psnr.empty()) out[label + "," + quality] = std::stod(psnr);
  }
  return out;
}

}  // namespace

TEST_CASE("every backend here agrees with the CPU: decoders bit for bit, encoders block for block") {
  const int width = 37, height = 23;  // partial blocks in both directions for every block size
  for (const Variant& v : variants()) {
    const FormatInfo& format = *v.format;
    const std::vector<float> pixels = image_for(v, width, height, true, 11);
    const CodecSettings settings{Quality::kNormal, v.profile, 2};
    const auto blocks = encode_image(format, Backend::kCpu, pixels.data(), width, height, 4, settings);
    const auto decoded = decode_image(format, Backend::kCpu, blocks.data(), width, height, settings);
    REQUIRE(static_cast<int64_t>(blocks.size()) == compressed_size(format, width, height));
    REQUIRE(decoded.size() == static_cast<size_t>(width) * height * format.channels);
    for (Backend backend : encoders_here(format)) {
      INFO(v.label() << " encoder " << backend_name(backend));
      CHECK(encode_image(format, backend, pixels.data(), width, height, 4, settings) == blocks);
    }
    for (Backend backend : decoders_here(format)) {
      INFO(v.label() << " decoder " << backend_name(backend));
      CHECK(same_bits(decode_image(format, backend, blocks.data(), width, height, settings), decoded));
    }
  }
}

TEST_CASE("backends a format lacks are refused with the reason, not run") {
  for (const auto& format : format_table()) {
    for (int b = 0; b < kBackendCount; ++b) {
      const Backend backend = static_cast<Backend>(b);
      INFO(format.name << " " << backend_name(backend));
      if (!format.has_decoder(backend)) {
        CHECK(decoder_unavailable(format, backend).find(format.name) != std::string::npos);
        const std::vector<uint8_t> blocks(static_cast<size_t>(format.bytes_per_block));
        CHECK_THROWS_AS(decode_image(format, backend, blocks.data(), format.block_width, format.block_height),
                        std::invalid_argument);
      }
      if (!format.has_encoder(backend)) {
        const std::vector<float> pixels(static_cast<size_t>(format.block_width) * format.block_height * 4, 0.5f);
        CHECK_THROWS_AS(encode_image(format, backend, pixels.data(), format.block_width, format.block_height, 4),
                        std::invalid_argument);
      }
    }
  }
  const FormatInfo& bc1 = *find_format("bc1");
  const std::vector<float> pixels(16 * 4, 0.5f);
  CHECK_THROWS_AS(encode_image(bc1, Backend::kCpu, pixels.data(), 4, 4, 4, {Quality::kNormal, Profile::kHdr, 1}),
                  std::invalid_argument);
  CHECK_THROWS_AS(encode_image(bc1, Backend::kCpu, pixels.data(), 4, 4, 4, {Quality::kExhaustive, Profile::kLdr, 1}),
                  std::invalid_argument);
}

TEST_CASE("quality: floors, levels in order, and no drop against tests/data/codec_psnr.csv") {
  const int width = 64, height = 48;
  const bool update = std::getenv("BCFEAT_UPDATE_CODEC_BASELINE") != nullptr;
  const std::map<std::string, double> baseline = read_baseline();
  if (!update) REQUIRE(!baseline.empty());
  std::ostringstream measured;
  measured << "format,quality,mean_psnr_db\n";
  for (const Variant& v : variants()) {
    const FormatInfo& format = *v.format;
    const double range = test_domain_range(v.domain());
    std::vector<double> mean_psnr;
    for (bool smooth : {true, false}) {
      const std::vector<float> pixels = image_for(v, width, height, smooth, 3);
      double previous = 1e30;
      std::vector<Quality> qualities = levels(format);
      for (size_t level = 0; level < qualities.size(); ++level) {
        const CodecSettings settings{qualities[level], v.profile, 2};
        INFO(v.label() << " smooth " << smooth << " quality " << quality_name(format, settings.quality));
        const auto blocks = encode_image(format, Backend::kCpu, pixels.data(), width, height, 4, settings);
        REQUIRE(static_cast<int64_t>(blocks.size()) == compressed_size(format, width, height));
        const auto decoded = decode_image(format, Backend::kCpu, blocks.data(), width, height, settings);
        const double mse = image_mse(format, pixels, decoded, width, height);
        const double psnr = 10.0 * std::log10(range * range / mse);
        // Floors: smooth content compresses well in every format; uniform noise is the
        // worst case (4-level palettes: ~17 dB for RGB formats, 8 levels: ~24 dB for BC4/5;
        // BC7's 16-level mode and partitions: ~22 dB). Half-float test ranges are HDR
        // (2^-5..2^5, or ±16) and the palettes are spaced evenly in the logarithm-like half
        // bits; BC6H SF16 interpolates sign and magnitude, so a palette across zero crowds
        // its entries near 0 (uniform noise in ±16: 13.0 / 13.3 / 14.2 dB measured for
        // fast / normal / high). Blocks of more than 16 texels spend fewer bits a texel: the
        // floors fall by 10·log10 of the texels a block over 16.
        const bool single = format.channels <= 2;
        double floor_db = smooth ? (single ? 38.0 : 30.0) : (single ? 20.0 : 13.0);
        if (value_domain_is_float(v.domain()) && !smooth) floor_db = 12.0;
        floor_db -= 10.0 * std::log10(format.block_width * format.block_height / 16.0);
        CHECK(psnr > floor_db);
        if (format.levels_nested) CHECK(mse <= previous * 1.0001);  // each level at least as good as the one before
        previous = mse;
        if (mean_psnr.size() <= level) mean_psnr.push_back(0.0);
        mean_psnr[level] += psnr / 2;
      }
    }
    const std::vector<Quality> qualities = levels(format);
    for (size_t level = 0; level < qualities.size(); ++level) {
      const std::string key = v.label() + "," + quality_name(format, qualities[level]);
      measured << key << "," << std::fixed;
      measured.precision(3);
      measured << mean_psnr[level] << "\n";
      if (update) continue;
      INFO(key << ": measured " << mean_psnr[level] << " dB");
      const auto it = baseline.find(key);
      REQUIRE(it != baseline.end());  // a new row needs its baseline line
      CHECK(mean_psnr[level] >= it->second - 0.05);
    }
  }
  if (update) {
    std::ofstream(baseline_path()) << measured.str();
    WARN("wrote " << baseline_path());
  }
}

TEST_CASE("odd image sizes are padded and cropped on decode") {
  for (const Variant& v : variants()) {
    const FormatInfo& format = *v.format;
    INFO(v.label());
    for (auto [width, height] : {std::pair<int, int>{1, 1}, {5, 7}, {13, 4}, {4, 9}}) {
      const std::vector<float> pixels = image_for(v, width, height, true, 5);
      const CodecSettings settings{Quality::kNormal, v.profile, 1};
      const auto blocks = encode_image(format, Backend::kCpu, pixels.data(), width, height, 4, settings);
      const int blocks_x = (width + format.block_width - 1) / format.block_width;
      const int blocks_y = (height + format.block_height - 1) / format.block_height;
      CHECK(static_cast<int>(blocks.size()) == blocks_x * blocks_y * format.bytes_per_block);
      const auto decoded = decode_image(format, Backend::kCpu, blocks.data(), width, height, settings);
      REQUIRE(decoded.size() == static_cast<size_t>(width) * height * format.channels);
      // 30 dB for 16-texel blocks, less by the same 10·log10 of block texels over 16 as the
      // floors; 6 dB less on the HDR test range (2^-5..2^5), where libastcenc weighs error in
      // the logarithm and a few texels of a 1-texel-high image decide the mean.
      const double range = test_domain_range(v.domain());
      double bound = 1e-3 * format.block_width * format.block_height / 16.0;
      if (value_domain_is_float(v.domain())) bound *= 4;
      CHECK(image_mse(format, pixels, decoded, width, height) / (range * range) < bound);
    }
  }
}

TEST_CASE("CPU encoding does not depend on the thread count") {
  const std::vector<float> pixels = make_test_image(40, 36, false, ValueDomain::kUnorm, 9);
  for (const auto& format : format_table()) {
    INFO("format " << format.name);
    CHECK(encode_image(format, Backend::kCpu, pixels.data(), 40, 36, 4, {Quality::kHigh, Profile::kLdr, 1}) ==
          encode_image(format, Backend::kCpu, pixels.data(), 40, 36, 4, {Quality::kHigh, Profile::kLdr, 3}));
  }
}

TEST_CASE("every format's file round-trips through its container, and unknown files are named escaped") {
  for (const auto& format : format_table()) {
    INFO("format " << format.name);
    BlockImage image{&format, 9, 6, std::vector<uint8_t>(static_cast<size_t>(compressed_size(format, 9, 6)))};
    for (size_t i = 0; i < image.blocks.size(); ++i) image.blocks[i] = static_cast<uint8_t>(i * 7);
    const std::vector<uint8_t> file = write_block_file(image);
    const BlockImage back = read_block_file(file, std::string("x") + container_extension(format.container));
    CHECK(back.format == &format);
    CHECK(back.width == 9);
    CHECK(back.height == 6);
    CHECK(back.blocks == image.blocks);
    CHECK_THROWS_AS(read_block_file(std::vector<uint8_t>(file.begin(), file.end() - 1), "t"), FormatError);
  }
  const std::vector<uint8_t> junk = {'P', 'K', 0x03, 0x04, 'x'};
  CHECK_THROWS_WITH(read_block_file(junk, "junk.bin"), message_contains("'PK\\x03\\x04'"));
}
