// GPU timings for `bcfeat bench`: kernels timed with CUDA events on device-resident data.
#pragma once

#include <cstdint>

#include "bcfeat/kernels/codec.h"

namespace bcfeat {

struct CudaCodecTiming {
  double encode_s = 0, decode_s = 0, texture_decode_s = 0;  // seconds per image
  int64_t encoded_bytes = 0, decoded_bytes = 0;              // float32 decoded output
};

// Encode, software decode and texture-unit decode of one image, `repetitions` each.
CudaCodecTiming time_cuda_codec(const FormatInfo& format, Quality quality, const float* pixels, int width, int height,
                                int channels, int repetitions);

// Device-to-device cudaMemcpy bandwidth in bytes/s, counting bytes read + written.
double measure_copy_bandwidth(int64_t bytes, int repetitions);

}  // namespace bcfeat
