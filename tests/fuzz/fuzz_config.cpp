// The YAML config loader and the sweep planner (nothing is written: the plan only).
#include "fuzz_target.h"

#include "bcfeat/experiments/experiment.h"
#include "bcfeat/framework/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bcfeat;
  static const std::string path = fuzz::scratch_path(".yaml");
  fuzz::write_scratch(path, data, size);
  return fuzz::expect_clean([&] {
    ConfigTree tree = load_config_file(path);
    std::string output_dir;
    const auto runs = plan_runs(tree, path, "/nonexistent/fuzz_output", output_dir);
    (void)runs;
  });
}
