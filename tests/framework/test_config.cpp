// Configs, parameters and sweeps.
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "bcfeat/experiments/experiment.h"
#include "bcfeat/framework/config.h"
#include "bcfeat/framework/error.h"
#include "bcfeat/framework/params.h"
#include "bcfeat/framework/sweep.h"
#include "catch.h"

namespace fs = std::filesystem;
using namespace bcfeat;

namespace {

fs::path scratch_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("bcfeat_test_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

void write(const fs::path& path, const std::string& text) { std::ofstream(path) << text; }

// The message of the InputError `body` throws ("" if it throws none).
template <class F>
std::string input_error_of(F&& body) {
  try {
    body();
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("includes merge with later keys winning, overrides last") {
  const fs::path dir = scratch_dir("include");
  write(dir / "base.yaml", "experiment: quantize_baseline\nfeatures:\n  dim: 64\n  batch: 2\ncompression: {bits: 4}\n");
  write(dir / "top.yaml", "include: base.yaml\nfeatures:\n  dim: 32\n");
  ConfigTree tree = load_config_file((dir / "top.yaml").string());
  apply_override(tree, "compression.bits=6");
  const auto resolved = resolve_experiment(tree);
  const auto flat = resolved->params.resolved_flat();
  CHECK(flat.at("features.dim").as<int>() == 32);    // top wins
  CHECK(flat.at("features.batch").as<int>() == 2);   // kept from include
  CHECK(flat.at("compression.bits").as<int>() == 6); // override wins
  CHECK(flat.at("compression.method").as<std::string>() == "fp16");  // default
  CHECK(contains(tree.at("features.dim").origin, "top.yaml:3"));
}

TEST_CASE("unknown keys name the file, line and closest spelling") {
  const fs::path dir = scratch_dir("unknown");
  write(dir / "c.yaml", "experiment: quantize_baseline\nfeatures:\n  dimm: 64\n");
  const std::string message = input_error_of([&] { resolve_experiment(load_config_file((dir / "c.yaml").string())); });
  CHECK(contains(message, "c.yaml:3"));
  CHECK(contains(message, "'features.dimm'"));
  CHECK(contains(message, "did you mean 'features.dim'"));
}

TEST_CASE("wrong types and out-of-range values are rejected with the key") {
  ConfigTree tree;
  apply_override(tree, "experiment=quantize_baseline");
  ConfigTree bad_type = tree;
  apply_override(bad_type, "features.dim=[1,2]");
  CHECK(contains(input_error_of([&] { resolve_experiment(bad_type); }), "'features.dim' must be an integer"));
  ConfigTree bad_range = tree;
  apply_override(bad_range, "compression.bits=9");
  CHECK(contains(input_error_of([&] { resolve_experiment(bad_range); }), "out of range [2, 8]"));
  ConfigTree bad_choice = tree;
  apply_override(bad_choice, "compression.method=int9");
  CHECK(contains(input_error_of([&] { resolve_experiment(bad_choice); }), "did you mean 'int'"));
  ConfigTree group_value = tree;
  apply_override(group_value, "compression=3");
  CHECK(contains(input_error_of([&] { resolve_experiment(group_value); }), "is a group of keys"));
  ConfigTree unknown_experiment;
  apply_override(unknown_experiment, "experiment=quantise_baseline");
  CHECK(contains(input_error_of([&] { resolve_experiment(unknown_experiment); }), "did you mean 'quantize_baseline'"));
}

TEST_CASE("YAML syntax errors, missing files and include cycles are input errors") {
  const fs::path dir = scratch_dir("syntax");
  write(dir / "bad.yaml", "experiment: [unclosed\n");
  CHECK(contains(input_error_of([&] { load_config_file((dir / "bad.yaml").string()); }), "YAML syntax error"));
  CHECK(contains(input_error_of([&] { load_config_file((dir / "missing.yaml").string()); }), "does not exist"));
  write(dir / "a.yaml", "include: b.yaml\n");
  write(dir / "b.yaml", "include: a.yaml\n");
  CHECK(contains(input_error_of([&] { load_config_file((dir / "a.yaml").string()); }), "include cycle"));
  CHECK(contains(input_error_of([&] { ConfigTree t; apply_override(t, "novalue"); }), "key.path=value"));
}

TEST_CASE("sweeps combine runs x zip x grid") {
  ConfigTree tree;
  apply_override(tree, "experiment=quantize_baseline");
  apply_override(tree, "sweep.grid.compression.bits=[2,3,4]");
  apply_override(tree, "sweep.grid.compression.group_size=[32,64]");
  apply_override(tree, "sweep.zip.features.dim=[16,32]");
  apply_override(tree, "sweep.zip.features.batch=[1,2]");
  apply_override(tree, "sweep.runs=[{compression.method: int}, {compression.method: fp8}]");
  const auto points = take_sweep(tree);
  REQUIRE(points.size() == 2 * 2 * 3 * 2);
  CHECK_FALSE(tree.contains("sweep.runs"));
  // Last grid axis varies fastest; zip pairs stay together.
  CHECK(points[0].overrides.at("compression.group_size").value.as<int>() == 32);
  CHECK(points[1].overrides.at("compression.group_size").value.as<int>() == 64);
  CHECK(points[2].overrides.at("compression.bits").value.as<int>() == 3);
  for (const auto& point : points) {
    const int dim = point.overrides.at("features.dim").value.as<int>();
    CHECK(point.overrides.at("features.batch").value.as<int>() == (dim == 16 ? 1 : 2));
  }
  CHECK(points.back().overrides.at("compression.method").value.as<std::string>() == "fp8");
}

TEST_CASE("malformed sweeps are input errors") {
  ConfigTree unequal;
  apply_override(unequal, "sweep.zip.a=[1,2]");
  apply_override(unequal, "sweep.zip.b=[1]");
  CHECK(contains(input_error_of([&] { take_sweep(unequal); }), "equal lengths"));
  ConfigTree scalar_axis;
  apply_override(scalar_axis, "sweep.grid.a=3");
  CHECK(contains(input_error_of([&] { take_sweep(scalar_axis); }), "non-empty list"));
  ConfigTree typo;
  apply_override(typo, "sweep.gird.a=[1]");
  CHECK(contains(input_error_of([&] { take_sweep(typo); }), "did you mean 'grid'"));
}

TEST_CASE("run ids are stable, differ with the config, and ignore the output path") {
  ConfigTree tree;
  apply_override(tree, "experiment=quantize_baseline");
  apply_override(tree, "sweep.grid.compression.bits=[4,8]");
  std::string out_a, out_b;
  const auto a = plan_runs(tree, "x.yaml", "/tmp/out_a", out_a);
  const auto b = plan_runs(tree, "x.yaml", "/tmp/out_b", out_b);
  REQUIRE(a.size() == 2);
  CHECK(a[0].run_id == b[0].run_id);
  CHECK(a[0].run_id != a[1].run_id);
  CHECK(a[0].run_id.rfind("bits-4-", 0) == 0);
  CHECK(out_a == "/tmp/out_a");
  std::string out_default;
  plan_runs(tree, "configs/x.yaml", "", out_default);
  CHECK(out_default == "results/x");
}

TEST_CASE("a bad value anywhere in a sweep fails planning") {
  ConfigTree tree;
  apply_override(tree, "experiment=quantize_baseline");
  apply_override(tree, "sweep.grid.compression.bits=[4,12]");
  std::string output;
  CHECK(contains(input_error_of([&] { plan_runs(tree, "x.yaml", "", output); }), "out of range"));
}

TEST_CASE("unflatten restores nesting") {
  const YAML::Node node = unflatten({{"a.b.c", YAML::Node(1)}, {"a.b.d", YAML::Node(2)}, {"e", YAML::Node("x")}});
  CHECK(node["a"]["b"]["c"].as<int>() == 1);
  CHECK(node["a"]["b"]["d"].as<int>() == 2);
  CHECK(node["e"].as<std::string>() == "x");
}

TEST_CASE("closest_match suggests typos only") {
  CHECK(closest_match("formt", {"format", "quality"}) == "format");
  CHECK(closest_match("zzzzzz", {"format", "quality"}).empty());
}
