// The `bcfeat` command line: run, run-one, report, list (and codec, bench as they land).
//
// Exit codes: 0 success; 1 some runs failed; 2 bad input (one line on stderr, nothing written).
#if defined(__linux__)
#include <malloc.h>
#endif
#include <fnmatch.h>

#include <limits>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "bcfeat/experiments/experiment.h"
#include "bcfeat/framework/bd_rate.h"
#include "bcfeat/framework/compressor.h"
#include "bcfeat/framework/error.h"
#include "bcfeat/framework/results.h"
#include "bcfeat/framework/runner.h"
#include "bcfeat/framework/slurm.h"
#include "bcfeat/kernels/codec.h"
#include "bcfeat/kernels/format.h"
#include "cli.h"

namespace bcfeat {
namespace fs = std::filesystem;

namespace {

constexpr const char* kUsage = R"(bcfeat — block-compressed features for vision-language models

usage:
  bcfeat run CONFIG [key.path=value ...] [--output DIR] [--jobs N] [--gpus 0,1,...] [--dry-run]
                    [--launcher local|slurm] [--sbatch "OPTIONS"] [--no-submit]
  bcfeat run-one RUN_DIR
  bcfeat report DIR [--columns a,b,c] [--format md|csv] [--bd-rate KEY=REF,TEST [--bd-metric M] [--bd-x X]]
                    [--compressai OUT.json [--series KEY=VALUE]]
  bcfeat list experiments|formats|compressors|keys [EXPERIMENT]
  bcfeat codec encode IN OUT.dds|OUT.astc --format F [--quality Q] [--profile ldr|hdr] [--device cpu|cuda] [--clamp] [--srgb]
  bcfeat codec decode IN.dds|IN.astc OUT.npy [--profile ldr|hdr] [--device cpu|cuda|texture|reference] [--srgb linear|stored]
  bcfeat codec info FILE.dds|FILE.astc
  bcfeat bench codecs [--formats a,b] [--qualities q,..] [--profiles ldr,hdr] [--images DIR] [--device cpu|cuda]
                      [--output FILE.json]
  bcfeat bench features [--compressors "method:key=value,...;..."] [--batch B] [--grid G] [--dim D]
                        [--dtype fp16|bf16|fp32] [--repetitions N] [--output FILE.json]
  bcfeat bench attention [--shapes BxHxQxNxD;...] [--codecs bc4_unorm,bc7,int4,...] [--dtype fp16|bf16]
                         [--repetitions N] [--warmup N] [--distinct PAIRS] [--output FILE.json]
  bcfeat dataset shapes_vqa --output DIR [--split train|val|test] [--count N] [--first I] [--questions Q]
                 [--image-size S] [--seed K]
  bcfeat probe positions MODEL.pt [--scenes N] [--output FILE.json]
  bcfeat cache build CONFIG [key.path=value ...] [--output FILE]
  bcfeat cache info FILE
  bcfeat extract efficientnet_lite0 WEIGHTS IMAGES_DIR --output OUT.safetensors [--taps stage1,..,head]
                 [--first I] [--count N] [--batch B] [--dtype float32|float16] [--device cpu|cuda]

exit codes: 0 ok, 1 some runs failed, 2 bad input, 4 the file system refused a write (full, read-only)
)";

std::string self_executable() {
  std::error_code error;
  const fs::path path = fs::read_symlink("/proc/self/exe", error);
  return error ? std::string("bcfeat") : path.string();
}

int command_run(Args& args) {
  const std::string config_path = args.positional("CONFIG");
  std::vector<std::string> overrides;
  while (args.has_positional()) overrides.push_back(args.positional("override"));
  const std::string output_override = args.option("--output", "");
  const int jobs = args.int_option("--jobs", 1, 1, 4096);
  const std::string gpu_list = args.option("--gpus", "");
  const bool dry_run = args.flag("--dry-run");
  const std::string launcher = args.option("--launcher", "local");
  const std::string sbatch = args.option("--sbatch", "");
  const bool no_submit = args.flag("--no-submit");
  args.finish();
  if (launcher != "local" && launcher != "slurm") {
    throw_input_error("--launcher must be local or slurm, got '{}'{}", launcher, did_you_mean(launcher, {"local", "slurm"}));
  }

  LaunchOptions launch;
  launch.jobs = jobs;
  launch.gpus = split_list(gpu_list);
  for (const auto& gpu : launch.gpus) {
    if (gpu.empty() || gpu.find_first_not_of("0123456789") != std::string::npos) {
      throw_input_error("--gpus takes device numbers like 0,1,2, got '{}'", gpu_list);
    }
  }
  launch.self_executable = self_executable();

  ConfigTree tree = load_config_file(config_path);
  for (const auto& assignment : overrides) apply_override(tree, assignment);
  std::string output_dir;
  const std::vector<PlannedRun> runs = plan_runs(tree, config_path, output_override, output_dir);

  if (dry_run) {
    fmt::print("{} runs -> {}\n", runs.size(), output_dir);
    for (const auto& run : runs) {
      std::string swept;
      for (const auto& [key, value] : run.swept) swept += fmt::format(" {}={}", key, yaml_inline(value));
      fmt::print("  {}{}{}\n", run.run_id, swept.empty() ? "" : "  ", swept);
    }
    return 0;
  }
  if (launcher == "slurm") {
    SlurmOptions slurm;
    std::istringstream words(sbatch);
    for (std::string word; words >> word;) slurm.sbatch_options.push_back(word);
    slurm.max_concurrent = jobs > 1 ? jobs : 0;
    slurm.submit = !no_submit;
    launch_slurm(runs, output_dir, launch, slurm);
    fmt::print("slurm: {} runs in {}; collect with: bcfeat report {}\n", runs.size(), output_dir, output_dir);
    return 0;
  }
  const int failed = launch_sweep(runs, output_dir, launch, run_config);
  const auto rows = nlohmann::ordered_json::parse(read_text_file((fs::path(output_dir) / "summary.json").string()));
  fmt::print("{}", format_report(rows, {}, "md"));
  fmt::print("results: {}/summary.json ({} runs, {} failed)\n", output_dir, runs.size(), failed);
  return failed > 0 ? 1 : 0;
}

int command_run_one(Args& args) {
  const std::string run_dir = args.positional("RUN_DIR");
  args.finish();
  const fs::path config_path = fs::path(run_dir) / "config.yaml";
  if (!fs::is_regular_file(config_path)) throw_input_error("'{}' has no config.yaml", run_dir);
  YAML::Node config;
  try {
    config = YAML::LoadFile(config_path.string());
  } catch (const YAML::Exception& e) {
    throw_input_error("{}:{}: YAML syntax error: {}", config_path.string(), e.mark.line + 1, e.msg);
  }
  return execute_run(run_dir, config, run_config) ? 0 : 1;
}

// CompressAI's results-JSON shape ({"name", "description", "results": {"bpp": [...],
// metric: [...]}}), which its plotting tools read: one file per series, points sorted by
// rate, `bpp` = bits_per_value, every numeric metric present in all rows as a list.
void write_compressai(const nlohmann::ordered_json& rows, const std::string& path, const std::string& series) {
  std::string key, value;
  if (!series.empty()) {
    const auto eq = series.find('=');
    if (eq == std::string::npos) throw_input_error("--series takes KEY=VALUE, got '{}'", series);
    key = series.substr(0, eq);
    value = series.substr(eq + 1);
  }
  std::vector<const nlohmann::ordered_json*> selected;
  for (const auto& row : rows) {
    if (row.value("status", "") != "ok" || !row.contains("bits_per_value")) continue;
    if (!key.empty()) {
      if (!row.contains(key)) continue;
      const std::string text = row[key].is_string() ? row[key].get<std::string>() : row[key].dump();
      if (text != value) continue;
    }
    selected.push_back(&row);
  }
  if (selected.empty()) throw_input_error("--compressai: no successful runs{}", series.empty() ? "" : " with " + series);
  std::sort(selected.begin(), selected.end(), [](const auto* a, const auto* b) {
    return (*a)["bits_per_value"].template get<double>() < (*b)["bits_per_value"].template get<double>();
  });
  nlohmann::ordered_json results = nlohmann::ordered_json::object();
  results["bpp"] = nlohmann::ordered_json::array();
  for (const auto* row : selected) results["bpp"].push_back((*row)["bits_per_value"]);
  for (auto it = selected.front()->begin(); it != selected.front()->end(); ++it) {
    const std::string& metric = it.key();
    if (metric == "bits_per_value" || metric.find('.') != std::string::npos || !it.value().is_number()) continue;
    bool everywhere = true;
    for (const auto* row : selected) everywhere = everywhere && row->contains(metric) && (*row)[metric].is_number();
    if (!everywhere) continue;
    results[metric] = nlohmann::ordered_json::array();
    for (const auto* row : selected) results[metric].push_back((*row)[metric]);
  }
  const nlohmann::ordered_json document = {
      {"name", series.empty() ? "bcfeat" : value},
      {"description", "bcfeat sweep; bpp = bits per feature value (side information included)"},
      {"results", results}};
  write_file_atomic(path, document.dump(2) + "\n");
  fmt::print(stderr, "wrote {} ({} points)\n", path, selected.size());
}

int command_report(Args& args) {
  const std::string dir = args.positional("DIR");
  const std::vector<std::string> columns = split_list(args.option("--columns", ""));
  const std::string format = args.option("--format", "md");
  const std::string bd = args.option("--bd-rate", "");
  const std::string bd_metric = args.option("--bd-metric", "psnr_db");
  const std::string bd_rate_key = args.option("--bd-x", "bits_per_value");
  const std::string compressai = args.option("--compressai", "");
  const std::string compressai_series = args.option("--series", "");
  args.finish();
  if (format != "md" && format != "csv") throw_input_error("--format must be md or csv, got '{}'", format);
  const std::string path = fs::is_directory(dir) ? (fs::path(dir) / "summary.json").string() : dir;
  const std::string text = read_text_file(path);
  nlohmann::ordered_json rows;
  try {
    rows = nlohmann::ordered_json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw_input_error("'{}' is not valid JSON: {}", path, e.what());
  }
  if (!rows.is_array()) throw_input_error("'{}' is not a bcfeat summary (expected a JSON array)", path);
  // Rows are refreshed from the run directories, so a sweep still running (or run by Slurm
  // array tasks) reports its current state; a run without a result shows its Slurm task's
  // state (pending, running, cancelled, ...).
  const fs::path base = fs::path(path).parent_path();
  const auto slurm_tasks = slurm_task_states(base.string());
  std::map<std::string, int> counts;
  for (auto& row : rows) {
    if (!row.contains("run_id") || !row["run_id"].is_string()) continue;
    const std::string run_id = row["run_id"].get<std::string>();
    const auto file = read_json_file((base / run_id / "metrics.json").string());
    if (file && file->is_object()) merge_metrics_file(row, *file);
    const auto task = slurm_tasks.find(run_id);
    if (row.value("status", "") == "unfinished" && task != slurm_tasks.end()) {
      row["status"] = slurm_report_status(task->second.state);
    }
    ++counts[row.value("status", "unfinished")];
  }
  fmt::print("{}", format_report(rows, columns, format));
  if (!slurm_tasks.empty()) {
    std::set<std::string> jobs;
    for (const auto& [run_id, task] : slurm_tasks) jobs.insert(task.job_id);
    std::vector<std::string> parts;
    for (const auto& [status, count] : counts) parts.push_back(fmt::format("{} {}", count, status));
    fmt::print(stderr, "{} runs: {} (Slurm job {})\n", rows.size(), fmt::join(parts, ", "), fmt::join(jobs, ", "));
  }
  if (!compressai.empty()) write_compressai(rows, compressai, compressai_series);
  if (!bd.empty()) {
    // --bd-rate KEY=REFERENCE,TEST: the two curves are the successful rows with those values
    // (shell-style patterns: run_id=*method-int*,*format-astc* takes a family of runs).
    const auto eq = bd.find('=');
    const std::vector<std::string> values = split_list(eq == std::string::npos ? "" : bd.substr(eq + 1));
    if (eq == std::string::npos || values.size() != 2) {
      throw_input_error("--bd-rate takes KEY=REFERENCE,TEST (e.g. compression.method=int,texture), got '{}'", bd);
    }
    const std::string key = bd.substr(0, eq);
    std::vector<RatePoint> curves[2];
    for (const auto& row : rows) {
      if (row.value("status", "") != "ok" || !row.contains(key)) continue;
      const auto& cell = row[key];
      const std::string text = cell.is_string() ? cell.get<std::string>() : cell.dump();
      for (int c = 0; c < 2; ++c) {
        if (fnmatch(values[c].c_str(), text.c_str(), 0) != 0) continue;
        if (!row.contains(bd_rate_key) || !row.contains(bd_metric) || !row[bd_rate_key].is_number() ||
            !row[bd_metric].is_number()) {
          throw_input_error("--bd-rate: rows need numeric '{}' and '{}'", bd_rate_key, bd_metric);
        }
        curves[c].push_back({row[bd_rate_key].get<double>(), row[bd_metric].get<double>()});
      }
    }
    const BdRateResult result = bd_rate(curves[0], curves[1]);
    fmt::print("BD-rate of {}={} against {}={} on {} vs {}: {:+.2f}% (over {} in [{:.4g}, {:.4g}], {} and {} points)\n",
               key, values[1], key, values[0], bd_metric, bd_rate_key, result.percent, bd_metric, result.quality_low,
               result.quality_high, curves[0].size(), curves[1].size());
  }
  return 0;
}

int command_list(Args& args) {
  const std::string what = args.positional("experiments|formats|compressors|keys");
  std::string experiment = args.has_positional() ? args.positional("EXPERIMENT") : "";
  args.finish();
  if (what == "experiments") {
    for (const auto& entry : experiment_registry()) fmt::print("{:<22} {}\n", entry.name, entry.description);
  } else if (what == "compressors") {
    for (const auto& entry : compressor_registry()) fmt::print("{:<22} {}\n", entry.name, entry.description);
  } else if (what == "formats") {
    fmt::print("{:<12} {:>5} {:>5} {:>8} {:>10}  {:<15} {:<9} {}\n", "name", "block", "bytes", "channels", "bits/texel",
               "domain", "encoders", "decoders");
    for (const auto& format : format_table()) {
      std::string encoders, decoders;
      for (int b = 0; b < kBackendCount; ++b) {
        const Backend backend = static_cast<Backend>(b);
        if (format.has_encoder(backend)) encoders += (encoders.empty() ? "" : ",") + std::string(backend_name(backend));
        if (format.has_decoder(backend)) decoders += (decoders.empty() ? "" : ",") + std::string(backend_name(backend));
      }
      const std::string domain =
          format.has_profiles ? fmt::format("{}|{}", value_domain_name(format.domain), value_domain_name(format.hdr_domain))
                              : value_domain_name(format.domain);
      fmt::print("{:<12} {:>5} {:>5} {:>8} {:>10.3f}  {:<15} {:<9} {}\n", format.name,
                 fmt::format("{}x{}", format.block_width, format.block_height), format.bytes_per_block,
                 format.channels, format_bits_per_texel(format), domain, encoders, decoders);
    }
  } else if (what == "keys") {
    std::vector<std::string> names = experiment.empty() ? experiment_names() : std::vector<std::string>{experiment};
    if (experiment.empty()) {
      fmt::print("# Config reference\n\nEvery key of every experiment: type, default, allowed values and meaning. This file is\n"
                 "what `bcfeat list keys` prints (a test keeps the two the same); `bcfeat list keys EXPERIMENT`\n"
                 "prints one experiment. How configs, includes, sweeps and overrides work: README.md.\n\n");
    }
    for (const auto& name : names) {
      fmt::print("## experiment: {}\n\n| key | type | default | allowed | meaning |\n|---|---|---|---|---|\n", name);
      for (const auto& doc : experiment_parameters(name)) {
        fmt::print("| `{}` | {} | `{}` | {} | {} |\n", doc.path, doc.type, doc.default_value, doc.allowed, doc.doc);
      }
      fmt::print("\n");
    }
  } else {
    throw_input_error("bcfeat list: unknown topic '{}'{}; valid: experiments, formats, compressors, keys", what,
                      did_you_mean(what, {"experiments", "formats", "compressors", "keys"}));
  }
  return 0;
}

}  // namespace
}  // namespace bcfeat

int main(int argc, char** argv) {
  using namespace bcfeat;
#if defined(__GLIBC__)
  // LibTorch's CPU ops allocate and free tensors of tens to hundreds of MB per layer; glibc
  // would serve each from a fresh mmap and zero its pages again (more system time than
  // compute on a convolutional network). Keep freed memory in the heap instead.
  mallopt(M_MMAP_MAX, 0);
  mallopt(M_TRIM_THRESHOLD, std::numeric_limits<int>::max());
#endif
  std::vector<std::string> arguments(argv + 1, argv + argc);
  if (arguments.empty() || arguments[0] == "-h" || arguments[0] == "--help" || arguments[0] == "help") {
    fmt::print("{}", kUsage);
    return arguments.empty() ? 2 : 0;
  }
  const std::string command = arguments[0];
  Args args(std::vector<std::string>(arguments.begin() + 1, arguments.end()), "bcfeat " + command);
  const std::map<std::string, int (*)(Args&)> commands = {
      {"run", command_run},         {"run-one", command_run_one}, {"report", command_report},
      {"list", command_list},       {"codec", command_codec},     {"bench", command_bench},
      {"dataset", command_dataset},
      {"probe", command_probe},     {"cache", command_cache},     {"extract", command_extract},
  };
  try {
    auto it = commands.find(command);
    if (it == commands.end()) {
      std::vector<std::string> names;
      for (const auto& [name, handler] : commands) names.push_back(name);
      throw_input_error("unknown command '{}'{}; valid: {}", command, did_you_mean(command, names), join(names));
    }
    return it->second(args);
  } catch (const FormatError& e) {
    fmt::print(stderr, "bcfeat: error: {}\n", e.what());
    return 2;
  } catch (const InputError& e) {
    fmt::print(stderr, "bcfeat: error: {}\n", e.what());
    return 2;
  } catch (const StorageError& e) {
    fmt::print(stderr, "bcfeat: error: {}\n", e.what());
    return 4;
  } catch (const std::exception& e) {
    fmt::print(stderr, "bcfeat: internal error: {}\n", e.what());
    return 3;
  }
}
