// Whole-image block compression: CPU drivers, CUDA kernels, and the texture-unit decoder.
//
// Pixels are row-major [height][width][channels] float32. A format reads the first of its
// own channels from the pixels (missing colour channels read 0, missing alpha 1) and
// decodes to exactly its `channels` (bc1/bc2/bc3: 4, bc4: 1, bc5: 2). Images whose size is
// not a multiple of the block size are padded by replicating the last row and column;
// blocks are stored row-major, ceil(w/4)·ceil(h/4) of them.
//
// The three decoders (CPU, CUDA, texture units) return the same floats bit for bit; the
// CPU and CUDA encoders return the same blocks. Callers validate values first (finite, in
// the format's domain): these functions assume valid input.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bcfeat/kernels/bc1.h"
#include "bcfeat/kernels/format.h"

namespace bcfeat {

struct BlockGrid {
  int blocks_x, blocks_y;
  int64_t blocks() const { return static_cast<int64_t>(blocks_x) * blocks_y; }
};
BlockGrid block_grid(const FormatInfo& format, int width, int height);
int64_t compressed_size(const FormatInfo& format, int width, int height);

const char* quality_name(Quality quality);
// Throws std::invalid_argument naming the valid levels.
Quality parse_quality(const std::string& name);

// CPU, `threads` = 0: all hardware threads.
std::vector<uint8_t> encode_image_cpu(const FormatInfo& format, const float* pixels, int width, int height,
                                      int channels, Quality quality, int threads = 0);
std::vector<float> decode_image_cpu(const FormatInfo& format, const uint8_t* blocks, int width, int height,
                                    int threads = 0);

// CUDA (host buffers in and out; they throw std::runtime_error without a usable GPU).
bool cuda_codec_available();
std::vector<uint8_t> encode_image_cuda(const FormatInfo& format, const float* pixels, int width, int height,
                                       int channels, Quality quality);
std::vector<float> decode_image_cuda(const FormatInfo& format, const uint8_t* blocks, int width, int height);
// The GPU texture units as the decoder (formats with texture_decodable).
std::vector<float> decode_image_texture(const FormatInfo& format, const uint8_t* blocks, int width, int height);

}  // namespace bcfeat
