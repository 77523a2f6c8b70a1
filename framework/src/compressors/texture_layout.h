// Where the texture compressor puts the values of a [B, N, D] tensor. A texel holds
// `slots` consecutive channels of one token (the format's value_channels: 3 for bc1, whose
// alpha is one bit; 4 for bc2/bc3/bc7/ASTC; 1 for bc4; 2 for bc5); G = ceil(D / slots)
// channel groups. The layouts place texels so that a block covers:
//   spatial        neighbouring tokens — per image and group, an h×w texture of the token grid
//   token_channel  consecutive tokens × consecutive groups — per image, one texture, tokens
//                  along y, groups along x (G × N texels)
//   channel        neighbouring groups of one token — each token's G texels folded into a
//                  tile of tw × th texels (tw = 4·ceil(√G / 4), th a multiple of 4), tiles
//                  stacked along y, one texture per image
// Textures are stored image-major, then channel group, ceil(h/bh)·ceil(w/bw) blocks each, so
// the padding of odd grids is counted in the rate.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bcfeat/kernels/format.h"

namespace bcfeat {

enum class TextureLayout { kSpatial, kTokenChannel, kChannel };
TextureLayout parse_texture_layout(const std::string& name);  // spatial | token_channel | channel

struct TextureGeometry {
  TextureLayout layout;
  int64_t batch, tokens, dim, grid_h, grid_w, groups;  // the tensor
  int64_t tile_w, tile_h;                               // channel layout
  int64_t textures, width, height, texture_bytes;       // the textures
};

// The textures of a tensor of `shape` [B, N, D]; `tokens_hw` is the token grid of the spatial
// layout ([] = square). Throws InputError for a grid that does not fit N or textures too large.
TextureGeometry texture_geometry(const std::vector<int64_t>& shape, TextureLayout layout,
                                 const std::vector<int>& tokens_hw, int slots, const FormatInfo& format);

// Calls body(image, token, group, x, y) for every (token, channel group) stored in `texture`.
template <class Body>
void for_each_texel(const TextureGeometry& g, int64_t texture, Body body) {
  if (g.layout == TextureLayout::kSpatial) {
    const int64_t image = texture / g.groups, group = texture % g.groups;
    for (int64_t t = 0; t < g.tokens; ++t) body(image, t, group, t % g.grid_w, t / g.grid_w);
    return;
  }
  for (int64_t t = 0; t < g.tokens; ++t) {
    for (int64_t group = 0; group < g.groups; ++group) {
      if (g.layout == TextureLayout::kTokenChannel) {
        body(texture, t, group, group, t);
      } else {  // channel: the token's groups folded into its tile
        body(texture, t, group, group % g.tile_w, t * g.tile_h + group / g.tile_w);
      }
    }
  }
}

}  // namespace bcfeat
