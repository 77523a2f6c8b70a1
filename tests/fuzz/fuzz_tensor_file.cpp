// .npy and .safetensors readers (byte 0 picks which; the rest is the file).
#include "fuzz_target.h"

#include "bcfeat/framework/tensor_io.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bcfeat;
  if (size < 1) return 0;
  static const std::string npy = fuzz::scratch_path(".npy"), safetensors = fuzz::scratch_path(".safetensors");
  const std::string& path = data[0] & 1 ? safetensors : npy;
  fuzz::write_scratch(path, data + 1, size - 1);
  return fuzz::expect_clean([&] {
    inspect_tensor_file(path);
    read_tensor_file(path);
    if (data[0] & 1) read_safetensors_all(path);
  });
}
