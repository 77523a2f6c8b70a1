#include "texture_layout.h"

#include <cmath>

#include "bcfeat/framework/error.h"
#include "bcfeat/kernels/codec.h"

namespace bcfeat {

TextureLayout parse_texture_layout(const std::string& name) {
  if (name == "token_channel") return TextureLayout::kTokenChannel;
  if (name == "channel") return TextureLayout::kChannel;
  return TextureLayout::kSpatial;
}

TextureGeometry texture_geometry(const std::vector<int64_t>& shape, TextureLayout layout,
                                 const std::vector<int>& tokens_hw, int slots, const FormatInfo& format) {
  TextureGeometry g{};
  g.layout = layout;
  g.batch = shape[0];
  g.tokens = shape[1];
  g.dim = shape[2];
  g.groups = (g.dim + slots - 1) / slots;
  const auto bytes = [&format](int64_t width, int64_t height) {
    return compressed_size(format, static_cast<int>(width), static_cast<int>(height));
  };
  if (layout == TextureLayout::kTokenChannel) {
    g.textures = g.batch;
    g.width = g.groups;
    g.height = g.tokens;
  } else if (layout == TextureLayout::kChannel) {
    const auto root = static_cast<int64_t>(std::ceil(std::sqrt(static_cast<double>(g.groups))));
    g.tile_w = 4 * ((root + 3) / 4);
    g.tile_h = 4 * (((g.groups + g.tile_w - 1) / g.tile_w + 3) / 4);
    g.textures = g.batch;
    g.width = g.tile_w;
    g.height = g.tokens * g.tile_h;
  }
  if (layout != TextureLayout::kSpatial) {
    if (g.width > 65536 || g.height > (1 << 24)) throw_input_error("features too large for one texture per image");
    g.texture_bytes = bytes(g.width, g.height);
    return g;
  }
  if (tokens_hw.empty()) {
    const auto side = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(g.tokens))));
    if (side * side != g.tokens) {
      throw_input_error("{} tokens are not a square grid; set compression.tokens_hw to [h, w]", g.tokens);
    }
    g.grid_h = g.grid_w = side;
  } else {
    if (tokens_hw.size() != 2) throw_input_error("compression.tokens_hw must be [h, w]");
    g.grid_h = tokens_hw[0];
    g.grid_w = tokens_hw[1];
    if (g.grid_h * g.grid_w != g.tokens) {
      throw_input_error("compression.tokens_hw [{}, {}] has {} tokens but the features have N = {}", g.grid_h,
                        g.grid_w, g.grid_h * g.grid_w, g.tokens);
    }
  }
  g.height = g.grid_h;
  g.width = g.grid_w;
  g.textures = g.batch * g.groups;
  g.texture_bytes = bytes(g.width, g.height);
  return g;
}

}  // namespace bcfeat
