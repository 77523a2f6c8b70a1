// What CUDA can see from this process. Without a CUDA build (or without a driver or a
// GPU) the count is 0 and the versions are 0, so callers can skip GPU work cleanly.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace bcfeat {

bool cuda_compiled();           // built with the CUDA paths
int cuda_device_count();        // usable devices (0 without driver or GPU)
std::string cuda_device_name(int device);
int cuda_runtime_version();     // e.g. 13000, 0 when not compiled with CUDA
int cuda_driver_version();      // 0 without a driver

// Milliseconds of each of `repetitions` calls of `body` (which queues GPU work on the legacy
// default stream, where LibTorch's work goes too), measured with CUDA events around each call
// after `warmup` untimed calls. Throws std::runtime_error without a usable GPU.
std::vector<double> time_cuda_calls(const std::function<void()>& body, int warmup, int repetitions);

}  // namespace bcfeat
