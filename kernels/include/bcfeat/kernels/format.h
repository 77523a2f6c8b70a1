// The block-compression format table: one row per format.
//
// Adding a format means one row here plus its block header (encode/decode of one block),
// which the CPU driver and the CUDA kernels dispatch to through `FormatId`.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace bcfeat {

enum class FormatId : int {
  kBC1,
  kBC2,
  kBC3,
  kBC4Unorm,
  kBC4Snorm,
  kBC5Unorm,
  kBC5Snorm,
  kBC6HUf16,
  kBC6HSf16,
  kBC7,
};

enum class ValueDomain : int {
  kUnorm,  // [0, 1]
  kSnorm,  // [-1, 1]
  kUnsignedHalf,  // finite half floats ≥ 0 (BC6H UF16: [0, 65504])
  kHalf,          // finite half floats (BC6H SF16: [-65504, 65504])
};

struct FormatInfo {
  const char* name;
  FormatId id;
  int block_width;
  int block_height;
  int bytes_per_block;
  int channels;           // channels the decoder returns
  ValueDomain domain;
  bool texture_decodable;  // decoded by the GPU texture units
  uint32_t dxgi_format;    // DXGI_FORMAT code used in .dds files
  const char* description;
};

const std::vector<FormatInfo>& format_table();
// nullptr when unknown.
const FormatInfo* find_format(const std::string& name);
const FormatInfo& format_info(FormatId id);
std::vector<std::string> format_names();
double format_bits_per_texel(const FormatInfo& format);
const char* value_domain_name(ValueDomain domain);
// The closed interval of values a domain holds.
float value_domain_low(ValueDomain domain);
float value_domain_high(ValueDomain domain);
bool value_domain_is_float(ValueDomain domain);

}  // namespace bcfeat
