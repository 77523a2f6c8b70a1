// Ground truth for the block decoders: random blocks decoded by the GPU texture units.
//
// For each of the ten block-compressed kinds CUDA exposes (BC1, BC2, BC3, BC4 u/s, BC5 u/s,
// BC6H u/s, BC7) this program generates `count` blocks, uploads them into a block-compressed
// CUDA array, fetches every texel with point sampling at texel centres, and writes
//   <out_dir>/texture_<kind>.bin:
//     char[4] "BCTV", u32 version (1), u32 bytes_per_block, u32 count,
//     count × bytes_per_block block bytes,
//     count × 16 texels (row-major within the block) × 4 float32 (r, g, b, a) as fetched.
// Blocks are random bytes from a fixed seed, with the mode bits of BC6H (14 modes and the
// 4 reserved codes) and BC7 (8 modes and the reserved all-zero code) spread evenly, and a
// few hand-picked blocks first (all zeros, all ones, equal endpoints). It depends on nothing
// in bcfeat: what it records is the hardware's answer, used as the oracle in tests.
//
// usage: make_texture_vectors OUT_DIR [COUNT]
#include <cuda_runtime.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#define CHECK_CUDA(call)                                                                    \
  do {                                                                                      \
    cudaError_t error_ = (call);                                                            \
    if (error_ != cudaSuccess) {                                                            \
      std::fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(error_)); \
      std::exit(1);                                                                         \
    }                                                                                       \
  } while (0)

namespace {

struct Kind {
  const char* name;
  cudaChannelFormatKind format;
  int x_bits, y_bits, z_bits, w_bits;
  int bytes_per_block;
  cudaTextureReadMode read_mode;
  int mode_family;  // 0 none, 1 BC6H, 2 BC7
};

const Kind kKinds[] = {
    {"bc1", cudaChannelFormatKindUnsignedBlockCompressed1, 8, 8, 8, 8, 8, cudaReadModeNormalizedFloat, 0},
    {"bc2", cudaChannelFormatKindUnsignedBlockCompressed2, 8, 8, 8, 8, 16, cudaReadModeNormalizedFloat, 0},
    {"bc3", cudaChannelFormatKindUnsignedBlockCompressed3, 8, 8, 8, 8, 16, cudaReadModeNormalizedFloat, 0},
    {"bc4_unorm", cudaChannelFormatKindUnsignedBlockCompressed4, 8, 0, 0, 0, 8, cudaReadModeNormalizedFloat, 0},
    {"bc4_snorm", cudaChannelFormatKindSignedBlockCompressed4, 8, 0, 0, 0, 8, cudaReadModeNormalizedFloat, 0},
    {"bc5_unorm", cudaChannelFormatKindUnsignedBlockCompressed5, 8, 8, 0, 0, 16, cudaReadModeNormalizedFloat, 0},
    {"bc5_snorm", cudaChannelFormatKindSignedBlockCompressed5, 8, 8, 0, 0, 16, cudaReadModeNormalizedFloat, 0},
    {"bc6h_uf16", cudaChannelFormatKindUnsignedBlockCompressed6H, 16, 16, 16, 0, 16, cudaReadModeElementType, 1},
    {"bc6h_sf16", cudaChannelFormatKindSignedBlockCompressed6H, 16, 16, 16, 0, 16, cudaReadModeElementType, 1},
    {"bc7", cudaChannelFormatKindUnsignedBlockCompressed7, 8, 8, 8, 8, 16, cudaReadModeNormalizedFloat, 2},
};

uint64_t g_state = 0x5eed5eed12345678ull;
uint64_t next_random() {
  uint64_t z = (g_state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// BC6H mode field values (low bits of the block): 2-bit modes 0b00, 0b01, then 5-bit codes,
// the last four reserved.
const uint8_t kBc6hModes[18] = {0x00, 0x01, 0x02, 0x06, 0x0a, 0x0e, 0x12, 0x16, 0x1a,
                                0x1e, 0x03, 0x07, 0x0b, 0x0f, 0x13, 0x17, 0x1b, 0x1f};

void make_block(const Kind& kind, int index, uint8_t* block) {
  for (int i = 0; i < kind.bytes_per_block; ++i) block[i] = static_cast<uint8_t>(next_random());
  // Hand-picked blocks first.
  if (index == 0) std::memset(block, 0x00, kind.bytes_per_block);
  if (index == 1) std::memset(block, 0xff, kind.bytes_per_block);
  if (index == 2 && kind.mode_family == 0) {  // equal endpoints in every BC1/BC4 part
    std::memcpy(block + 2, block, 2);
    if (kind.bytes_per_block == 16) std::memcpy(block + 10, block + 8, 2);
    block[1] = block[0];
  }
  if (index < 3) return;
  if (kind.mode_family == 1) {
    const uint8_t mode = kBc6hModes[index % 18];
    const int bits = mode < 2 ? 2 : 5;
    block[0] = static_cast<uint8_t>((block[0] & ~((1u << bits) - 1u)) | mode);
  } else if (kind.mode_family == 2) {
    const int mode = index % 9;  // 8 = reserved (no bit set in the first byte)
    if (mode == 8) {
      block[0] = 0;
    } else {
      block[0] = static_cast<uint8_t>((block[0] & ~((2u << mode) - 1u)) | (1u << mode));
    }
  }
}

__global__ void fetch_texels(cudaTextureObject_t texture, int width, int height, float4* out) {
  const int x = blockIdx.x * blockDim.x + threadIdx.x;
  const int y = blockIdx.y * blockDim.y + threadIdx.y;
  if (x >= width || y >= height) return;
  // Output ordered block by block, texels row-major inside each block.
  const int blocks_per_row = width / 4;
  const int block = (y / 4) * blocks_per_row + x / 4;
  out[block * 16 + (y % 4) * 4 + (x % 4)] = tex2D<float4>(texture, x + 0.5f, y + 0.5f);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s OUT_DIR [COUNT]\n", argv[0]);
    return 2;
  }
  const std::string out_dir = argv[1];
  const int count = argc > 2 ? std::atoi(argv[2]) : 1152;  // multiple of 64 (row) and 18, 9
  constexpr int kBlocksPerRow = 64;
  if (count % kBlocksPerRow != 0) {
    std::fprintf(stderr, "COUNT must be a multiple of %d\n", kBlocksPerRow);
    return 2;
  }
  cudaDeviceProp properties{};
  CHECK_CUDA(cudaGetDeviceProperties(&properties, 0));
  std::printf("device: %s\n", properties.name);

  for (const Kind& kind : kKinds) {
    std::vector<uint8_t> blocks(static_cast<size_t>(count) * kind.bytes_per_block);
    for (int i = 0; i < count; ++i) make_block(kind, i, &blocks[static_cast<size_t>(i) * kind.bytes_per_block]);

    const int width = kBlocksPerRow * 4, height = count / kBlocksPerRow * 4;
    const cudaChannelFormatDesc desc = cudaCreateChannelDesc(kind.x_bits, kind.y_bits, kind.z_bits, kind.w_bits, kind.format);
    cudaArray_t array = nullptr;
    CHECK_CUDA(cudaMallocArray(&array, &desc, width, height));
    const size_t pitch = static_cast<size_t>(kBlocksPerRow) * kind.bytes_per_block;
    CHECK_CUDA(cudaMemcpy2DToArray(array, 0, 0, blocks.data(), pitch, pitch, height / 4, cudaMemcpyHostToDevice));

    cudaResourceDesc resource{};
    resource.resType = cudaResourceTypeArray;
    resource.res.array.array = array;
    cudaTextureDesc texture_desc{};
    texture_desc.addressMode[0] = texture_desc.addressMode[1] = cudaAddressModeClamp;
    texture_desc.filterMode = cudaFilterModePoint;
    texture_desc.readMode = kind.read_mode;
    texture_desc.normalizedCoords = 0;
    cudaTextureObject_t texture = 0;
    CHECK_CUDA(cudaCreateTextureObject(&texture, &resource, &texture_desc, nullptr));

    float4* device_out = nullptr;
    CHECK_CUDA(cudaMalloc(&device_out, sizeof(float4) * width * height));
    const dim3 threads(16, 16), grid((width + 15) / 16, (height + 15) / 16);
    fetch_texels<<<grid, threads>>>(texture, width, height, device_out);
    CHECK_CUDA(cudaGetLastError());
    std::vector<float> texels(static_cast<size_t>(width) * height * 4);
    CHECK_CUDA(cudaMemcpy(texels.data(), device_out, texels.size() * sizeof(float), cudaMemcpyDeviceToHost));

    const std::string path = out_dir + "/texture_" + kind.name + ".bin";
    FILE* file = std::fopen(path.c_str(), "wb");
    if (!file) {
      std::fprintf(stderr, "cannot write %s\n", path.c_str());
      return 1;
    }
    const uint32_t header[3] = {1u, static_cast<uint32_t>(kind.bytes_per_block), static_cast<uint32_t>(count)};
    std::fwrite("BCTV", 1, 4, file);
    std::fwrite(header, 4, 3, file);
    std::fwrite(blocks.data(), 1, blocks.size(), file);
    std::fwrite(texels.data(), sizeof(float), texels.size(), file);
    std::fclose(file);
    std::printf("%-10s %d blocks -> %s\n", kind.name, count, path.c_str());

    CHECK_CUDA(cudaDestroyTextureObject(texture));
    CHECK_CUDA(cudaFreeArray(array));
    CHECK_CUDA(cudaFree(device_out));
  }
  return 0;
}
