#include "bcfeat/experiments/experiment.h"

#include <algorithm>
#include <filesystem>

#include "bcfeat/framework/error.h"
#include "bcfeat/framework/sweep.h"

namespace bcfeat {
namespace fs = std::filesystem;

// Entries defined in each experiment's file.
ExperimentEntry rate_distortion_entry();
ExperimentEntry quantize_baseline_entry();
ExperimentEntry train_entry();
ExperimentEntry vqa_eval_entry();
ExperimentEntry clip_eval_entry();
ExperimentEntry latency_entry();
ExperimentEntry classify_eval_entry();
ExperimentEntry compress_train_entry();
ExperimentEntry vqa_kv_eval_entry();

const std::vector<ExperimentEntry>& experiment_registry() {
  static const std::vector<ExperimentEntry> registry = {rate_distortion_entry(), quantize_baseline_entry(), train_entry(),
                                                               vqa_eval_entry(), clip_eval_entry(), latency_entry(),
                                                               classify_eval_entry(), compress_train_entry(),
                                                               vqa_kv_eval_entry()};
  return registry;
}

std::vector<std::string> experiment_names() {
  std::vector<std::string> names;
  for (const auto& entry : experiment_registry()) names.push_back(entry.name);
  return names;
}

namespace {

const ExperimentEntry& find_experiment(const std::string& name, const std::string& origin) {
  for (const auto& entry : experiment_registry()) {
    if (entry.name == name) return entry;
  }
  throw_input_error("{}: unknown experiment '{}'{}; valid: {}", origin, name, did_you_mean(name, experiment_names()),
                    join(experiment_names()));
}

void declare_common(ParamSet& params, CommonOptions& common, const std::vector<std::string>& names) {
  params.add("experiment", &common.experiment, "experiment type (bcfeat list experiments)").one_of(names);
  params.add("seed", &common.seed, "seed of every random choice in the run").range(0, 9.007199254740992e15);
  params.add("output", &common.output, "output directory (default results/<config name>)").not_hashed();
}

}  // namespace

std::unique_ptr<ResolvedExperiment> resolve_experiment(const ConfigTree& tree, bool validate) {
  if (!tree.contains("experiment")) {
    throw_input_error("the config has no 'experiment' key; valid experiments: {}", join(experiment_names()));
  }
  const ConfigValue& name = tree.at("experiment");
  if (!name.value.IsScalar()) throw_input_error("{}: 'experiment' must be a name", name.origin);
  const ExperimentEntry& entry = find_experiment(name.value.Scalar(), name.origin);
  auto resolved = std::make_unique<ResolvedExperiment>();
  resolved->experiment = entry.make();
  declare_common(resolved->params, resolved->common, experiment_names());
  resolved->experiment->declare(resolved->params);
  resolved->params.apply(tree);
  if (validate) resolved->experiment->validate();
  return resolved;
}

std::vector<ParamDoc> experiment_parameters(const std::string& name) {
  ResolvedExperiment resolved;
  resolved.experiment = find_experiment(name, "bcfeat list keys").make();
  resolved.common.experiment = name;
  declare_common(resolved.params, resolved.common, experiment_names());
  resolved.experiment->declare(resolved.params);
  return resolved.params.docs();
}

std::vector<PlannedRun> plan_runs(ConfigTree tree, const std::string& config_path, const std::string& output_override,
                                  std::string& output_dir) {
  const std::vector<SweepPoint> points = take_sweep(tree);
  std::vector<PlannedRun> runs;
  std::vector<std::map<std::string, YAML::Node>> resolved_values;
  output_dir.clear();
  for (const auto& point : points) {
    ConfigTree config = tree;
    config.merge(point.overrides);
    if (!output_override.empty()) config.set("output", YAML::Node(output_override), "command line --output");
    const auto resolved = resolve_experiment(config);
    std::string output = resolved->common.output;
    if (output.empty()) output = (fs::path("results") / fs::path(config_path).stem()).string();
    if (output_dir.empty()) output_dir = output;
    if (output != output_dir) throw_input_error("'output' may not be swept ('{}' vs '{}')", output_dir, output);
    resolved->common.output = output;
    const std::string hash = config_hash(resolved->params.resolved_flat(/*hashed_only=*/true));
    PlannedRun run;
    run.run_id = make_run_id(point.swept, hash);
    run.dir = (fs::path(output) / run.run_id).string();
    run.config = resolved->params.resolved();
    run.swept = point.swept;
    resolved_values.push_back(resolved->params.resolved_flat());
    for (const auto& other : runs) {
      if (other.run_id == run.run_id) {
        throw_input_error("the sweep produces two identical runs ('{}'); remove the duplicate values", run.run_id);
      }
    }
    runs.push_back(std::move(run));
  }
  // Every run reports every swept key (its resolved value where another run swept it),
  // so summary columns are complete for plotting.
  std::vector<std::string> swept_keys;
  for (const auto& run : runs) {
    for (const auto& entry : run.swept) {
      if (std::find(swept_keys.begin(), swept_keys.end(), entry.first) == swept_keys.end()) swept_keys.push_back(entry.first);
    }
  }
  for (size_t i = 0; i < runs.size(); ++i) {
    std::vector<std::pair<std::string, YAML::Node>> swept;
    for (const auto& key : swept_keys) {
      // A key inside a map-valued key (taps.2) that this run gives as a whole (taps) is null.
      const auto found = resolved_values[i].find(key);
      swept.emplace_back(key, found != resolved_values[i].end() ? found->second : YAML::Node());
    }
    runs[i].swept = std::move(swept);
  }
  return runs;
}

nlohmann::json run_config(const YAML::Node& config, RunContext& context) {
  ConfigTree tree;
  tree.merge_node("", config, context.run_dir + "/config.yaml");
  const auto resolved = resolve_experiment(tree);
  return resolved->experiment->run(static_cast<uint64_t>(resolved->common.seed), context);
}

}  // namespace bcfeat
