// Sweeps: expanding `sweep:` into runs, and naming each run.
//
//   sweep:
//     grid: {compression.method: [fp16, int], compression.bits: [4, 8]}   # Cartesian product
//     zip:  {a: [1, 2], b: [x, y]}                                        # advanced together
//     runs: [{compression.method: fp8}, {compression.method: bf16}]       # explicit list
//
// They combine as runs × zip × grid (each factor is one point when absent). Axes are key
// paths; the value lists may also come from the command line
// (`sweep.grid.compression.format=[bc1,bc7]`).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "bcfeat/framework/config.h"

namespace bcfeat {

struct SweepPoint {
  ConfigTree overrides;                                   // applied on top of the base config
  std::vector<std::pair<std::string, YAML::Node>> swept;  // key path -> value, in axis order
};

// Removes every `sweep.*` key from `tree` and returns the expanded points (one empty point
// when there is no sweep). Throws InputError on malformed sweeps.
std::vector<SweepPoint> take_sweep(ConfigTree& tree);

// Stable short hash (10 hex digits, FNV-1a 64) of a resolved key path -> value map.
std::string config_hash(const std::map<std::string, YAML::Node>& resolved);

// "<readable name from swept values>-<hash>", or just the hash when nothing is swept.
std::string make_run_id(const std::vector<std::pair<std::string, YAML::Node>>& swept, const std::string& hash);

}  // namespace bcfeat
