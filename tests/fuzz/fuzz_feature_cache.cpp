// The feature cache reader: open (header, description, index), then every record.
#include "fuzz_target.h"

#include "bcfeat/datasets/feature_cache.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bcfeat;
  static const std::string path = fuzz::scratch_path(".bfc");
  fuzz::write_scratch(path, data, size);
  return fuzz::expect_clean([&] {
    const FeatureCache cache(path);
    for (int64_t i = 0; i < cache.records() && i < 64; ++i) {
      cache.image(i);
      cache.record(i);
    }
  });
}
