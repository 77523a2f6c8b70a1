// .dds files for the BC formats (Microsoft "DDS file layout"): "DDS " magic, a 124-byte
// DDS_HEADER whose pixel format carries FourCC "DX10", then a 20-byte DDS_HEADER_DXT10, then
// the data. Writing always uses the DX10 header (the format's DXGI code, one 2-D texture, one
// mip level); reading accepts that and the legacy FourCC headers other tools write (DXT1,
// DXT3, DXT5, ATI1/BC4U, BC4S, ATI2/BC5U, BC5S). Malformed files throw FormatError naming the
// file and the problem.
#include <cstring>

#include "bc_codec.h"

namespace bcfeat {

namespace {

constexpr uint32_t kHeaderSize = 124;
constexpr uint32_t kPixelFormatSize = 32;
constexpr uint32_t kFlagCaps = 0x1, kFlagHeight = 0x2, kFlagWidth = 0x4, kFlagPixelFormat = 0x1000,
                   kFlagLinearSize = 0x80000;
constexpr uint32_t kPixelFourCC = 0x4;
constexpr uint32_t kCapsTexture = 0x1000;
constexpr uint32_t kDimensionTexture2D = 3;
constexpr uint32_t kCaps2Cubemap = 0x200, kCaps2Volume = 0x200000;  // DDS_HEADER.dwCaps2 (offset 112)
constexpr uint32_t kMiscTextureCube = 0x4;                          // DDS_HEADER_DXT10.miscFlag

constexpr uint32_t fourcc(const char* text) {
  return static_cast<uint32_t>(text[0]) | (static_cast<uint32_t>(text[1]) << 8) |
         (static_cast<uint32_t>(text[2]) << 16) | (static_cast<uint32_t>(text[3]) << 24);
}

void put32(std::vector<uint8_t>& out, size_t at, uint32_t value) { std::memcpy(&out[at], &value, 4); }
uint32_t get32(const std::vector<uint8_t>& in, size_t at) {
  uint32_t value;
  std::memcpy(&value, &in[at], 4);
  return value;
}

// DXGI's sRGB code of a format with one: the UNORM code + 1 (BC1 72, BC2 75, BC3 78, BC7 99).
uint32_t srgb_dxgi(const FormatInfo& format) { return format.dxgi_format + 1; }

const FormatInfo* format_from_dxgi(uint32_t dxgi, bool& srgb, const std::string& name) {
  srgb = false;
  for (const auto& format : format_table()) {
    if (format.container != Container::kDds) continue;
    if (format.dxgi_format == dxgi) return &format;
    if (format_has_srgb(format) && srgb_dxgi(format) == dxgi) {
      srgb = true;
      return &format;
    }
  }
  // Typeless variants decode as unorm.
  if (dxgi == 70) return find_format("bc1");
  if (dxgi == 73) return find_format("bc2");
  if (dxgi == 76) return find_format("bc3");
  if (dxgi == 79) return find_format("bc4_unorm");
  if (dxgi == 82) return find_format("bc5_unorm");
  if (dxgi == 97) return find_format("bc7");
  if (dxgi == 94) {
    throw FormatError("'" + name + "': BC6H_TYPELESS does not say whether the values are signed; write the header "
                      "as BC6H_UF16 (95) or BC6H_SF16 (96)");
  }
  return nullptr;
}

const FormatInfo* format_from_fourcc(uint32_t code) {
  if (code == fourcc("DXT1")) return find_format("bc1");
  if (code == fourcc("DXT3")) return find_format("bc2");
  if (code == fourcc("DXT5")) return find_format("bc3");
  if (code == fourcc("ATI1") || code == fourcc("BC4U")) return find_format("bc4_unorm");
  if (code == fourcc("BC4S")) return find_format("bc4_snorm");
  if (code == fourcc("ATI2") || code == fourcc("BC5U")) return find_format("bc5_unorm");
  if (code == fourcc("BC5S")) return find_format("bc5_snorm");
  return nullptr;
}

}  // namespace

std::vector<uint8_t> make_dds(const BlockImage& image) {
  const FormatInfo& format = *image.format;
  if (image.srgb && !format_has_srgb(format)) throw FormatError(std::string(format.name) + " has no sRGB variant");
  const size_t header = 4 + kHeaderSize + 20;
  std::vector<uint8_t> out(header + image.blocks.size(), 0);
  std::memcpy(out.data(), "DDS ", 4);
  put32(out, 4, kHeaderSize);
  put32(out, 8, kFlagCaps | kFlagHeight | kFlagWidth | kFlagPixelFormat | kFlagLinearSize);
  put32(out, 12, static_cast<uint32_t>(image.height));
  put32(out, 16, static_cast<uint32_t>(image.width));
  put32(out, 20, static_cast<uint32_t>(image.blocks.size()));  // linear size of the top level
  put32(out, 28, 1);                                           // mip levels
  put32(out, 76, kPixelFormatSize);
  put32(out, 80, kPixelFourCC);
  put32(out, 84, fourcc("DX10"));
  put32(out, 108, kCapsTexture);
  put32(out, 128, image.srgb ? srgb_dxgi(format) : format.dxgi_format);
  put32(out, 132, kDimensionTexture2D);
  put32(out, 136, 0);  // misc flags
  put32(out, 140, 1);  // array size
  put32(out, 144, 0);  // alpha mode unknown
  std::memcpy(out.data() + header, image.blocks.data(), image.blocks.size());
  return out;
}

BlockImage parse_dds(const std::vector<uint8_t>& bytes, const std::string& name) {
  if (bytes.size() < 4 + kHeaderSize || std::memcmp(bytes.data(), "DDS ", 4) != 0) {
    throw FormatError("'" + name + "' is not a DDS file (missing 'DDS ' magic or header)");
  }
  if (get32(bytes, 4) != kHeaderSize || get32(bytes, 76) != kPixelFormatSize) {
    throw FormatError("'" + name + "': corrupt DDS header (wrong header or pixel-format size)");
  }
  BlockImage image;
  image.height = static_cast<int>(get32(bytes, 12));
  image.width = static_cast<int>(get32(bytes, 16));
  if (image.width <= 0 || image.height <= 0 || image.width > (1 << 16) || image.height > (1 << 16)) {
    throw FormatError("'" + name + "': unsupported DDS size " + std::to_string(get32(bytes, 16)) + "x" +
                      std::to_string(get32(bytes, 12)));
  }
  if (!(get32(bytes, 80) & kPixelFourCC)) {
    throw FormatError("'" + name + "': uncompressed DDS pixel formats are not supported");
  }
  const uint32_t code = get32(bytes, 84);
  size_t data_offset = 4 + kHeaderSize;
  if (code == fourcc("DX10")) {
    if (bytes.size() < data_offset + 20) throw FormatError("'" + name + "': truncated DX10 header");
    const uint32_t dxgi = get32(bytes, data_offset);
    // Many writers leave resourceDimension and arraySize at 0; the rest of the header (a
    // width and height, no volume or cube-map caps) then says it is one 2-D texture.
    const uint32_t dimension = get32(bytes, data_offset + 4), array_size = get32(bytes, data_offset + 12);
    const bool cube = (get32(bytes, data_offset + 8) & kMiscTextureCube) || (get32(bytes, 112) & kCaps2Cubemap);
    if ((dimension != kDimensionTexture2D && dimension != 0) || (get32(bytes, 112) & kCaps2Volume)) {
      throw FormatError("'" + name + "': only 2-D textures are supported (resource dimension " +
                        std::to_string(dimension) + ")");
    }
    if (cube) throw FormatError("'" + name + "': cube maps are not supported; only 2-D textures are");
    if (array_size > 1) {
      throw FormatError("'" + name + "': texture arrays (" + std::to_string(array_size) +
                        " textures) are not supported; only one 2-D texture is");
    }
    image.format = format_from_dxgi(dxgi, image.srgb, name);
    if (!image.format) {
      throw FormatError("'" + name + "': unknown or unsupported DXGI format " + std::to_string(dxgi) +
                        " (supported: BC1-BC7 with their UNORM, SNORM, SRGB and TYPELESS variants, BC6H UF16/SF16)");
    }
    data_offset += 20;
  } else {
    image.format = format_from_fourcc(code);
    if (!image.format) {
      throw FormatError("'" + name + "': unknown DDS FourCC '" + escape_bytes(&bytes[84], 4) + "'");
    }
  }
  // Mipmapped files: the top level comes first and is the one read.
  if (get32(bytes, 28) > 1) image.mip_levels = static_cast<int>(get32(bytes, 28));
  const size_t size = static_cast<size_t>(compressed_size(*image.format, image.width, image.height));
  if (bytes.size() < data_offset + size) {
    throw FormatError("'" + name + "': truncated data: " + std::to_string(bytes.size() - data_offset) +
                      " bytes for a " + std::to_string(image.width) + "x" + std::to_string(image.height) + " " +
                      image.format->name + " image that needs " + std::to_string(size));
  }
  image.blocks.assign(bytes.begin() + static_cast<std::ptrdiff_t>(data_offset),
                      bytes.begin() + static_cast<std::ptrdiff_t>(data_offset + size));
  return image;
}

}  // namespace bcfeat
