// Reader for the texture-unit vectors in tests/data (see tests/gpu/make_texture_vectors.cu).
#pragma once

#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

struct TextureVectors {
  uint32_t bytes_per_block = 0, count = 0;
  std::vector<uint8_t> blocks;
  std::vector<float> texels;  // count × 16 × 4
  bool loaded = false;
};

inline TextureVectors load_texture_vectors(const std::string& format_name) {
  TextureVectors vectors;
  std::ifstream in(std::string(BCFEAT_TEST_DATA) + "/texture_" + format_name + ".bin", std::ios::binary);
  if (!in) return vectors;
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string bytes = buffer.str();
  if (bytes.size() < 16 || bytes.compare(0, 4, "BCTV") != 0) return vectors;
  std::memcpy(&vectors.bytes_per_block, bytes.data() + 8, 4);
  std::memcpy(&vectors.count, bytes.data() + 12, 4);
  const size_t block_bytes = static_cast<size_t>(vectors.bytes_per_block) * vectors.count;
  const size_t texel_floats = static_cast<size_t>(vectors.count) * 64;
  if (bytes.size() != 16 + block_bytes + texel_floats * 4) return vectors;
  vectors.blocks.assign(bytes.begin() + 16, bytes.begin() + 16 + static_cast<std::ptrdiff_t>(block_bytes));
  vectors.texels.resize(texel_floats);
  std::memcpy(vectors.texels.data(), bytes.data() + 16 + block_bytes, texel_floats * 4);
  vectors.loaded = true;
  return vectors;
}

// The bits of a float, for exact comparisons that also tell -0 from +0.
inline uint32_t float_bits(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  return bits;
}
