// Compares the CUDA ASTC decoder (kernels/src/astc_cuda.cu) with the kernel it replaced
// (kept below, from commit 71590c9: one thread decodes one block into shared memory, then the
// CTA walks the texels) on .astc files: bit-exactness against the host decoder (astc.h) on the
// image, on random blocks and on real blocks with random upper bits, and the speed of both
// kernels on an 8192x8192 tiling of each file, beside the copy bandwidth of the same run.
// The old kernel is compiled against today's astc.h, so it shares the block code's changes
// made with the new kernel (the branch-free range lookup among them); it measures the kernel
// structure, not the commit. Built and run by tools/astc_cuda_compare.sh; not part of the
// CMake build.
#include "astc_cuda.cu"

#include <dirent.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <tuple>
#include <vector>

namespace bcfeat {
namespace old {
constexpr int kBlocks = 128;  // blocks per CTA = threads per CTA

template <int kBw, int kBh>
__global__ void __launch_bounds__(kBlocks) astc_decode_kernel(const uint4* __restrict__ blocks, int width, int height,
                                                               int blocks_x, bool hdr, uint2* __restrict__ out) {
  __shared__ AstcBlockParams params[kBlocks];
  const int by = blockIdx.y;
  const int first = blockIdx.x * kBlocks;
  if (first + static_cast<int>(threadIdx.x) < blocks_x) {
    const uint4 raw = blocks[static_cast<int64_t>(by) * blocks_x + first + threadIdx.x];
    decode_astc_params(reinterpret_cast<const uint8_t*>(&raw), kBw, kBh, hdr, params[threadIdx.x]);
  }
  __syncthreads();
  const int x0 = first * kBw;  // first texel column of this CTA
  const int columns = min(kBlocks * kBw, width - x0);
  const int rows = min(kBh, height - by * kBh);
  for (int y = 0; y < rows; ++y) {
    uint2* row = out + static_cast<int64_t>(by * kBh + y) * width + x0;
    for (int i = threadIdx.x; i < columns; i += kBlocks) {
      const int block = i / kBw;
      uint16_t t[4];
      astc_texel(params[block], kBw, kBh, i - block * kBw, y, t);
      row[i] = make_uint2(t[0] | (static_cast<uint32_t>(t[1]) << 16), t[2] | (static_cast<uint32_t>(t[3]) << 16));
    }
  }
}

void launch_old(int bw, int bh, const uint8_t* blocks, int width, int height, bool hdr, uint16_t* out) {
  const int blocks_x = (width + bw - 1) / bw, blocks_y = (height + bh - 1) / bh;
  const dim3 grid((blocks_x + kBlocks - 1) / kBlocks, blocks_y);
  const auto* in = reinterpret_cast<const uint4*>(blocks);
  auto* o = reinterpret_cast<uint2*>(out);
#define C(W, H) if (bw == W && bh == H) { astc_decode_kernel<W, H><<<grid, kBlocks>>>(in, width, height, blocks_x, hdr, o); return; }
  C(4,4) C(5,4) C(5,5) C(6,5) C(6,6) C(8,5) C(8,6) C(8,8) C(10,5) C(10,6) C(10,8) C(10,10) C(12,10) C(12,12)
#undef C
}
}  // namespace old
}  // namespace bcfeat

using namespace bcfeat;

static std::vector<uint16_t> host_decode(int bw, int bh, bool hdr, const std::vector<uint8_t>& blocks, int w, int h) {
  std::vector<uint16_t> out(static_cast<size_t>(w) * h * 4);
  for (int row = 0; row < (h + bh - 1) / bh; ++row) decode_astc_block_row(blocks.data(), bw, bh, hdr, w, h, row, out.data());
  return out;
}

static size_t mismatches(const std::vector<uint16_t>& a, const std::vector<uint16_t>& b) {
  size_t n = 0;
  for (size_t i = 0; i < a.size(); ++i) n += a[i] != b[i];
  return n;
}

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: astc_cuda_compare DIR (of ldr_*.astc / hdr_*.astc files)\n");
    return 2;
  }
  const std::string dir = argv[1];
  const int size = 8192, reps = 20;
  bool all_ok = true;
  // Copy bandwidth (read + write).
  double copy_gbps = 0;
  {
    const size_t bytes = static_cast<size_t>(size) * size * 8;
    DeviceBuffer<uint8_t> a(bytes), b(bytes);
    const double s = time_cuda(reps, [&] { cudaMemcpyAsync(b.data, a.data, bytes, cudaMemcpyDeviceToDevice); });
    copy_gbps = 2.0 * bytes / s / 1e9;
    std::printf("copy %.0f GB/s\n", copy_gbps);
  }
  std::vector<std::string> names;
  DIR* d = opendir(dir.c_str());
  while (dirent* e = readdir(d)) if (strstr(e->d_name, ".astc")) names.push_back(e->d_name);
  closedir(d);
  std::sort(names.begin(), names.end(), [](const std::string& a, const std::string& b) {
    int aw, ah, bw, bh; char p[8];
    sscanf(a.c_str(), "%3s_%dx%d", p, &aw, &ah); sscanf(b.c_str(), "%3s_%dx%d", p, &bw, &bh);
    return std::make_tuple(a.substr(0, 3), aw * ah, aw) < std::make_tuple(b.substr(0, 3), bw * bh, bw);
  });
  std::mt19937_64 rng(5);
  for (const auto& name : names) {
    std::ifstream in(dir + "/" + name, std::ios::binary);
    std::vector<uint8_t> file((std::istreambuf_iterator<char>(in)), {});
    const int bw = file[4], bh = file[5];
    const int w = file[7] | (file[8] << 8) | (file[9] << 16), h = file[10] | (file[11] << 8) | (file[12] << 16);
    const bool hdr = name.rfind("hdr", 0) == 0;
    std::vector<uint8_t> blocks(file.begin() + 16, file.end());
    const AstcFormat f{"dev", bw, bh};
    const AstcProfile profile = hdr ? AstcProfile::kHdr : AstcProfile::kLdr;
    const size_t bad_image = mismatches(astc_decode_half_cuda(f, profile, blocks.data(), w, h), host_decode(bw, bh, hdr, blocks, w, h));
    // Random blocks (mostly errors) and real blocks with random upper bits (odd but valid modes).
    const int rbx = 64, rby = 32;
    std::vector<uint8_t> random(16 * rbx * rby);
    for (size_t i = 0; i < random.size(); i += 8) { const uint64_t r = rng(); memcpy(&random[i], &r, 8); }
    for (size_t b = 0; b < random.size() / 16; b += 2) {
      const size_t src = (rng() % (blocks.size() / 16)) * 16;
      const int keep = 2 + static_cast<int>(rng() % 6);  // keep the first 2..7 bytes of a real block
      memcpy(&random[16 * b], &blocks[src], keep);
    }
    const int rw = rbx * bw - 3, rh = rby * bh - 1;
    const size_t bad_random = mismatches(astc_decode_half_cuda(f, profile, random.data(), rw, rh), host_decode(bw, bh, hdr, random, rw, rh));
    // Speed on a size x size tiling of the image's blocks.
    const int tbx = (w + bw - 1) / bw, tby = (h + bh - 1) / bh;
    const int bx = (size + bw - 1) / bw, by = (size + bh - 1) / bh;
    std::vector<uint8_t> big(static_cast<size_t>(bx) * by * 16);
    for (int y = 0; y < by; ++y) for (int x = 0; x < bx; ++x) memcpy(&big[16 * (static_cast<size_t>(y) * bx + x)], &blocks[16 * ((y % tby) * tbx + x % tbx)], 16);
    DeviceBuffer<uint8_t> d_in(big.size());
    DeviceBuffer<uint16_t> d_out(static_cast<size_t>(size) * size * 4);
    cudaMemcpy(d_in.data, big.data(), big.size(), cudaMemcpyHostToDevice);
    const double t_new = time_cuda(reps, [&] { launch(f, d_in.data, size, size, hdr, d_out.data, nullptr); });
    std::vector<uint16_t> big_new(static_cast<size_t>(size) * size * 4), big_old(big_new.size());
    cudaMemcpy(big_new.data(), d_out.data, big_new.size() * 2, cudaMemcpyDeviceToHost);
    const double t_old = time_cuda(reps, [&] { old::launch_old(bw, bh, d_in.data, size, size, hdr, d_out.data); });
    cudaMemcpy(big_old.data(), d_out.data, big_old.size() * 2, cudaMemcpyDeviceToHost);
    const size_t bad_big = mismatches(big_new, big_old);
    const double bytes = big.size() + static_cast<double>(size) * size * 8;
    const bool ok = bad_image == 0 && bad_random == 0 && bad_big == 0;
    all_ok = all_ok && ok;
    std::printf("%-16s mismatch image %zu random %zu big(vs old) %zu | new %.0f GB/s %.0f%% %.1f Gtex/s | old %.0f GB/s %.0f%% | x%.2f %s\n",
                name.c_str(), bad_image, bad_random, bad_big, bytes / t_new / 1e9, 100 * bytes / t_new / 1e9 / copy_gbps,
                double(size) * size / t_new / 1e9, bytes / t_old / 1e9, 100 * bytes / t_old / 1e9 / copy_gbps, t_old / t_new,
                ok ? "OK" : "FAIL");
    std::fflush(stdout);
  }
  std::printf(all_ok ? "ALL OK\n" : "SOME FAILED\n");
  return all_ok ? 0 : 1;
}
