// Executing runs: one run in this process, or a whole sweep with N worker processes.
//
// A run is a directory holding its resolved config.yaml. `execute_run` runs it in this
// process and always leaves a complete metrics.json behind ("ok" with metrics, or
// "failed" with the error). `launch_sweep` skips complete runs, executes the rest in
// process (jobs = 1) or as `bcfeat run-one DIR` child processes (jobs > 1, one GPU each
// when GPUs are listed), keeps summary.json/csv current after every finished run, and
// shows progress. A SIGKILL at any moment loses only runs that had not finished.
#pragma once

#include <functional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include "bcfeat/framework/results.h"

namespace bcfeat {

struct RunContext {
  std::string run_dir;
  std::string run_id;
  std::ostream& log;
};

// The body of a run: resolved config in, metrics out. Throws to fail the run.
using RunBody = std::function<nlohmann::json(const YAML::Node& config, RunContext& context)>;

struct PlannedRun {
  std::string run_id;
  std::string dir;
  YAML::Node config;  // fully resolved
  std::vector<std::pair<std::string, YAML::Node>> swept;
};

struct LaunchOptions {
  int jobs = 1;
  std::vector<std::string> gpus;  // CUDA device ids handed out to concurrent runs
  std::string self_executable;    // for `run-one` child processes
};

// Runs one run directory in this process. Returns true when the run succeeded.
bool execute_run(const std::string& run_dir, const YAML::Node& config, const RunBody& body);

// Runs every planned run not yet complete. Returns the number of failed runs.
int launch_sweep(const std::vector<PlannedRun>& runs, const std::string& output_dir, const LaunchOptions& options,
                 const RunBody& body);

struct SlurmOptions {
  std::vector<std::string> sbatch_options;  // extra "#SBATCH" lines, e.g. "--gres=gpu:1"
  int max_concurrent = 0;                    // array throttle (%N), 0 = none
  bool submit = true;                        // call sbatch when it is on PATH
};

// Prepares every pending run (config.yaml), writes <output>/slurm/runs.txt and an array job
// script <output>/slurm/array.sbatch whose task i executes `bcfeat run-one` on the i-th run,
// and submits it with `sbatch` when available, recording the job in <output>/slurm/jobs.tsv
// (slurm.h). Runs that an earlier submission still has queued or running are skipped, so
// re-launching while an array runs never runs a point twice. Returns the script's path.
// Re-running the same `bcfeat run` afterwards (or `bcfeat report`) collects the results.
std::string launch_slurm(const std::vector<PlannedRun>& runs, const std::string& output_dir, const LaunchOptions& options,
                         const SlurmOptions& slurm);

// YAML text of a resolved config, as written to config.yaml.
std::string config_to_text(const YAML::Node& config);

}  // namespace bcfeat
