#include "bcfeat/kernels/cuda_device.h"

#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

namespace bcfeat {

bool cuda_compiled() { return true; }

int cuda_device_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no driver" error
    return 0;
  }
  return count;
}

std::string cuda_device_name(int device) {
  cudaDeviceProp properties{};
  if (cudaGetDeviceProperties(&properties, device) != cudaSuccess) {
    cudaGetLastError();
    return "unknown CUDA device";
  }
  return properties.name;
}

int cuda_runtime_version() {
  int version = 0;
  cudaRuntimeGetVersion(&version);
  return version;
}

int cuda_driver_version() {
  int version = 0;
  if (cudaDriverGetVersion(&version) != cudaSuccess) return 0;
  return version;
}

std::vector<double> time_cuda_calls(const std::function<void()>& body, int warmup, int repetitions) {
  if (cuda_device_count() == 0) throw std::runtime_error("no CUDA device is available");
  auto check = [](cudaError_t error, const char* what) {
    if (error != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(error));
  };
  for (int w = 0; w < warmup; ++w) body();
  check(cudaDeviceSynchronize(), "warm-up");
  std::vector<cudaEvent_t> events(static_cast<size_t>(repetitions) + 1);
  for (auto& event : events) check(cudaEventCreate(&event), "cudaEventCreate");
  check(cudaEventRecord(events[0], nullptr), "cudaEventRecord");
  for (int r = 0; r < repetitions; ++r) {
    body();
    check(cudaEventRecord(events[r + 1], nullptr), "cudaEventRecord");
  }
  check(cudaEventSynchronize(events.back()), "cudaEventSynchronize");
  std::vector<double> ms;
  for (int r = 0; r < repetitions; ++r) {
    float elapsed = 0.0f;
    check(cudaEventElapsedTime(&elapsed, events[r], events[r + 1]), "cudaEventElapsedTime");
    ms.push_back(elapsed);
  }
  for (auto& event : events) cudaEventDestroy(event);
  return ms;
}

}  // namespace bcfeat
