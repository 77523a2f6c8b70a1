#include "bcfeat/kernels/format.h"

#include <cassert>

namespace bcfeat {

const std::vector<FormatInfo>& format_table() {
  // DXGI codes: BC1_UNORM 71, BC2_UNORM 74, BC3_UNORM 77, BC4_UNORM 80, BC4_SNORM 81,
  // BC5_UNORM 83, BC5_SNORM 84, BC6H_UF16 95, BC6H_SF16 96, BC7_UNORM 98 (Microsoft
  // DXGI_FORMAT enumeration).
  static const std::vector<FormatInfo> table = {
      {"bc1", FormatId::kBC1, 4, 4, 8, 4, ValueDomain::kUnorm, true, 71,
       "RGB 5:6:5 endpoints, 2-bit indices; 1-bit alpha when c0 <= c1"},
      {"bc2", FormatId::kBC2, 4, 4, 16, 4, ValueDomain::kUnorm, true, 74, "BC1 colour + explicit 4-bit alpha"},
      {"bc3", FormatId::kBC3, 4, 4, 16, 4, ValueDomain::kUnorm, true, 77, "BC1 colour + BC4-style interpolated alpha"},
      {"bc4_unorm", FormatId::kBC4Unorm, 4, 4, 8, 1, ValueDomain::kUnorm, true, 80, "one channel, 8-bit endpoints, 3-bit indices"},
      {"bc4_snorm", FormatId::kBC4Snorm, 4, 4, 8, 1, ValueDomain::kSnorm, true, 81, "one signed channel"},
      {"bc5_unorm", FormatId::kBC5Unorm, 4, 4, 16, 2, ValueDomain::kUnorm, true, 83, "two BC4 channels"},
      {"bc5_snorm", FormatId::kBC5Snorm, 4, 4, 16, 2, ValueDomain::kSnorm, true, 84, "two signed BC4 channels"},
      {"bc6h_uf16", FormatId::kBC6HUf16, 4, 4, 16, 3, ValueDomain::kUnsignedHalf, true, 95,
       "RGB unsigned half floats; 14 modes, 1 or 2 regions"},
      {"bc6h_sf16", FormatId::kBC6HSf16, 4, 4, 16, 3, ValueDomain::kHalf, true, 96, "RGB signed half floats"},
      {"bc7", FormatId::kBC7, 4, 4, 16, 4, ValueDomain::kUnorm, true, 98,
       "RGBA 8-bit; 8 modes, 1-3 subsets, p-bits, rotation"},
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
    case ValueDomain::kUnsignedHalf: return "ufloat16";
    case ValueDomain::kHalf: return "float16";
  }
  return "?";
}

float value_domain_low(ValueDomain domain) {
  switch (domain) {
    case ValueDomain::kSnorm: return -1.0f;
    case ValueDomain::kHalf: return -65504.0f;
    default: return 0.0f;
  }
}

float value_domain_high(ValueDomain domain) {
  return value_domain_is_float(domain) ? 65504.0f : 1.0f;
}

bool value_domain_is_float(ValueDomain domain) {
  return domain == ValueDomain::kUnsignedHalf || domain == ValueDomain::kHalf;
}

}  // namespace bcfeat
