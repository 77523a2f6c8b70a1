// Experiments: one type per file, chosen by `experiment:` in a config.
//
// An experiment declares its parameters (ParamSet), checks them together in `validate`
// (before anything is written), and `run` turns one resolved sweep point into metrics.
// `plan_runs` turns a config (with its sweep) into planned runs; `run_config` executes a
// resolved config and is the RunBody of every launcher.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bcfeat/framework/config.h"
#include "bcfeat/framework/params.h"
#include "bcfeat/framework/runner.h"

namespace bcfeat {

class Experiment {
 public:
  virtual ~Experiment() = default;
  virtual void declare(ParamSet& params) = 0;
  // Cross-parameter and input checks; throws InputError. Runs before anything is written.
  virtual void validate() const {}
  virtual nlohmann::json run(uint64_t seed, RunContext& context) = 0;
  // bcfeat cache build: writes (or resumes) the feature cache of this config at `path` (empty:
  // the file the config names). False for experiments that have no features to cache.
  virtual bool build_feature_cache(const std::string& path, std::ostream& log) {
    (void)path;
    (void)log;
    return false;
  }
};

struct ExperimentEntry {
  std::string name;
  std::string description;
  std::function<std::unique_ptr<Experiment>()> make;
};

const std::vector<ExperimentEntry>& experiment_registry();
std::vector<std::string> experiment_names();

// Parameters every experiment has.
struct CommonOptions {
  std::string experiment;
  int64_t seed = 0;
  std::string output;  // default: results/<config file stem>
};

// An experiment with its parameters bound and applied.
struct ResolvedExperiment {
  CommonOptions common;
  std::unique_ptr<Experiment> experiment;
  ParamSet params;
};

// Builds the experiment named by `experiment:` and applies `tree` (no `sweep.*` keys); then
// validates it unless asked not to.
std::unique_ptr<ResolvedExperiment> resolve_experiment(const ConfigTree& tree, bool validate = true);

// The parameter reference of one experiment (for docs and `bcfeat list keys`).
std::vector<ParamDoc> experiment_parameters(const std::string& name);

// Expands the sweep and resolves and validates every point; throws InputError on any
// bad point, so nothing is written for a bad config.
std::vector<PlannedRun> plan_runs(ConfigTree tree, const std::string& config_path, const std::string& output_override,
                                  std::string& output_dir);

// RunBody: resolves `config` (a config.yaml) and runs it.
nlohmann::json run_config(const YAML::Node& config, RunContext& context);

}  // namespace bcfeat
