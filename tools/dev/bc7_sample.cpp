// BC7 encoder quality on a fixed sample of blocks of the Kodak images, for comparing encoder
// variants quickly (the `high` level takes about 40 min over all of Kodak on 2 cores; the
// default 1/64 sample, 9268 blocks, under a minute). Prints each image's RGB MSE over its
// sampled blocks, the mean of the per-image PSNRs, the chosen modes, how many blocks mode 6
// settles (encode_bc7_block_settled) and a digest of the blocks (equal digests: the same blocks).
//   build/tools/dev/bc7_sample KODAK_DIR [fast|normal|high] [STRIDE, default 64] [THREADS, default 2]
// Needs Debian's libstb-dev. The blocks are picked by a hash of their index, so the sample is
// the same for every build.
#define STB_IMAGE_IMPLEMENTATION
#include <stb/stb_image.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "blocks/bc7.h"

int main(int argc, char** argv) {
  using bcfeat::Quality;
  if (argc < 2) {
    std::fprintf(stderr, "usage: bc7_sample KODAK_DIR [fast|normal|high] [STRIDE] [THREADS]\n");
    return 2;
  }
  const std::string level = argc > 2 ? argv[2] : "high";
  const Quality quality = level == "fast" ? Quality::kFast : level == "normal" ? Quality::kNormal : Quality::kHigh;
  const int stride = argc > 3 ? std::atoi(argv[3]) : 64;
  const int threads = argc > 4 ? std::atoi(argv[4]) : 2;
  double psnr_sum = 0;
  long sampled = 0;
  std::array<std::atomic<long>, 8> modes{};
  std::atomic<uint64_t> digest{0};  // of every block and its place: equal digests, equal blocks
  std::atomic<long> settled{0};     // blocks the first step (mode 6) settles: the CUDA first pass
  const auto start = std::chrono::steady_clock::now();
  for (int image = 1; image <= 24; ++image) {
    const std::string path = std::string(argv[1]) + "/kodim" + (image < 10 ? "0" : "") + std::to_string(image) + ".png";
    int width = 0, height = 0, channels = 0;
    unsigned char* pixels = stbi_load(path.c_str(), &width, &height, &channels, 4);
    if (!pixels) {
      std::fprintf(stderr, "cannot read %s\n", path.c_str());
      return 2;
    }
    const int blocks_x = width / 4, blocks_y = height / 4;
    std::vector<int> blocks;
    for (int b = 0; b < blocks_x * blocks_y; ++b) {
      uint32_t h = static_cast<uint32_t>(b) * 2654435761u + static_cast<uint32_t>(image) * 40503u;
      h ^= h >> 15;
      h *= 2246822519u;
      h ^= h >> 13;
      if (h % static_cast<uint32_t>(stride) == 0) blocks.push_back(b);
    }
    std::vector<double> sse(threads, 0.0);
    std::atomic<size_t> next{0};
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        for (size_t k; (k = next++) < blocks.size();) {
          const int bx = blocks[k] % blocks_x, by = blocks[k] / blocks_x;
          float texels[16][4], decoded[16][4];
          const auto at = [&](int i, int c) { return pixels[((by * 4 + i / 4) * width + bx * 4 + i % 4) * 4 + c]; };
          for (int i = 0; i < 16; ++i) {
            for (int c = 0; c < 4; ++c) texels[i][c] = at(i, c) / 255.0f;
          }
          uint8_t block[16];
          bcfeat::encode_bc7_block(texels, quality, block);
          bcfeat::decode_bc7_block(block, decoded);
          for (int i = 0; i < 16; ++i) {
            for (int c = 0; c < 3; ++c) {
              const double d = std::lround(decoded[i][c] * 255.0f) - at(i, c);
              sse[t] += d * d;
            }
          }
          uint64_t h = 1469598103934665603ull ^ (static_cast<uint64_t>(image) << 32 | blocks[k]);
          for (uint8_t byte : block) h = (h ^ byte) * 1099511628211ull;
          digest += h;
          int mode = 0;
          while (mode < 8 && !((block[0] >> mode) & 1)) ++mode;
          if (mode < 8) ++modes[mode];
          uint8_t first[16];
          float first_error = 0.0f;
          if (bcfeat::encode_bc7_block_settled(texels, quality, first, &first_error)) ++settled;
        }
      });
    }
    for (auto& thread : pool) thread.join();
    double total = 0;
    for (double v : sse) total += v;
    const double mse = total / (blocks.size() * 48.0);
    psnr_sum += 10 * std::log10(255.0 * 255.0 / mse);
    sampled += static_cast<long>(blocks.size());
    std::printf("kodim%02d %zu blocks, MSE %.6f\n", image, blocks.size(), mse);
    stbi_image_free(pixels);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("modes:");
  for (int m = 0; m < 8; ++m) std::printf(" %d:%ld", m, modes[m].load());
  std::printf("\nsettled by mode 6: %ld of %ld blocks", settled.load(), sampled);
  std::printf("\nblocks digest %016llx", static_cast<unsigned long long>(digest.load()));
  std::printf("\n%s: mean PSNR %.4f dB over %ld blocks, %.1f s on %d threads\n", level.c_str(), psnr_sum / 24, sampled,
              seconds, threads);
}
