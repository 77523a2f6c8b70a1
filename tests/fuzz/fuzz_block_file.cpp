// .dds and .astc files: the container reader, then the CPU decoder on what it accepted.
#include "fuzz_target.h"

#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bcfeat;
  return fuzz::expect_clean([&] {
    const BlockImage image = read_block_file(std::vector<uint8_t>(data, data + size), "fuzz.dds");
    if (int64_t(image.width) * image.height > (int64_t(1) << 22)) return;
    if (!image.format->has_decoder(Backend::kCpu)) return;
    decode_image(*image.format, Backend::kCpu, image.blocks.data(), image.width, image.height);
  });
}
