// Where a model runs: the device a config names, and bf16 autocast on CUDA.
#pragma once

#include <string>

#include <torch/torch.h>

namespace bcfeat {

// cpu, cuda or auto (cuda when LibTorch sees a GPU); throws InputError for cuda without one.
torch::Device pick_device(const std::string& name);

// The CUDA caching allocator's peak of allocated bytes on the current device since the last
// reset (tensors only: CUDA arrays such as texture caches are outside it); -1 when this
// LibTorch has no CUDA.
void reset_gpu_memory_peak();
int64_t gpu_memory_peak_bytes();

// bf16 autocast on CUDA for the guard's lifetime (a no-op when `on` is false).
class Autocast {
 public:
  explicit Autocast(bool on);
  ~Autocast();
  Autocast(const Autocast&) = delete;
  Autocast& operator=(const Autocast&) = delete;

 private:
  bool on_;
};

}  // namespace bcfeat
