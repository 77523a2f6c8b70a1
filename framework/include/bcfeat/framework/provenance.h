// Provenance of a run: where and with what it ran.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace bcfeat {

// git commit and dirty flag of the source tree, host, device, LibTorch and CUDA versions.
// Computed once per process (git is asked at most once).
nlohmann::json provenance_snapshot();

// The project version (CMake's PROJECT_VERSION).
std::string bcfeat_version();

// Wall-clock time as ISO 8601 UTC with milliseconds.
std::string iso_time_now();

}  // namespace bcfeat
