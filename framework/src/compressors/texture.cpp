// Texture compressor: features as block-compressed textures of any format of the table.
//
// Packing (texture_layout.h): a texel holds value_channels consecutive channels of one token;
// the layout decides whether a block covers neighbouring tokens, tokens × channel groups, or
// channel groups of one token. Values reach the format's domain through value maps
// (channel_transforms.h): min/max per channel over the tensor (`per_channel`) or per texture
// and channel slot (`per_texture`), optionally clipped at percentiles; half-float domains can
// take the values directly or scaled per channel. Channels that pad D up to a multiple of the
// slots are encoded as the domain's midpoint and dropped on decode. Optional outlier channels,
// a rotation and a channel order act before packing (channel_transforms.h).
//
// Side information is fitted on the tensor itself and stored in its stream (scope
// per_tensor), or, with scope per_dataset after fit() on calibration features, once for the
// dataset: outlier channel indices, rotation, permutation and per-channel value maps then
// sit in the shared state (shared_bytes()), and the stream keeps only what is per tensor
// (kept tokens, outlier values, per-texture maps, blocks). Values of later tensors outside a
// shared map's range are clipped.
//
// Stream: fp16 values of the kept tokens (keep_tokens, e.g. [0] for a CLS token, which stay
// out of the textures); the u16 indices and fp16 values of the outlier channels; with
// rotation = pca, the fp16 D'×D' rotation (hadamard: its u32 seed); with a channel order,
// the u16 permutation of the remaining channels; fp16 (min, max) pairs (value_scale scale:
// one fp16 scale per channel; direct: nothing); then every texture's blocks.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <optional>

#include "bcfeat/framework/compressor.h"
#include "bcfeat/framework/error.h"
#include "bcfeat/kernels/codec.h"
#include "bcfeat/kernels/float_formats.h"
#include "channel_transforms.h"
#include "texture_layout.h"

namespace bcfeat {

namespace {

struct TextureOptions {
  std::string format = "bc4_snorm";
  std::string quality = "normal";
  std::string profile = "ldr";
  std::string layout = "spatial";
  std::string value_map = "per_channel";
  std::vector<int> tokens_hw;
  std::string rotation = "none";
  std::string channel_order = "identity";
  std::string value_scale = "affine";
  std::string scope = "per_tensor";
  double clip_percentile = 0.0;
  int outlier_channels = 0;
  std::vector<int> keep_tokens;

  template <class Keys>
  void keys(Keys& k) {
    k.add("format", format, "block-compression format (bcfeat list formats)").one_of(format_names());
    k.add("quality", quality,
          "encoder level; formats encoded by libastcenc also take its presets (normal = medium, high = thorough)")
        .one_of(quality_names());
    k.add("profile", profile,
          "for formats with profiles: ldr (values mapped into [0, 1]) or hdr (half floats in [0, 65504], as "
          "bc6h_uf16)")
        .one_of({"ldr", "hdr"});
    k.add("layout", layout,
          "what a block covers: neighbouring tokens (spatial), tokens x channel groups (token_channel), or "
          "neighbouring channels of one token (channel)")
        .one_of({"spatial", "token_channel", "channel"});
    k.add("value_map", value_map,
          "affine map into the format's domain, min/max per channel or per texture (fp16, counted)")
        .one_of({"per_channel", "per_texture"});
    k.add("tokens_hw", tokens_hw, "token grid [h, w] of the packed tokens, h*w = N minus kept tokens ([] = square)")
        .range(1, 1 << 16);
    k.add("rotation", rotation,
          "orthogonal rotation of the channels before packing, inverted after decoding; hadamard = block "
          "Walsh-Hadamard with seeded signs (4-byte seed), pca = its fp16 D x D matrix (counted, per tensor or per "
          "dataset)")
        .one_of({"none", "hadamard", "pca"});
    k.add("channel_order", channel_order,
          "channel order before packing; variance = decreasing variance, correlation = greedy groups of correlated "
          "channels per texel (permutation stored, counted)")
        .one_of({"identity", "variance", "correlation"});
    k.add("value_scale", value_scale,
          "half-float domains: affine = value_map into [0,1]/[-1,1]; direct = values as half floats; scale = "
          "per-channel fp16 scale (max |x| -> 1)")
        .one_of({"affine", "direct", "scale"});
    k.add("scope", scope,
          "per_tensor = value maps, order and rotation fitted on each tensor and stored in its stream; per_dataset "
          "= fitted once on the calibration split, stored once (shared_bytes)")
        .one_of({"per_tensor", "per_dataset"});
    k.add("clip_percentile", clip_percentile,
          "value map from the p-th to the (100-p)-th percentile, values beyond clipped (0 = min/max)")
        .range(0.0, 25.0);
    k.add("outlier_channels", outlier_channels,
          "the K channels with the widest range stored as fp16 aside (indices and values counted)")
        .range(0, 65535);
    k.add("keep_tokens", keep_tokens, "tokens (e.g. [0], a CLS token) stored as fp16 aside").range(0, 1 << 30);
  }
};

class TextureCompressor : public Compressor {
 public:
  explicit TextureCompressor(const CompressionOptions& values)
      : options_(read_options<TextureOptions>(values)), device_(values.device) {
    format_ = find_format(options_.format);
    if (!format_) {
      throw_input_error("compression.format '{}' is not a block format; valid: {}", options_.format,
                        join(format_names()));
    }
    try {
      quality_ = parse_quality(*format_, options_.quality);
      profile_ = parse_profile(*format_, options_.profile);
    } catch (const std::invalid_argument& e) {
      throw_input_error("compression: {}", e.what());
    }
    domain_ = format_domain(*format_, profile_);
    channels_ = format_->channels;
    slots_ = format_->value_channels;
    layout_ = parse_texture_layout(options_.layout);
    value_map_ = ValueMap{parse_value_scale(options_.value_scale), options_.clip_percentile};
    if (options_.value_scale != "affine" && !half_format()) {
      throw_input_error("compression.value_scale '{}' needs a half-float format (bc6h_uf16, bc6h_sf16, or a format "
                        "with profile hdr), not {}",
                        options_.value_scale, options_.format);
    }
    // The encoder runs on the GPU where the format has one there (else on the CPU); the
    // decoder runs on the device asked for.
    if (device_ == "cuda") {
      encoder_ = format_->has_encoder(Backend::kCuda) ? Backend::kCuda : Backend::kCpu;
      decoder_ = Backend::kCuda;
      if (!format_->has_decoder(decoder_)) {
        throw_input_error("compression.device cuda: {}", decoder_unavailable(*format_, decoder_));
      }
    }
  }

  // scope per_dataset: outlier channels, rotation, channel order and per-channel value maps
  // fitted once on calibration features and shared by every tensor compressed afterwards.
  void fit(const torch::Tensor& calibration) override {
    if (options_.scope != "per_dataset") return;
    shared_ = fit_side(pack_tokens(calibration));
    shared_bytes_ = static_cast<int64_t>(side_bytes_of(*shared_).size());
  }

  int64_t shared_bytes() const override { return shared_ ? shared_bytes_ : 0; }

  // The CPU encoders and decoders use every hardware thread.
  std::string timing_device() const override { return timing_device_name(device_, "all threads"); }

  // Tokens listed in keep_tokens (e.g. a CLS token) and the `outlier_channels` channels
  // with the widest range are stored as fp16 in front of the stream and left out of the
  // textures.
  Compressed compress(const torch::Tensor& features) const override {
    require_device(device_);
    const std::vector<int64_t> kept = kept_tokens(features.size(1));
    const torch::Tensor packed_tokens = pack_tokens(features);
    if (shared_ && shared_->dim != features.size(2)) {
      throw_input_error("features have D = {} but the shared texture maps were fitted on D = {}", features.size(2),
                        shared_->dim);
    }
    const Side side = shared_ ? *shared_ : fit_side(packed_tokens);
    Compressed out;
    out.shape = features.sizes().vec();
    if (!kept.empty()) append_half(out.bytes, features.index_select(1, torch::tensor(kept, torch::kLong)));
    if (!shared_) {
      const std::vector<uint8_t> stored = side_bytes_of(side);
      out.bytes.insert(out.bytes.end(), stored.begin(), stored.end());
    }
    if (!side.outliers.empty()) {
      append_half(out.bytes, packed_tokens.index_select(2, torch::tensor(side.outliers, torch::kLong)));
    }
    const Compressed packed = compress_packed(transform(packed_tokens, side), side);
    out.side_bytes = static_cast<int64_t>(out.bytes.size()) + packed.side_bytes;
    out.bytes.insert(out.bytes.end(), packed.bytes.begin(), packed.bytes.end());
    return out;
  }

  torch::Tensor decompress(const Compressed& data) const override {
    require_device(device_);
    const int64_t batch = data.shape[0], tokens = data.shape[1], dim = data.shape[2];
    const std::vector<int64_t> kept = kept_tokens(tokens);
    const int64_t packed_count = tokens - static_cast<int64_t>(kept.size());
    size_t position = 0;
    torch::Tensor kept_values = read_half(data.bytes, position, {batch, static_cast<int64_t>(kept.size()), dim});
    const Side side = shared_ ? *shared_ : read_side(data.bytes, position, dim);
    const int64_t outlier_count = static_cast<int64_t>(side.outliers.size());
    torch::Tensor outlier_values = read_half(data.bytes, position, {batch, packed_count, outlier_count});
    const int64_t inlier_count = dim - outlier_count;
    Compressed packed;
    packed.shape = {batch, packed_count, inlier_count};
    packed.side_bytes = data.side_bytes - static_cast<int64_t>(position);
    packed.bytes.assign(data.bytes.begin() + static_cast<std::ptrdiff_t>(position), data.bytes.end());
    torch::Tensor inliers = untransform(decompress_packed(packed, side), side);
    torch::Tensor packed_tokens = torch::empty({batch, packed_count, dim}, torch::kFloat32);
    if (side.outliers.empty()) {
      packed_tokens = inliers;
    } else {
      packed_tokens.index_copy_(2, complement_index(dim, side.outliers), inliers);
      packed_tokens.index_copy_(2, torch::tensor(side.outliers, torch::kLong), outlier_values);
    }
    if (kept.empty()) return packed_tokens;
    torch::Tensor out = torch::empty(data.shape, torch::kFloat32);
    out.index_copy_(1, complement_index(tokens, kept), packed_tokens);
    out.index_copy_(1, torch::tensor(kept, torch::kLong), kept_values);
    return out;
  }

 private:
  // Side information fitted on a tensor (or a dataset's calibration features): outlier
  // channels, rotation, channel order, per-channel value maps (fp16 pairs, or scales).
  struct Side {
    int64_t dim = 0;
    std::vector<int64_t> outliers;
    std::vector<uint16_t> matrix;  // pca
    uint32_t seed = 0;             // hadamard
    std::vector<int64_t> order;
    std::vector<uint16_t> ranges;  // per_channel maps: (low, high) per channel, or one scale per channel
  };

  bool half_format() const { return domain_ == ValueDomain::kHalf || domain_ == ValueDomain::kUnsignedHalf; }
  bool signed_domain() const { return domain_ == ValueDomain::kSnorm || domain_ == ValueDomain::kHalf; }
  const char* format_name() const { return format_->name; }
  TextureGeometry geometry(const std::vector<int64_t>& shape) const {
    return texture_geometry(shape, layout_, options_.tokens_hw, slots_, *format_);
  }
  bool shared_ranges() const {
    return options_.value_scale == "scale" || (options_.value_scale == "affine" && options_.value_map == "per_channel");
  }

  torch::Tensor pack_tokens(const torch::Tensor& features) const {
    const std::vector<int64_t> kept = kept_tokens(features.size(1));
    return kept.empty() ? features : features.index_select(1, complement_index(features.size(1), kept)).contiguous();
  }

  Side fit_side(const torch::Tensor& packed_tokens) const {
    Side side;
    side.dim = packed_tokens.size(2);
    side.outliers = widest_channels(packed_tokens, options_.outlier_channels);
    const torch::Tensor inliers =
        side.outliers.empty() ? packed_tokens
                              : packed_tokens.index_select(2, complement_index(side.dim, side.outliers)).contiguous();
    torch::Tensor rotated = inliers;
    if (options_.rotation == "pca") {
      side.matrix = pca_rotation(inliers);
      rotated = matrix_rotate(inliers, side.matrix, false);
    } else if (options_.rotation == "hadamard") {
      side.seed = 0x2545F491u;
      rotated = hadamard_rotate(inliers, side.seed, false);
    }
    torch::Tensor ordered = rotated;
    if (options_.channel_order == "variance") side.order = variance_order(rotated);
    if (options_.channel_order == "correlation") side.order = correlation_order(rotated);
    if (!side.order.empty()) ordered = rotated.index_select(2, torch::tensor(side.order, torch::kLong)).contiguous();
    if (shared_ranges()) side.ranges = value_map_.fit(ordered);
    return side;
  }

  std::vector<uint8_t> side_bytes_of(const Side& side) const {
    std::vector<uint8_t> bytes;
    for (int64_t channel : side.outliers) append_u16(bytes, static_cast<uint32_t>(channel));
    for (uint16_t bits : side.matrix) append_u16(bytes, bits);
    if (options_.rotation == "hadamard") {
      append_u16(bytes, side.seed & 0xffffu);
      append_u16(bytes, side.seed >> 16);
    }
    for (int64_t channel : side.order) append_u16(bytes, static_cast<uint32_t>(channel));
    for (uint16_t bits : side.ranges) append_u16(bytes, bits);
    return bytes;
  }

  Side read_side(const std::vector<uint8_t>& bytes, size_t& position, int64_t dim) const {
    Side side;
    side.dim = dim;
    for (int64_t k = 0; k < options_.outlier_channels; ++k) side.outliers.push_back(read_u16(bytes, position));
    const int64_t inliers = dim - options_.outlier_channels;
    if (options_.rotation == "pca") {
      for (int64_t k = 0; k < inliers * inliers; ++k) side.matrix.push_back(read_u16(bytes, position));
    } else if (options_.rotation == "hadamard") {
      side.seed = read_u16(bytes, position);
      side.seed |= static_cast<uint32_t>(read_u16(bytes, position)) << 16;
    }
    if (options_.channel_order != "identity") {
      for (int64_t k = 0; k < inliers; ++k) side.order.push_back(read_u16(bytes, position));
    }
    if (shared_ranges()) {
      const int64_t count = options_.value_scale == "scale" ? inliers : 2 * inliers;
      for (int64_t k = 0; k < count; ++k) side.ranges.push_back(read_u16(bytes, position));
    }
    return side;
  }

  torch::Tensor transform(const torch::Tensor& packed_tokens, const Side& side) const {
    torch::Tensor x = side.outliers.empty()
                          ? packed_tokens
                          : packed_tokens.index_select(2, complement_index(side.dim, side.outliers)).contiguous();
    if (!side.matrix.empty()) x = matrix_rotate(x, side.matrix, false);
    if (options_.rotation == "hadamard") x = hadamard_rotate(x, side.seed, false);
    if (!side.order.empty()) x = x.index_select(2, torch::tensor(side.order, torch::kLong)).contiguous();
    return x;
  }

  torch::Tensor untransform(torch::Tensor x, const Side& side) const {
    if (!side.order.empty()) {
      torch::Tensor unordered = torch::empty_like(x);
      unordered.index_copy_(2, torch::tensor(side.order, torch::kLong), x);
      x = unordered;
    }
    if (options_.rotation == "hadamard") x = hadamard_rotate(x, side.seed, true);
    if (!side.matrix.empty()) x = matrix_rotate(x, side.matrix, true);
    return x;
  }

  std::vector<int64_t> kept_tokens(int64_t tokens) const {
    std::vector<int64_t> kept(options_.keep_tokens.begin(), options_.keep_tokens.end());
    std::sort(kept.begin(), kept.end());
    for (size_t i = 0; i < kept.size(); ++i) {
      if (kept[i] < 0 || kept[i] >= tokens) throw_input_error("compression.keep_tokens has {} but N = {}", kept[i], tokens);
      if (i > 0 && kept[i] == kept[i - 1]) throw_input_error("compression.keep_tokens lists token {} twice", kept[i]);
    }
    if (static_cast<int64_t>(kept.size()) >= tokens) throw_input_error("compression.keep_tokens keeps every token");
    return kept;
  }

  std::vector<uint8_t> encode_texture(const std::vector<float>& pixels, int width, int height) const {
    return encode_image(*format_, encoder_, pixels.data(), width, height, 4, CodecSettings{quality_, profile_, 0});
  }
  std::vector<float> decode_texture(const uint8_t* blocks, int width, int height) const {
    return decode_image(*format_, decoder_, blocks, width, height, CodecSettings{quality_, profile_, 0});
  }

  Compressed compress_packed(const torch::Tensor& features, const Side& side) const {
    const TextureGeometry g = geometry(features.sizes().vec());
    const float* x = features.data_ptr<float>();
    const bool is_signed = signed_domain();
    if (domain_ == ValueDomain::kUnsignedHalf && options_.value_scale != "affine" &&
        features.min().item<float>() < 0.0f) {
      throw_input_error("{} stores no negative values: use value_scale affine (or bc6h_sf16) for these features",
                        format_name());
    }
    if (options_.value_scale == "direct" && features.abs().max().item<float>() > 65504.0f) {
      throw_input_error("value_scale direct: feature values exceed the half-float range (max |x| > 65504)");
    }
    const bool per_texture = options_.value_scale == "affine" && options_.value_map == "per_texture";
    Compressed out;
    out.shape = features.sizes().vec();
    std::vector<uint16_t> maps = per_texture ? value_map_.fit(features, true) : side.ranges;
    for (uint16_t bits : (per_texture ? maps : std::vector<uint16_t>{})) append_u16(out.bytes, bits);
    out.side_bytes = static_cast<int64_t>(out.bytes.size());
    const int stride = value_map_.stride();
    // Texels no token maps to (and channels beyond D) hold the domain's midpoint; BC1's
    // alpha is opaque.
    std::vector<float> fill(4, is_signed || half_format() ? 0.0f : 0.5f);
    if (slots_ == 3) fill[3] = 1.0f;
    const size_t texels = static_cast<size_t>(g.height) * g.width;
    std::vector<float> pixels(texels * 4);
    out.bytes.resize(out.bytes.size() + g.textures * g.texture_bytes);
    for (int64_t texture = 0; texture < g.textures; ++texture) {
      for (size_t i = 0; i < texels; ++i) std::copy(fill.begin(), fill.end(), pixels.begin() + 4 * i);
      for_each_texel(g, texture, [&](int64_t b, int64_t t, int64_t group, int64_t px, int64_t py) {
        for (int c = 0; c < slots_; ++c) {
          const int64_t d = group * slots_ + c;
          if (d >= g.dim) break;
          const int64_t r = per_texture ? b * g.dim + d : d;
          const uint16_t* map = maps.empty() ? nullptr : &maps[stride * r];
          pixels[(py * g.width + px) * 4 + c] = value_map_.to_domain(x[(b * g.tokens + t) * g.dim + d], map, is_signed);
        }
      });
      const std::vector<uint8_t> blocks = encode_texture(pixels, static_cast<int>(g.width), static_cast<int>(g.height));
      std::memcpy(&out.bytes[out.side_bytes + texture * g.texture_bytes], blocks.data(), blocks.size());
    }
    return out;
  }

  torch::Tensor decompress_packed(const Compressed& data, const Side& side) const {
    const TextureGeometry g = geometry(data.shape);
    const bool is_signed = signed_domain();
    const bool per_texture = options_.value_scale == "affine" && options_.value_map == "per_texture";
    const int stride = value_map_.stride();
    std::vector<uint16_t> maps = side.ranges;
    size_t position = 0;
    if (per_texture) {
      maps.clear();
      for (int64_t k = 0; k < 2 * g.batch * g.dim; ++k) maps.push_back(read_u16(data.bytes, position));
    }
    torch::Tensor out = torch::empty(data.shape, torch::kFloat32);
    float* y = out.data_ptr<float>();
    for (int64_t texture = 0; texture < g.textures; ++texture) {
      const std::vector<float> pixels = decode_texture(&data.bytes[position + texture * g.texture_bytes],
                                                       static_cast<int>(g.width), static_cast<int>(g.height));
      for_each_texel(g, texture, [&](int64_t b, int64_t t, int64_t group, int64_t px, int64_t py) {
        for (int c = 0; c < slots_; ++c) {
          const int64_t d = group * slots_ + c;
          if (d >= g.dim) break;
          const int64_t r = per_texture ? b * g.dim + d : d;
          const uint16_t* map = maps.empty() ? nullptr : &maps[stride * r];
          y[(b * g.tokens + t) * g.dim + d] = value_map_.from_domain(pixels[(py * g.width + px) * channels_ + c], map, is_signed);
        }
      });
    }
    return out;
  }

  TextureOptions options_;
  std::string device_;
  std::optional<Side> shared_;  // scope per_dataset, after fit()
  int64_t shared_bytes_ = 0;
  const FormatInfo* format_ = nullptr;
  Quality quality_ = Quality::kNormal;
  Profile profile_ = Profile::kLdr;
  Backend encoder_ = Backend::kCpu, decoder_ = Backend::kCpu;
  ValueDomain domain_ = ValueDomain::kUnorm;
  TextureLayout layout_ = TextureLayout::kSpatial;
  ValueMap value_map_;
  int channels_ = 4;  // channels the decoder returns
  int slots_ = 1;
};

}  // namespace

CompressorEntry texture_compressor_entry() {
  std::vector<std::vector<std::string>> variants;
  for (const char* format : {"bc1", "bc3", "bc4_unorm", "bc4_snorm", "bc5_snorm"}) {
    for (const char* map : {"per_channel", "per_texture"}) {
      for (const char* layout : {"spatial", "token_channel", "channel"}) {
        variants.push_back({"tokens_hw=[5, 7]", std::string("format=") + format, std::string("value_map=") + map,
                            std::string("layout=") + layout});
      }
    }
  }
  // Every decoded value stays inside the stored (fp16-widened) range, so the error is below
  // the range of the mapped group; the quality checks are in the texture tests.
  const ErrorBound bound{[](const CompressionOptions&) { return BoundScope::kTensor; },
                         [](const CompressionOptions&, double low, double high, double amax) {
                           return (amax > 0 ? 2.0 * amax : high - low) * 1.01 + 1e-6;
                         }};
  return {"texture", "features as block-compressed textures of any format of the table (BC1-BC7, ASTC)",
          keys_of<TextureOptions>(),
          [](const CompressionOptions& options) { return std::make_unique<TextureCompressor>(options); }, bound,
          variants};
}

}  // namespace bcfeat
