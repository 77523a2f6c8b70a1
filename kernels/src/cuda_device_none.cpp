// Built instead of cuda_device.cu when CUDA is off: no devices.
#include "bcfeat/kernels/cuda_device.h"

#include <stdexcept>

namespace bcfeat {

bool cuda_compiled() { return false; }
int cuda_device_count() { return 0; }
std::string cuda_device_name(int) { return "none"; }
int cuda_runtime_version() { return 0; }
int cuda_driver_version() { return 0; }
std::vector<double> time_cuda_calls(const std::function<void()>&, int, int) {
  throw std::runtime_error("bcfeat was built without CUDA");
}

}  // namespace bcfeat
