// .npy and .safetensors readers/writers (numpy interop is in tests/interop).
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "bcfeat/framework/error.h"
#include "bcfeat/framework/results.h"
#include "bcfeat/framework/tensor_io.h"
#include "catch.h"

namespace fs = std::filesystem;
using namespace bcfeat;

namespace {
fs::path scratch(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("bcfeat_io_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return dir / name;
}
}  // namespace

TEST_CASE("npy round trip in float32 and float16") {
  const torch::Tensor x = torch::linspace(-3, 3, 2 * 3 * 5).reshape({2, 3, 5});
  write_npy(scratch("a.npy").string(), x);
  LoadedTensor back = read_npy(scratch("a.npy").string());
  CHECK(back.stored_dtype == "float32");
  CHECK(torch::equal(back.values, x));
  write_npy(scratch("b.npy").string(), x, "float16");
  back = read_npy(scratch("b.npy").string());
  CHECK(back.stored_dtype == "float16");
  CHECK(torch::allclose(back.values, x, 1e-3, 1e-3));
  CHECK(fs::file_size(scratch("b.npy")) % 2 == 0);
}

TEST_CASE("safetensors round trip and key selection") {
  const torch::Tensor a = torch::arange(12, torch::kFloat32).reshape({3, 4});
  const torch::Tensor b = torch::ones({2, 2, 2});
  write_safetensors(scratch("t.safetensors").string(), {{"layer4", a}, {"layer8", b}});
  CHECK(torch::equal(read_safetensors(scratch("t.safetensors").string(), "layer4").values, a));
  CHECK(torch::equal(read_safetensors(scratch("t.safetensors").string(), "layer8").values, b));
  CHECK_THROWS_AS(read_safetensors(scratch("t.safetensors").string(), ""), InputError);
  try {
    read_safetensors(scratch("t.safetensors").string(), "layer5");
    FAIL("unknown key accepted");
  } catch (const InputError& e) {
    CHECK(std::string(e.what()).find("did you mean") != std::string::npos);
  }
}

TEST_CASE("corrupt tensor files give clear errors") {
  const torch::Tensor x = torch::ones({4, 4});
  write_npy(scratch("c.npy").string(), x);
  std::string bytes = read_text_file(scratch("c.npy").string());
  {
    std::ofstream(scratch("truncated.npy"), std::ios::binary) << bytes.substr(0, bytes.size() - 3);
    CHECK_THROWS_WITH(read_npy(scratch("truncated.npy").string()), message_contains("needs 64"));
  }
  {
    std::string bad = bytes;
    bad[1] = 'X';
    std::ofstream(scratch("magic.npy"), std::ios::binary) << bad;
    CHECK_THROWS_WITH(read_npy(scratch("magic.npy").string()), message_contains("bad magic"));
  }
  {
    std::string f8 = bytes;
    f8.replace(f8.find("<f4"), 3, "<f8");
    std::ofstream(scratch("f8.npy"), std::ios::binary) << f8;
    CHECK_THROWS_WITH(read_npy(scratch("f8.npy").string()), message_contains("'<f8' is not supported"));
  }
  CHECK_THROWS_AS(read_tensor_file(scratch("absent.npy").string()), InputError);
  CHECK_THROWS_AS(read_tensor_file(scratch("c.txt").string()), InputError);
  std::ofstream(scratch("short.safetensors"), std::ios::binary) << "abc";
  CHECK_THROWS_AS(read_safetensors(scratch("short.safetensors").string(), ""), InputError);
}

TEST_CASE("atomic writes leave no temporary files") {
  const fs::path target = scratch("atomic/x.json");
  write_file_atomic(target.string(), "{\"a\": 1}");
  write_file_atomic(target.string(), "{\"a\": 2}");
  CHECK(read_json_file(target.string())->at("a") == 2);
  int files = 0;
  for (const auto& entry : fs::directory_iterator(target.parent_path())) files += entry.is_regular_file();
  CHECK(files == 1);
}
