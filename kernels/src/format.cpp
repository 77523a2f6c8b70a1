// The format table. DXGI codes: BC1_UNORM 71, BC2_UNORM 74, BC3_UNORM 77, BC4_UNORM 80,
// BC4_SNORM 81, BC5_UNORM 83, BC5_SNORM 84, BC6H_UF16 95, BC6H_SF16 96, BC7_UNORM 98
// (Microsoft's DXGI_FORMAT enumeration).
#include "bcfeat/kernels/format.h"

#include <cassert>
#include <stdexcept>

#include "astc_codec.h"
#include "bc_codec.h"

namespace bcfeat {

namespace {

const std::vector<QualityName> kBcQualities = {
    {"fast", Quality::kFast}, {"normal", Quality::kNormal}, {"high", Quality::kHigh}};
// libastcenc's presets; bcfeat's three level names are accepted as aliases.
const std::vector<QualityName> kAstcQualities = {
    {"fastest", Quality::kFastest},          {"fast", Quality::kFast},   {"medium", Quality::kNormal},
    {"normal", Quality::kNormal},            {"thorough", Quality::kHigh}, {"high", Quality::kHigh},
    {"verythorough", Quality::kVeryThorough}, {"exhaustive", Quality::kExhaustive}};

constexpr const char* kBcNote = "";
constexpr const char* kBptcNote =
    "the CUDA BC6H/BC7 encoders are left out of builds configured with BCFEAT_CUDA_BPTC_ENCODERS=OFF";
constexpr const char* kAstcNote =
    "libastcenc encodes ASTC on the CPU, and no data-centre GPU decodes ASTC in its texture units";

FormatInfo bc_row(const char* name, FormatId id, int bytes, int channels, int value_channels, ValueDomain domain,
                  uint32_t dxgi, const char* description, const char* note = kBcNote) {
  return FormatInfo{name,
                    id,
                    4,
                    4,
                    bytes,
                    channels,
                    value_channels,
                    domain,
                    domain,
                    false,
                    Container::kDds,
                    dxgi,
                    kBcQualities,
                    true,
                    description,
                    "bcfeat",
                    note,
                    {bc_encode_cpu, bc_encode_cuda, nullptr, nullptr},
                    {bc_decode_cpu, bc_decode_cuda, bc_decode_texture, nullptr},
                    bc_time_encode_cuda,
                    bc_time_decode_cuda,
                    bc_encode_device,
                    bc_decode_device};
}

FormatInfo astc_row(const char* name, FormatId id, int width, int height) {
  return FormatInfo{name,
                    id,
                    width,
                    height,
                    16,
                    4,
                    4,
                    ValueDomain::kUnorm,
                    ValueDomain::kUnsignedHalf,
                    true,
                    Container::kAstc,
                    0,
                    kAstcQualities,
                    false,  // libastcenc's presets search differently and weigh error in their own metric
                    "ASTC: 128-bit blocks, 1-4 partitions, dual planes, trit/quint ranges; ldr or hdr profile",
                    "libastcenc",
                    kAstcNote,
                    {astc_encode_entry, nullptr, nullptr, nullptr},
                    {astc_decode_cpu_entry, astc_decode_cuda_entry, nullptr, astc_decode_reference_entry},
                    nullptr,
                    astc_time_decode_cuda,
                    nullptr,
                    astc_decode_device};
}

#if defined(BCFEAT_CUDA_BPTC_ENCODERS) && !BCFEAT_CUDA_BPTC_ENCODERS
constexpr bool kCudaBptcEncoders = false;
#else
constexpr bool kCudaBptcEncoders = true;
#endif

// BC6H/BC7 rows lose their CUDA encoder in builds without it.
FormatInfo bptc_row(FormatInfo row) {
  if (!kCudaBptcEncoders) {
    row.encode[static_cast<int>(Backend::kCuda)] = nullptr;
    row.time_encode_cuda = nullptr;
    row.encode_device = nullptr;
    row.backend_note = kBptcNote;
  }
  return row;
}

}  // namespace

const std::vector<FormatInfo>& format_table() {
  using D = ValueDomain;
  static const std::vector<FormatInfo> table = {
      bc_row("bc1", FormatId::kBC1, 8, 4, 3, D::kUnorm, 71,
             "RGB 5:6:5 endpoints, 2-bit indices; 1-bit alpha when c0 <= c1"),
      bc_row("bc2", FormatId::kBC2, 16, 4, 4, D::kUnorm, 74, "BC1 colour + explicit 4-bit alpha"),
      bc_row("bc3", FormatId::kBC3, 16, 4, 4, D::kUnorm, 77, "BC1 colour + BC4-style interpolated alpha"),
      bc_row("bc4_unorm", FormatId::kBC4Unorm, 8, 1, 1, D::kUnorm, 80, "one channel, 8-bit endpoints, 3-bit indices"),
      bc_row("bc4_snorm", FormatId::kBC4Snorm, 8, 1, 1, D::kSnorm, 81, "one signed channel"),
      bc_row("bc5_unorm", FormatId::kBC5Unorm, 16, 2, 2, D::kUnorm, 83, "two BC4 channels"),
      bc_row("bc5_snorm", FormatId::kBC5Snorm, 16, 2, 2, D::kSnorm, 84, "two signed BC4 channels"),
      bptc_row(bc_row("bc6h_uf16", FormatId::kBC6HUf16, 16, 3, 3, D::kUnsignedHalf, 95,
                      "RGB unsigned half floats; 14 modes, 1 or 2 regions")),
      bptc_row(bc_row("bc6h_sf16", FormatId::kBC6HSf16, 16, 3, 3, D::kHalf, 96, "RGB signed half floats")),
      bptc_row(bc_row("bc7", FormatId::kBC7, 16, 4, 4, D::kUnorm, 98,
                      "RGBA 8-bit; 8 modes, 1-3 subsets, p-bits, rotation")),
      astc_row("astc_4x4", FormatId::kAstc4x4, 4, 4),
      astc_row("astc_5x4", FormatId::kAstc5x4, 5, 4),
      astc_row("astc_5x5", FormatId::kAstc5x5, 5, 5),
      astc_row("astc_6x5", FormatId::kAstc6x5, 6, 5),
      astc_row("astc_6x6", FormatId::kAstc6x6, 6, 6),
      astc_row("astc_8x5", FormatId::kAstc8x5, 8, 5),
      astc_row("astc_8x6", FormatId::kAstc8x6, 8, 6),
      astc_row("astc_8x8", FormatId::kAstc8x8, 8, 8),
      astc_row("astc_10x5", FormatId::kAstc10x5, 10, 5),
      astc_row("astc_10x6", FormatId::kAstc10x6, 10, 6),
      astc_row("astc_10x8", FormatId::kAstc10x8, 10, 8),
      astc_row("astc_10x10", FormatId::kAstc10x10, 10, 10),
      astc_row("astc_12x10", FormatId::kAstc12x10, 12, 10),
      astc_row("astc_12x12", FormatId::kAstc12x12, 12, 12),
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

ValueDomain format_domain(const FormatInfo& format, Profile profile) {
  return profile == Profile::kHdr ? format.hdr_domain : format.domain;
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

float value_domain_high(ValueDomain domain) { return value_domain_is_float(domain) ? 65504.0f : 1.0f; }

bool value_domain_is_float(ValueDomain domain) {
  return domain == ValueDomain::kUnsignedHalf || domain == ValueDomain::kHalf;
}

bool value_domain_is_signed(ValueDomain domain) { return domain == ValueDomain::kSnorm || domain == ValueDomain::kHalf; }

const char* quality_name(const FormatInfo& format, Quality quality) {
  for (const auto& entry : format.qualities) {
    if (entry.quality == quality) return entry.name;
  }
  return "?";
}

Quality parse_quality(const FormatInfo& format, const std::string& name) {
  std::string valid;
  for (const auto& entry : format.qualities) {
    if (name == entry.name) return entry.quality;
    valid += valid.empty() ? "" : ", ";
    valid += entry.name;
  }
  throw std::invalid_argument("unknown quality '" + name + "' for " + format.name + "; valid: " + valid);
}

std::vector<std::string> quality_names() {
  std::vector<std::string> names;
  for (int level = 0; level <= static_cast<int>(Quality::kExhaustive); ++level) {
    for (const auto& format : format_table()) {
      for (const auto& entry : format.qualities) {
        if (static_cast<int>(entry.quality) != level) continue;
        bool seen = false;
        for (const auto& name : names) seen = seen || name == entry.name;
        if (!seen) names.push_back(entry.name);
      }
    }
  }
  return names;
}

const char* profile_name(Profile profile) { return profile == Profile::kHdr ? "hdr" : "ldr"; }

Profile parse_profile_name(const std::string& name) {
  if (name == "ldr") return Profile::kLdr;
  if (name == "hdr") return Profile::kHdr;
  throw std::invalid_argument("unknown profile '" + name + "'; valid: ldr, hdr");
}

Profile parse_profile(const FormatInfo& format, const std::string& name) {
  const Profile profile = parse_profile_name(name);
  if (profile == Profile::kHdr && !format.has_profiles) {
    throw std::invalid_argument(std::string(format.name) + " has no profiles; the hdr profile is for formats with "
                                "one (bcfeat list formats)");
  }
  return profile;
}

const char* backend_name(Backend backend) {
  switch (backend) {
    case Backend::kCpu: return "cpu";
    case Backend::kCuda: return "cuda";
    case Backend::kTexture: return "texture";
    case Backend::kReference: return "reference";
  }
  return "?";
}

Backend parse_backend(const std::string& name) {
  for (int b = 0; b < kBackendCount; ++b) {
    if (name == backend_name(static_cast<Backend>(b))) return static_cast<Backend>(b);
  }
  throw std::invalid_argument("unknown device '" + name + "'; valid: cpu, cuda, texture, reference");
}

const char* container_extension(Container container) { return container == Container::kAstc ? ".astc" : ".dds"; }

}  // namespace bcfeat
