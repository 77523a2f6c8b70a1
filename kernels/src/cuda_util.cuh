// Small host helpers shared by the CUDA translation units: error checks, an owning device
// buffer and CUDA-event timing.
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

// Lets `kernel` use `bytes` of dynamic shared memory (opting in above the default 48 KiB).
template <class Kernel>
void allow_shared(Kernel kernel, size_t bytes) {
  if (bytes > 48 * 1024) {
    check_cuda(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes)),
               "cudaFuncSetAttribute");
  }
}

// An owning CUDA event.
struct Event {
  cudaEvent_t event = nullptr;
  Event() { check_cuda(cudaEventCreate(&event), "event"); }
  ~Event() { cudaEventDestroy(event); }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
};

// Mean seconds per call of `body` (which launches work on the default stream) over
// `repetitions` calls, after one untimed warm-up call; timed with CUDA events.
template <class Body>
double time_cuda(int repetitions, Body&& body) {
  Event start, stop;
  body();
  check_cuda(cudaGetLastError(), "launch");
  check_cuda(cudaDeviceSynchronize(), "warm-up");
  check_cuda(cudaEventRecord(start.event), "event record");
  for (int r = 0; r < repetitions; ++r) body();
  check_cuda(cudaEventRecord(stop.event), "event record");
  check_cuda(cudaEventSynchronize(stop.event), "event sync");
  float ms = 0.0f;
  check_cuda(cudaEventElapsedTime(&ms, start.event, stop.event), "elapsed");
  return static_cast<double>(ms) / 1000.0 / repetitions;
}

}  // namespace cuda_util
}  // namespace bcfeat
