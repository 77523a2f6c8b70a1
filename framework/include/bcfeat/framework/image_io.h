// Images for the codec tools: PNG (8/16-bit, via stb_image) and .npy [H, W, C] float arrays.
#pragma once

#include <string>
#include <vector>

namespace bcfeat {

struct FloatImage {
  int width = 0, height = 0, channels = 0;
  std::vector<float> pixels;  // row-major [height][width][channels]
};

// PNG → values in [0, 1], channels as stored (1..4). Throws InputError on unreadable files.
FloatImage load_png(const std::string& path);
// .npy float32/float16 of shape [H, W, C] (C = 1..4) or [H, W] (C = 1).
FloatImage load_image_npy(const std::string& path);
// Either, by extension.
FloatImage load_image(const std::string& path);
// Every .png in a directory, sorted by name. Throws InputError when there is none.
std::vector<std::string> list_png_files(const std::string& directory);

// Writes an 8-bit PNG (values clamped to [0, 1], rounded) atomically.
void save_png(const std::string& path, const FloatImage& image);

// Writes [H, W, C] float32 .npy atomically.
void save_image_npy(const std::string& path, const FloatImage& image);

}  // namespace bcfeat
