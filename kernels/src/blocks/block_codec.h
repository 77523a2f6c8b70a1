// One block of any BC format: the single dispatch from FormatId to block code.
//
// Texels are 16 RGBA quadruples in row-major order; a format uses its first `channels`
// (bc1/bc2/bc3: RGBA, bc4: R, bc5: RG). Composite formats:
//   bc2 = 8 bytes of explicit 4-bit alpha (k·17/255) + BC1 colour (always 4-colour)
//   bc3 = BC4-layout alpha block (8-bit precision in hardware) + BC1 colour (always 4-colour)
//   bc5 = BC4 red block + BC4 green block (unorm or snorm)
// bc6h_uf16/bc6h_sf16 (RGB half floats) and bc7 (RGBA) have their own headers.
#pragma once

#include <cstdint>

#include "bc1.h"
#include "bc4.h"
#include "bc6h.h"
#include "bc7.h"
#include "bcfeat/kernels/format.h"
#include "bcfeat/kernels/host_device.h"

namespace bcfeat {

BCFEAT_HD void decode_block(FormatId format, const uint8_t* block, float texels[16][4]) {
  switch (format) {
    case FormatId::kBC1:
      decode_bc1_block(block, false, texels);
      break;
    case FormatId::kBC2:
      decode_bc1_block(block + 8, true, texels);
      for (int i = 0; i < 16; ++i) {
        const int alpha = (block[i / 2] >> (4 * (i & 1))) & 15;
        texels[i][3] = static_cast<float>(alpha * 17) / 255.0f;
      }
      break;
    case FormatId::kBC3:
      decode_bc1_block(block + 8, true, texels);
      decode_bc4_block(block, Bc4Kind::kBc3Alpha, &texels[0][3], 4);
      break;
    case FormatId::kBC4Unorm:
    case FormatId::kBC4Snorm:
      decode_bc4_block(block, format == FormatId::kBC4Snorm ? Bc4Kind::kSnorm : Bc4Kind::kUnorm, &texels[0][0], 4);
      break;
    case FormatId::kBC5Unorm:
    case FormatId::kBC5Snorm:
      decode_bc4_block(block, format == FormatId::kBC5Snorm ? Bc4Kind::kSnorm : Bc4Kind::kUnorm, &texels[0][0], 4);
      decode_bc4_block(block + 8, format == FormatId::kBC5Snorm ? Bc4Kind::kSnorm : Bc4Kind::kUnorm, &texels[0][1], 4);
      break;
    case FormatId::kBC6HUf16:
    case FormatId::kBC6HSf16:
      decode_bc6h_block(block, format == FormatId::kBC6HSf16, texels);
      break;
    case FormatId::kBC7:
      decode_bc7_block(block, texels);
      break;
    default:  // not a BC format: the table sends other formats elsewhere
      break;
  }
}

BCFEAT_HD void encode_block(FormatId format, const float texels[16][4], Quality quality, uint8_t* out) {
  switch (format) {
    case FormatId::kBC1:
      encode_bc1_block(texels, quality, false, out);
      break;
    case FormatId::kBC2:
      for (int i = 0; i < 8; ++i) {
        const int low = static_cast<int>(floorf(texels[2 * i][3] * 15.0f + 0.5f));
        const int high = static_cast<int>(floorf(texels[2 * i + 1][3] * 15.0f + 0.5f));
        out[i] = static_cast<uint8_t>(bc1_detail::clamp_int(low, 0, 15) | (bc1_detail::clamp_int(high, 0, 15) << 4));
      }
      encode_bc1_block(texels, quality, true, out + 8);
      break;
    case FormatId::kBC3:
      encode_bc4_block(&texels[0][3], 4, Bc4Kind::kBc3Alpha, quality, out);
      encode_bc1_block(texels, quality, true, out + 8);
      break;
    case FormatId::kBC4Unorm:
    case FormatId::kBC4Snorm:
      encode_bc4_block(&texels[0][0], 4, format == FormatId::kBC4Snorm ? Bc4Kind::kSnorm : Bc4Kind::kUnorm, quality, out);
      break;
    case FormatId::kBC5Unorm:
    case FormatId::kBC5Snorm:
      encode_bc4_block(&texels[0][0], 4, format == FormatId::kBC5Snorm ? Bc4Kind::kSnorm : Bc4Kind::kUnorm, quality, out);
      encode_bc4_block(&texels[0][1], 4, format == FormatId::kBC5Snorm ? Bc4Kind::kSnorm : Bc4Kind::kUnorm, quality,
                       out + 8);
      break;
    case FormatId::kBC6HUf16:
    case FormatId::kBC6HSf16:
      encode_bc6h_block(texels, format == FormatId::kBC6HSf16, quality, out);
      break;
    case FormatId::kBC7:
      encode_bc7_block(texels, quality, out);
      break;
    default:  // not a BC format
      break;
  }
}

}  // namespace bcfeat
