// Shared by the fuzz targets: each defines LLVMFuzzerTestOneInput and treats the errors bcfeat
// promises for bad input (InputError, FormatError) as the expected outcome; anything else
// escaping — another exception, a crash, a sanitizer report — is a finding.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include "bcfeat/framework/error.h"
#include "bcfeat/kernels/codec.h"

namespace bcfeat::fuzz {

// A per-process scratch file for readers that take a path (tensor files, configs, caches).
inline std::string scratch_path(const char* suffix) {
  const char* dir = std::getenv("TMPDIR");
  return std::string(dir && *dir ? dir : "/tmp") + "/bcfeat_fuzz_" + std::to_string(::getpid()) + suffix;
}

inline void write_scratch(const std::string& path, const uint8_t* data, size_t size) {
  FILE* file = std::fopen(path.c_str(), "wb");
  if (!file) std::abort();
  if (size && std::fwrite(data, 1, size, file) != size) std::abort();
  std::fclose(file);
}

// Runs `body`; the errors bad input is allowed to produce end the input quietly.
template <class Body>
int expect_clean(Body&& body) {
  try {
    body();
  } catch (const InputError&) {  // header-only: the kernel-layer targets need no framework library
  } catch (const FormatError&) {
  }
  return 0;
}

}  // namespace bcfeat::fuzz
