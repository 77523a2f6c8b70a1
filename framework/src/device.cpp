#include "bcfeat/framework/device.h"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

#include "bcfeat/framework/error.h"

#ifdef BCFEAT_TORCH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#endif

namespace bcfeat {

torch::Device pick_device(const std::string& name) {
  if (name == "cuda" || (name == "auto" && torch::cuda::is_available())) {
    if (!torch::cuda::is_available()) throw_input_error("device cuda: this LibTorch has no usable CUDA device");
    return torch::Device(torch::kCUDA);
  }
  return torch::Device(torch::kCPU);
}

void reset_gpu_memory_peak() {
#ifdef BCFEAT_TORCH_CUDA
  if (torch::cuda::is_available()) c10::cuda::CUDACachingAllocator::resetPeakStats(c10::cuda::current_device());
#endif
}

int64_t gpu_memory_peak_bytes() {
#ifdef BCFEAT_TORCH_CUDA
  if (!torch::cuda::is_available()) return -1;
  // allocated_bytes[0]: the aggregate over every pool.
  return c10::cuda::CUDACachingAllocator::getDeviceStats(c10::cuda::current_device()).allocated_bytes[0].peak;
#else
  return -1;
#endif
}

// LibTorch 2.4 replaced the CUDA-only autocast switches by per-device ones.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define BCFEAT_AUTOCAST_PER_DEVICE 1
#endif

Autocast::Autocast(bool on) : on_(on) {
  if (!on_) return;
#ifdef BCFEAT_AUTOCAST_PER_DEVICE
  at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
  at::autocast::set_autocast_enabled(at::kCUDA, true);
#else
  at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
  at::autocast::set_enabled(true);
#endif
}

Autocast::~Autocast() {
  if (!on_) return;
#ifdef BCFEAT_AUTOCAST_PER_DEVICE
  at::autocast::set_autocast_enabled(at::kCUDA, false);
#else
  at::autocast::set_enabled(false);
#endif
  at::autocast::clear_cache();
}

}  // namespace bcfeat
