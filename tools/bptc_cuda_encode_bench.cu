// The CUDA BC6H/BC7 encoders (the production launcher) on PNG images stacked into one: blocks
// compared with the CPU encoder of the same build, median time of several runs. For comparing
// encoder versions in one machine session (build it against each version's kernels/ tree);
// `bcfeat bench codecs` is the benchmark proper. Needs Debian's libstb-dev.
//   nvcc -std=c++17 -O3 --expt-relaxed-constexpr --fmad=false -arch=sm_90 -I kernels/include \
//     -I kernels/src -DFMT=0 tools/bptc_cuda_encode_bench.cu kernels/src/format.cpp -o bptc_bench
//   ./bptc_bench kodim01.png kodim02.png ...      (FMT: 0 bc7, 1 bc6h_uf16, 2 bc6h_sf16)
// Images of another width than the first are skipped; `high` runs on the first 64 rows.
#define BCFEAT_CUDA_ENCODE_DEFINITIONS
#define STB_IMAGE_IMPLEMENTATION
#include <stb/stb_image.h>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>
#include "cuda_encode.cuh"
using namespace bcfeat;
#ifndef FMT
#define FMT 0
#endif
constexpr FormatId kFormat = FMT == 0 ? FormatId::kBC7 : (FMT == 1 ? FormatId::kBC6HUf16 : FormatId::kBC6HSf16);
#define CHECK(x) do { cudaError_t e = (x); if (e != cudaSuccess) { std::printf("CUDA %s at %d\n", cudaGetErrorString(e), __LINE__); std::exit(1);} } while (0)

struct Image { int w, h; std::vector<float> px; };

std::vector<uint8_t> cpu_encode(const Image& im, Quality q) {
  const int bx = im.w / 4, by = im.h / 4;
  std::vector<uint8_t> out(size_t(bx) * by * 16);
  std::vector<std::thread> pool;
  const int threads = std::max(1u, std::thread::hardware_concurrency());
  for (int t = 0; t < threads; ++t) pool.emplace_back([&, t] {
    for (int b = t; b < bx * by; b += threads) {
      float texels[16][4];
      gather_block(im.px.data(), im.w, im.h, 4, b % bx, b / bx, texels);
      encode_block(kFormat, texels, q, out.data() + size_t(b) * 16);
    }
  });
  for (auto& th : pool) th.join();
  return out;
}

template <Quality kQ>
void run(const char* name, const Image& im) {
  float* d_px; uint8_t* d_out;
  const int bx = im.w / 4, by = im.h / 4, n = bx * by;
  CHECK(cudaMalloc(&d_px, im.px.size() * 4));
  CHECK(cudaMalloc(&d_out, size_t(n) * 16));
  CHECK(cudaMemcpy(d_px, im.px.data(), im.px.size() * 4, cudaMemcpyHostToDevice));
  const auto ref = cpu_encode(im, kQ);
  auto launch = [&] { cuda_encode::launch_encode_format<kFormat>(kQ, d_px, im.w, im.h, 4, BlockGrid{bx, by}, d_out, 0); };
  CHECK(cudaMemset(d_out, 0, size_t(n) * 16));
  launch();
  CHECK(cudaDeviceSynchronize());
  std::vector<uint8_t> got(size_t(n) * 16);
  CHECK(cudaMemcpy(got.data(), d_out, got.size(), cudaMemcpyDeviceToHost));
  long mismatches = 0;
  for (int b = 0; b < n; ++b) mismatches += memcmp(got.data() + 16 * size_t(b), ref.data() + 16 * size_t(b), 16) != 0;
  cudaEvent_t a, z; cudaEventCreate(&a); cudaEventCreate(&z);
  std::vector<float> ms;
  for (int r = 0; r < (kQ == Quality::kHigh ? 3 : 9); ++r) {
    cudaEventRecord(a); launch(); cudaEventRecord(z); CHECK(cudaEventSynchronize(z));
    float t; cudaEventElapsedTime(&t, a, z); ms.push_back(t);
  }
  std::sort(ms.begin(), ms.end());
  std::printf("%s %dx%d production: %9.2f Mtexel/s  mismatches %ld/%d\n", name, im.w, im.h,
              double(im.w) * im.h / (ms[ms.size() / 2] * 1e3), mismatches, n);
  cudaFree(d_px); cudaFree(d_out);
}

int main(int argc, char** argv) {
  // argv: PNG files; every image is tiled into one big one (rows stacked)
  Image im{0, 0, {}};
  for (int k = 1; k < argc; ++k) {
    int w, h, ch; unsigned char* p = stbi_load(argv[k], &w, &h, &ch, 4);
    if (!p) { std::printf("cannot read %s\n", argv[k]); return 1; }
    if (im.w == 0) im.w = w;
    if (w != im.w) { stbi_image_free(p); continue; }
    for (int i = 0; i < w * h * 4; ++i) {
      const float v = p[i] / 255.0f;
      im.px.push_back(FMT == 0 ? v : (FMT == 1 ? std::exp2(v * 12.0f - 4.0f) : (v - 0.5f) * 40.0f));
    }
    im.h += h;
    stbi_image_free(p);
  }
  const char* name = FMT == 0 ? "bc7" : (FMT == 1 ? "bc6h_uf16" : "bc6h_sf16");
  std::printf("%s: %d x %d texels\n", name, im.w, im.h);
  run<Quality::kFast>((std::string(name) + " fast").c_str(), im);
  run<Quality::kNormal>((std::string(name) + " normal").c_str(), im);
  Image strip{im.w, 64, std::vector<float>(im.px.begin(), im.px.begin() + size_t(im.w) * 64 * 4)};
  run<Quality::kHigh>((std::string(name) + " high").c_str(), strip);
}
