// Small host helpers shared by the CUDA translation units: error checks and an owning
// device buffer.
#pragma once

#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "bcfeat/kernels/cuda_device.h"

namespace bcfeat {
namespace cuda_util {

inline void check_cuda(cudaError_t error, const char* what) {
  if (error != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(error));
}

inline void require_gpu() {
  if (cuda_device_count() == 0) throw std::runtime_error("no CUDA device is available");
}

template <class T>
struct DeviceBuffer {
  T* data = nullptr;
  explicit DeviceBuffer(size_t count) { check_cuda(cudaMalloc(&data, count * sizeof(T) + 16), "cudaMalloc"); }
  ~DeviceBuffer() { cudaFree(data); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
};

}  // namespace cuda_util
}  // namespace bcfeat
