// Every compressor's stream reader: byte 0 picks a compressor and one of its registry test
// settings, bytes 1-3 the shape [B, N, D] (B 1-2, N 1-64, D 1-64); the rest is the stream.
// A stream that does not fit must be refused with an InputError, never read out of bounds.
#include "fuzz_target.h"

#include <memory>
#include <vector>

#include "bcfeat/framework/compressor.h"

namespace {

// One compressor per registry test setting.
std::vector<std::unique_ptr<bcfeat::Compressor>> make_compressors() {
  std::vector<std::unique_ptr<bcfeat::Compressor>> compressors;
  for (const bcfeat::CompressorEntry& entry : bcfeat::compressor_registry()) {
    for (const auto& settings : entry.test_variants) {
      compressors.push_back(bcfeat::make_compressor(bcfeat::compression_options(entry.name, settings)));
    }
  }
  return compressors;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bcfeat;
  static const std::vector<std::unique_ptr<Compressor>> compressors = make_compressors();
  if (size < 4) return 0;
  const Compressor& compressor = *compressors[data[0] % compressors.size()];
  Compressed stream;
  stream.shape = {1 + (data[1] & 1), 1 + (data[2] & 63), 1 + (data[3] & 63)};
  stream.bytes.assign(data + 4, data + size);
  return fuzz::expect_clean([&] { compressor.decompress(stream); });
}
