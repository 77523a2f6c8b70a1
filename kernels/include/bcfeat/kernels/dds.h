// .dds files for block-compressed images.
//
// Writing always uses the DX10 extension header (DDS_HEADER + DDS_HEADER_DXT10 with the
// format's DXGI code, one 2-D texture, one mip level). Reading accepts that and the
// legacy FourCC headers other tools write (DXT1, DXT3, DXT5, ATI1/BC4U, BC4S, ATI2/BC5U,
// BC5S). Malformed files throw FormatError with a message naming the file and the problem.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "bcfeat/kernels/format.h"

namespace bcfeat {

class FormatError : public std::runtime_error {
 public:
  explicit FormatError(const std::string& message) : std::runtime_error(message) {}
};

struct BlockImage {
  const FormatInfo* format = nullptr;
  int width = 0, height = 0;
  std::vector<uint8_t> blocks;  // row-major blocks of the top mip level
};

// The bytes of a .dds file (header + blocks).
std::vector<uint8_t> make_dds(const BlockImage& image);
// Parses a .dds file's bytes; `name` is used in error messages.
BlockImage parse_dds(const std::vector<uint8_t>& bytes, const std::string& name);

}  // namespace bcfeat
