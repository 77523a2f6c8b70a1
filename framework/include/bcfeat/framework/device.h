// Where a model runs: the device a config names, and bf16 autocast on CUDA.
#pragma once

#include <string>

#include <torch/torch.h>

namespace bcfeat {

// cpu, cuda or auto (cuda when LibTorch sees a GPU); throws InputError for cuda without one.
torch::Device pick_device(const std::string& name);

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
