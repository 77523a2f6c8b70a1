// Other encoders of the same formats, run by `bcfeat bench codecs` beside bcfeat's own:
// libsquish (range, cluster and iterative cluster fit) for BC1-BC3, and nvtt for BC4/BC5 where
// the build found it. Both take 8-bit RGBA and run on one thread (their libraries are serial).
#include <squish.h>
#if defined(BCFEAT_WITH_NVTT)
#include <nvtt/nvtt.h>
#endif

#include <stdexcept>

#include "bcfeat/kernels/codec.h"

namespace bcfeat {

namespace {

std::vector<BaselineEncoder> squish_baselines(const FormatInfo& format) {
  int flags = 0;
  if (format.id == FormatId::kBC1) flags = squish::kDxt1;
  else if (format.id == FormatId::kBC2) flags = squish::kDxt3;
  else if (format.id == FormatId::kBC3) flags = squish::kDxt5;
  else return {};
  std::vector<BaselineEncoder> out;
  const std::pair<const char*, int> fits[] = {{"libsquish range fit", squish::kColourRangeFit},
                                              {"libsquish cluster fit", squish::kColourClusterFit},
                                              {"libsquish iterative cluster fit", squish::kColourIterativeClusterFit}};
  for (const auto& [name, fit] : fits) {
    out.push_back({name, [flags, fit = fit, &format](const uint8_t* rgba, int width, int height) {
                     std::vector<uint8_t> blocks(static_cast<size_t>(compressed_size(format, width, height)));
                     squish::CompressImage(rgba, width, height, blocks.data(),
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

std::vector<BaselineEncoder> nvtt_baselines(const FormatInfo& format) {
  // Debian's nvtt 2.0.8 hands BC1-BC3 to the system libsquish through a class layout that
  // no longer matches (it crashes inside squish::ColourFit), so nvtt runs for BC4/BC5 only;
  // libsquish itself is the BC1-BC3 baseline. nvtt 2.0 has no signed BC4/BC5.
  nvtt::Format nvtt_format;
  switch (format.id) {
    case FormatId::kBC4Unorm: nvtt_format = nvtt::Format_BC4; break;
    case FormatId::kBC5Unorm: nvtt_format = nvtt::Format_BC5; break;
    default: return {};
  }
  std::vector<BaselineEncoder> out;
  for (const auto& [name, quality] : {std::pair<const char*, nvtt::Quality>{"nvtt production", nvtt::Quality_Production},
                                      {"nvtt highest", nvtt::Quality_Highest}}) {
    out.push_back({name, [nvtt_format, quality = quality, &format](const uint8_t* rgba, int width, int height) {
                     const size_t bytes = static_cast<size_t>(width) * height * 4;
                     std::vector<uint8_t> bgra(bytes);
                     for (size_t p = 0; p < bytes; p += 4) {
                       bgra[p] = rgba[p + 2]; bgra[p + 1] = rgba[p + 1]; bgra[p + 2] = rgba[p]; bgra[p + 3] = rgba[p + 3];
                       // nvtt 2.0 takes BC4's channel from elsewhere than red: give it red everywhere.
                       if (format.id == FormatId::kBC4Unorm) bgra[p] = bgra[p + 1] = bgra[p + 2] = bgra[p + 3] = rgba[p];
                     }
                     nvtt::InputOptions input;
                     input.setTextureLayout(nvtt::TextureType_2D, width, height);
                     input.setMipmapData(bgra.data(), width, height);
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
                     collector.bytes.resize(static_cast<size_t>(compressed_size(format, width, height)));
                     return collector.bytes;
                   }});
  }
  return out;
}
#else
std::vector<BaselineEncoder> nvtt_baselines(const FormatInfo&) { return {}; }  // built without nvtt
#endif

}  // namespace

std::vector<BaselineEncoder> baseline_encoders(const FormatInfo& format) {
  std::vector<BaselineEncoder> out = squish_baselines(format);
  for (auto& baseline : nvtt_baselines(format)) out.push_back(std::move(baseline));
  return out;
}

}  // namespace bcfeat
