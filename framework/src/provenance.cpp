#include "bcfeat/framework/provenance.h"

#include <torch/version.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <mutex>

#include <fmt/format.h>

#include "bcfeat/kernels/cuda_device.h"

#ifndef BCFEAT_SOURCE_DIR
#define BCFEAT_SOURCE_DIR "."
#endif

namespace bcfeat {

namespace {

std::string command_output(const std::string& command) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return out;
  std::array<char, 256> buffer{};
  while (fgets(buffer.data(), static_cast<int>(buffer.size()), pipe)) out += buffer.data();
  pclose(pipe);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) return line.substr(line.find_first_not_of(' ', colon + 1));
    }
  }
  return "unknown CPU";
}

}  // namespace

std::string iso_time_now() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%S", &utc);
  return fmt::format("{}.{:03d}Z", text, static_cast<int>(millis));
}

std::string bcfeat_version() { return BCFEAT_VERSION; }

nlohmann::json provenance_snapshot() {
  static std::once_flag once;
  static nlohmann::json snapshot;
  std::call_once(once, [] {
    const std::string git = fmt::format("git -C '{}' ", BCFEAT_SOURCE_DIR);
    const std::string commit = command_output(git + "rev-parse --verify -q HEAD 2>/dev/null");
    const std::string dirty = command_output(git + "status --porcelain --untracked-files=no 2>/dev/null");
    char host[256] = {};
    gethostname(host, sizeof(host) - 1);
    const int cuda = cuda_runtime_version();
    const int driver = cuda_driver_version();
    snapshot = {
        {"git_commit", commit.empty() ? "unknown" : commit},
        {"git_dirty", !commit.empty() && !dirty.empty()},
        {"host", host},
        {"cpu", cpu_model()},
        {"cuda_compiled", cuda_compiled()},
        {"cuda_devices", cuda_device_count()},
        {"gpu", cuda_device_count() > 0 ? cuda_device_name(0) : "none"},
        {"libtorch_version", fmt::format("{}.{}.{}", TORCH_VERSION_MAJOR, TORCH_VERSION_MINOR, TORCH_VERSION_PATCH)},
        {"cuda_runtime_version", cuda ? fmt::format("{}.{}", cuda / 1000, (cuda % 1000) / 10) : "none"},
        {"cuda_driver_version", driver ? fmt::format("{}.{}", driver / 1000, (driver % 1000) / 10) : "none"},
        {"bcfeat_version", bcfeat_version()},
    };
  });
  return snapshot;
}

}  // namespace bcfeat
