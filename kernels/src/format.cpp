#include "bcfeat/kernels/format.h"

#include <cassert>

namespace bcfeat {

const std::vector<FormatInfo>& format_table() {
  // DXGI codes: BC1_UNORM 71, BC2_UNORM 74, BC3_UNORM 77, BC4_UNORM 80, BC4_SNORM 81,
  // BC5_UNORM 83, BC5_SNORM 84 (Microsoft DXGI_FORMAT enumeration).
  static const std::vector<FormatInfo> table = {
      {"bc1", FormatId::kBC1, 4, 4, 8, 4, ValueDomain::kUnorm, true, 71,
       "RGB 5:6:5 endpoints, 2-bit indices; 1-bit alpha when c0 <= c1"},
      {"bc2", FormatId::kBC2, 4, 4, 16, 4, ValueDomain::kUnorm, true, 74, "BC1 colour + explicit 4-bit alpha"},
      {"bc3", FormatId::kBC3, 4, 4, 16, 4, ValueDomain::kUnorm, true, 77, "BC1 colour + BC4-style interpolated alpha"},
      {"bc4_unorm", FormatId::kBC4Unorm, 4, 4, 8, 1, ValueDomain::kUnorm, true, 80, "one channel, 8-bit endpoints, 3-bit indices"},
      {"bc4_snorm", FormatId::kBC4Snorm, 4, 4, 8, 1, ValueDomain::kSnorm, true, 81, "one signed channel"},
      {"bc5_unorm", FormatId::kBC5Unorm, 4, 4, 16, 2, ValueDomain::kUnorm, true, 83, "two BC4 channels"},
      {"bc5_snorm", FormatId::kBC5Snorm, 4, 4, 16, 2, ValueDomain::kSnorm, true, 84, "two signed BC4 channels"},
  };
  return table;
}

const FormatInfo* find_format(const std::string& name) {
  for (const auto& format : format_table()) {
    if (name == format.name) return &format;
  }
  return nullptr;
}

const FormatInfo& format_info(FormatId id) {
  for (const auto& format : format_table()) {
    if (format.id == id) return format;
  }
  assert(false && "format id missing from the table");
  return format_table().front();
}

std::vector<std::string> format_names() {
  std::vector<std::string> names;
  for (const auto& format : format_table()) names.push_back(format.name);
  return names;
}

double format_bits_per_texel(const FormatInfo& format) {
  return 8.0 * format.bytes_per_block / (format.block_width * format.block_height);
}

const char* value_domain_name(ValueDomain domain) {
  switch (domain) {
    case ValueDomain::kUnorm: return "unorm";
    case ValueDomain::kSnorm: return "snorm";
  }
  return "?";
}

}  // namespace bcfeat
