// The CUDA ASTC decoder on .astc files, for profiling and for checking a kernel change by
// hand: per file, bit-exactness of the CUDA decode against the CPU decoder on the image, on
// random blocks and on real blocks with random upper bits (odd but valid modes), and the
// decode bandwidth on an 8192x8192 tiling of the file's blocks beside the copy bandwidth of
// the same run. File names ldr_WxH.astc / hdr_WxH.astc select the profile. The kernel's
// launches per file, in order: image, random blocks, then the tiling (one warm-up launch and
// 20 timed ones) — tools/dev/astc_cuda_profile.sh profiles the third.
//   build/tools/dev/astc_cuda_files DIR
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "astc_codec.h"
#include "bcfeat/kernels/codec.h"
#include "bcfeat/kernels/cuda_device.h"

using namespace bcfeat;
namespace fs = std::filesystem;

namespace {

size_t mismatches(const std::vector<uint16_t>& a, const std::vector<uint16_t>& b) {
  if (a.size() != b.size()) return std::max(a.size(), b.size());
  size_t n = 0;
  for (size_t i = 0; i < a.size(); ++i) n += a[i] != b[i];
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: astc_cuda_files DIR (of ldr_*.astc / hdr_*.astc files)\n");
    return 2;
  }
  if (!cuda_codec_available()) {
    std::fprintf(stderr, "astc_cuda_files: no CUDA device\n");
    return 2;
  }
  const int size = 8192, repetitions = 20;
  const double copy_gbps = measure_copy_bandwidth(static_cast<int64_t>(size) * size * 8, repetitions) / 1e9;
  std::printf("%s, copy %.0f GB/s\n", cuda_device_name(0).c_str(), copy_gbps);
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(argv[1])) {
    if (entry.path().extension() == ".astc") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  std::mt19937_64 rng(5);
  bool all_ok = true;
  for (const auto& path : files) {
    std::ifstream in(path, std::ios::binary);
    const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), {});
    const BlockImage image = read_block_file(bytes, path.string());
    const FormatInfo& f = *image.format;
    const Profile profile = path.filename().string().rfind("hdr", 0) == 0 ? Profile::kHdr : Profile::kLdr;
    const int w = image.width, h = image.height;
    const size_t bad_image = mismatches(astc_decode_half_cuda(f, profile, image.blocks.data(), w, h),
                                        astc_decode_half_cpu(f, profile, image.blocks.data(), w, h));
    // Random blocks (mostly error blocks) and real blocks whose first 2..7 bytes are kept.
    const int rbx = 64, rby = 32;
    std::vector<uint8_t> random(16 * rbx * rby);
    for (size_t i = 0; i < random.size(); i += 8) {
      const uint64_t r = rng();
      std::memcpy(&random[i], &r, 8);
    }
    for (size_t b = 0; b < random.size() / 16; b += 2) {
      const size_t source = (rng() % (image.blocks.size() / 16)) * 16;
      std::memcpy(&random[16 * b], &image.blocks[source], 2 + rng() % 6);
    }
    const int rw = rbx * f.block_width - 3, rh = rby * f.block_height - 1;
    const size_t bad_random = mismatches(astc_decode_half_cuda(f, profile, random.data(), rw, rh),
                                         astc_decode_half_cpu(f, profile, random.data(), rw, rh));
    const BlockGrid tile = block_grid(f, w, h), grid = block_grid(f, size, size);
    std::vector<uint8_t> big(static_cast<size_t>(grid.blocks()) * 16);
    for (int y = 0; y < grid.blocks_y; ++y) {
      for (int x = 0; x < grid.blocks_x; ++x) {
        std::memcpy(&big[16 * (static_cast<size_t>(y) * grid.blocks_x + x)],
                    &image.blocks[16 * ((y % tile.blocks_y) * tile.blocks_x + x % tile.blocks_x)], 16);
      }
    }
    const CudaTiming t = time_decode_cuda(f, Backend::kCuda, big.data(), size, size, {Quality::kNormal, profile, 0},
                                          repetitions);
    const double gbps = (t.bytes_read + t.bytes_written) / t.seconds / 1e9;
    const bool ok = bad_image == 0 && bad_random == 0;
    all_ok = all_ok && ok;
    std::printf("%-16s mismatches image %zu random %zu | %.0f GB/s = %.0f%% of copy, %.1f Gtexel/s %s\n",
                path.filename().c_str(), bad_image, bad_random, gbps, 100 * gbps / copy_gbps,
                static_cast<double>(size) * size / t.seconds / 1e9, ok ? "OK" : "FAIL");
    std::fflush(stdout);
  }
  std::printf(all_ok ? "ALL OK\n" : "SOME FAILED\n");
  return all_ok ? 0 : 1;
}
