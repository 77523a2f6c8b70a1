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
#include <map>
#include <mutex>
#include <optional>
#include <tuple>

#include "bcfeat/framework/compressor.h"
#include "bcfeat/framework/error.h"
#include "bcfeat/kernels/codec.h"
#include "bcfeat/kernels/device_codec.h"
#include "bcfeat/kernels/feature_decode.h"
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
          "per_tensor = side information fitted on each tensor and stored in its stream (int: each group's min and step; "
          "texture: value maps, channel order, rotation); per_dataset = fitted once on the calibration split and stored "
          "once (shared_bytes; int: one fp16 min and step per channel, no groups)")
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
    // decoder runs where asked: the CUDA kernels (cuda) or the texture units (texture).
    if (device_ != "cpu") {
      encoder_ = format_->has_encoder(Backend::kCuda) ? Backend::kCuda : Backend::kCpu;
      decoder_ = device_ == "texture" ? Backend::kTexture : Backend::kCuda;
      if (!format_->has_decoder(decoder_)) {
        throw_input_error("compression.device {}: {}", device_, decoder_unavailable(*format_, decoder_));
      }
    }
  }

  // scope per_dataset: outlier channels, rotation, channel order and per-channel value maps
  // fitted once on calibration features and shared by every tensor compressed afterwards.
  void fit(const torch::Tensor& calibration) override {
    if (options_.scope != "per_dataset") return;
    shared_ = fit_side(pack_tokens(calibration));
    shared_bytes_ = static_cast<int64_t>(side_bytes_of(*shared_).size());
    std::lock_guard<std::mutex> lock(layouts_mutex_);
    state_ = DeviceState{};
  }

  int64_t shared_bytes() const override { return shared_ ? shared_bytes_ : 0; }
  std::vector<uint8_t> shared_state() const override { return shared_ ? side_bytes_of(*shared_) : std::vector<uint8_t>{}; }
  void load_shared_state(const std::vector<uint8_t>& bytes, int64_t dim) override {
    if (bytes.empty()) return;
    if (options_.scope != "per_dataset") throw_input_error("shared texture maps need compression.scope per_dataset");
    size_t at = 0;
    Side side = read_side(bytes, at, dim);
    if (at != bytes.size()) throw_input_error("{} bytes of shared texture maps where D = {} needs {}", bytes.size(), dim, at);
    side.dim = dim;
    shared_ = std::move(side);
    shared_bytes_ = static_cast<int64_t>(bytes.size());
    std::lock_guard<std::mutex> lock(layouts_mutex_);
    state_ = DeviceState{};
  }

  // Trainable: the per-channel value maps of scope per_dataset, [D, 2] = (low, high), where
  // the channels go straight into the textures (no rotation, order, outliers or kept tokens).
  std::optional<std::string> untrainable() const override {
    if (options_.scope != "per_dataset" || options_.value_scale != "affine" || options_.value_map != "per_channel") {
      return "texture trains its shared per-channel value maps: set compression.scope per_dataset, value_scale "
             "affine, value_map per_channel";
    }
    if (options_.rotation != "none" || options_.channel_order != "identity" || options_.outlier_channels > 0 ||
        !options_.keep_tokens.empty()) {
      return "texture trains its value maps on channels stored as they are: rotation none, channel_order identity, "
             "no outlier_channels or keep_tokens";
    }
    return std::nullopt;
  }

  std::vector<torch::Tensor> trainable_state() const override {
    if (!shared_ || untrainable()) return {};
    torch::Tensor ranges = torch::empty({static_cast<int64_t>(shared_->ranges.size())}, torch::kFloat32);
    for (size_t i = 0; i < shared_->ranges.size(); ++i) ranges[static_cast<int64_t>(i)] = half_bits_to_float(shared_->ranges[i]);
    return {ranges.reshape({-1, 2})};
  }

  void load_trainable_state(const std::vector<torch::Tensor>& state) override {
    if (!shared_ || untrainable()) throw std::logic_error("texture: no trainable state");
    if (state.size() != 1 || state[0].numel() != static_cast<int64_t>(shared_->ranges.size())) {
      throw std::logic_error("texture: trainable state of another shape");
    }
    const torch::Tensor values = state[0].detach().to(torch::kCPU, torch::kFloat32).contiguous();
    const float* v = values.data_ptr<float>();
    for (size_t i = 0; i < shared_->ranges.size(); ++i) {
      if (!std::isfinite(v[i]) || std::fabs(v[i]) > 65504.0f) throw_input_error("trained value map {} is outside the fp16 range", v[i]);
      shared_->ranges[i] = float_to_half_bits(v[i]);
    }
    std::lock_guard<std::mutex> lock(layouts_mutex_);
    state_ = DeviceState{};
  }

  // Straight-through with the decoded unit value ĥ held fixed (straight_through_map with scale
  // high − low, one level): d/dlow = u − ĥ and d/dhigh = ĥ − u inside the range, 1 − ĥ and ĥ
  // where x is clipped.
  torch::Tensor train_reconstruction(const torch::Tensor& features, const std::vector<torch::Tensor>& state,
                                     const std::string& gradient, double) const override {
    if (gradient != "ste") throw_input_error("compression.gradient soft: texture value maps train with ste only");
    const torch::Tensor low = state.at(0).select(1, 0), high = state[0].select(1, 1);
    return straight_through_map(features, decompress(compress(features)), low, high - low, 1.0);
  }

  std::optional<int64_t> stream_bytes(const std::vector<int64_t>& shape) const override {
    return stream_parts(shape).total();
  }

  // The CPU encoders and decoders use every hardware thread.
  std::string timing_device() const override {
    return timing_device_name(device_ == "texture" ? "cuda" : device_, "all threads") +
           (device_ == "texture" ? " (texture units)" : "");
  }

  // Tokens listed in keep_tokens (e.g. a CLS token) and the `outlier_channels` channels
  // with the widest range are stored as fp16 in front of the stream and left out of the
  // textures.
  Compressed compress_host(const torch::Tensor& features) const override {
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

  torch::Tensor decompress_host(const Compressed& data) const override {
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

  // ---- the device path: a CUDA tensor in, the stream on the GPU, the same bytes ----------

  Compressed compress_device(const torch::Tensor& features) const override {
    // A pca rotation is fitted and applied in double through LibTorch's matrix product, whose
    // rounding differs between CPU and GPU: those streams are made on the host.
    if (device_ == "cpu" || options_.rotation == "pca") return Compressor::compress_device(features);
    require_device(device_);
    const auto options = torch::TensorOptions().device(features.device());
    const std::vector<int64_t> kept = kept_tokens(features.size(1));
    const torch::Tensor packed_tokens = pack_tokens(features);
    if (shared_ && shared_->dim != features.size(2)) {
      throw_input_error("features have D = {} but the shared texture maps were fitted on D = {}", features.size(2),
                        shared_->dim);
    }
    const Side side = shared_ ? *shared_ : fit_side(packed_tokens);
    std::vector<torch::Tensor> pieces;
    int64_t side_bytes = 0;
    auto add = [&](const torch::Tensor& bytes, bool is_side) {
      pieces.push_back(bytes);
      if (is_side) side_bytes += bytes.numel();
    };
    if (!kept.empty()) add(half_bytes(features.index_select(1, torch::tensor(kept, options.dtype(torch::kLong)))), true);
    if (!shared_) add(host_bytes_on(side_bytes_of(side), features.device()), true);
    if (!side.outliers.empty()) {
      add(half_bytes(packed_tokens.index_select(2, torch::tensor(side.outliers, options.dtype(torch::kLong)))), true);
    }
    const torch::Tensor x = transform(packed_tokens, side);
    const TextureGeometry g = geometry(x.sizes().vec());
    check_packable(x);
    const bool per_texture = options_.value_scale == "affine" && options_.value_map == "per_texture";
    const std::vector<uint16_t> maps = per_texture ? value_map_.fit(x, true) : side.ranges;
    if (per_texture) {
      std::vector<uint8_t> stored;
      for (uint16_t bits : maps) append_u16(stored, bits);
      add(host_bytes_on(stored, features.device()), true);
    }
    const DeviceLayout& layout = device_layout(g);
    const torch::Tensor pixels = to_domain_on_device(x, maps, layout, g);  // [T][ph][pw][4]
    add(encode_on_device(pixels, g), false);
    Compressed out;
    out.shape = features.sizes().vec();
    out.side_bytes = side_bytes;
    out.device_bytes = pieces.size() == 1 ? pieces.front() : torch::cat(pieces);
    return out;
  }

  torch::Tensor decompress_device(const Compressed& data, torch::ScalarType dtype) const override {
    if (device_ == "cpu" || options_.rotation == "pca") return Compressor::decompress_device(data, dtype);
    require_device(device_);
    if (dtype != torch::kFloat32 && dtype != torch::kFloat16 && dtype != torch::kBFloat16) {
      throw_input_error("decompress: float32, float16 or bfloat16 only");
    }
    const torch::Tensor& stream = data.device_bytes;
    const auto options = torch::TensorOptions().device(stream.device());
    const int64_t batch = data.shape[0], tokens = data.shape[1], dim = data.shape[2];
    const std::vector<int64_t> kept = kept_tokens(tokens);
    const bool per_texture = options_.value_scale == "affine" && options_.value_map == "per_texture";
    const StreamParts parts = stream_parts(data.shape);
    const TextureGeometry& g = parts.geometry;
    const int64_t kept_count = static_cast<int64_t>(kept.size()), packed_count = g.tokens, outlier_count = dim - g.dim;
    int64_t position = 0;
    auto take = [&](int64_t bytes) {
      if (position + bytes > stream.numel()) {
        throw_input_error("the compressed stream ends at byte {} where more of it should follow", stream.numel());
      }
      const torch::Tensor piece = stream.narrow(0, position, bytes);
      position += bytes;
      return piece;
    };
    const torch::Tensor kept_bytes = take(parts.kept);
    const torch::Tensor side_bytes = take(parts.side);
    const torch::Tensor outlier_bytes = take(parts.outliers);
    const torch::Tensor map_bytes = take(parts.maps);
    const torch::Tensor blocks = take(parts.blocks);
    if (position != stream.numel()) {
      throw_input_error("the compressed stream holds {} bytes where {} were expected", stream.numel(), position);
    }
    // Fused, with nothing read back to the host: side information that is shared (on the GPU
    // once) or holds only the value maps, which the kernel reads from the stream.
    if (fused_decode(per_texture) &&
        (shared_ || (options_.outlier_channels == 0 && options_.channel_order == "identity"))) {
      return decode_fused(data, blocks, side_bytes, kept, kept_bytes, outlier_bytes, dtype);
    }
    Side side;
    if (shared_) {
      side = *shared_;
    } else {
      const torch::Tensor stored = side_bytes.to(torch::kCPU).contiguous();
      const std::vector<uint8_t> host(stored.data_ptr<uint8_t>(), stored.data_ptr<uint8_t>() + stored.numel());
      size_t at = 0;
      side = read_side(host, at, dim);
    }
    std::vector<uint16_t> maps = side.ranges;
    if (per_texture) {
      const torch::Tensor stored = map_bytes.to(torch::kCPU).contiguous();
      maps.assign(reinterpret_cast<const uint16_t*>(stored.data_ptr<uint8_t>()),
                  reinterpret_cast<const uint16_t*>(stored.data_ptr<uint8_t>()) + 2 * g.batch * g.dim);
    }
    const torch::Tensor kept_values = half_values(kept_bytes, {batch, kept_count, dim});
    const torch::Tensor outlier_values = half_values(outlier_bytes, {batch, packed_count, outlier_count});
    const DeviceLayout& layout = device_layout(g);
    const TextureStack stack{static_cast<int>(g.width), static_cast<int>(g.height), static_cast<int>(g.textures)};
    torch::Tensor texels = torch::empty({g.textures * layout.padded_height * layout.padded_width * channels_},
                                        options.dtype(torch::kFloat32));
    decode_textures_device(*format_, decoder_, blocks.data_ptr<uint8_t>(), stack, CodecSettings{quality_, profile_, 0},
                           texels.data_ptr<float>(), nullptr);
    const torch::Tensor inliers =
        untransform(from_domain_on_device(texels, maps, layout, g), side);  // [B, N', D']
    torch::Tensor packed_tokens = inliers;
    if (!side.outliers.empty()) {
      packed_tokens = torch::empty({batch, packed_count, dim}, options.dtype(torch::kFloat32));
      packed_tokens.index_copy_(2, complement_index(dim, side.outliers).to(stream.device()), inliers);
      packed_tokens.index_copy_(2, torch::tensor(side.outliers, options.dtype(torch::kLong)), outlier_values);
    }
    if (kept.empty()) return packed_tokens.to(dtype);
    torch::Tensor out = torch::empty(data.shape, options.dtype(torch::kFloat32));
    out.index_copy_(1, complement_index(tokens, kept).to(stream.device()), packed_tokens);
    out.index_copy_(1, torch::tensor(kept, options.dtype(torch::kLong)), kept_values);
    return out.to(dtype);
  }

  // The spatial layout of the BC formats decodes in one pass straight into the output tensor
  // (kernels/feature_decode.h): value maps, channel order, outlier and kept-token placement
  // folded into the kernel's stores. Rotations and per-texture maps take the general path.
  bool fused_decode(bool per_texture) const {
    return layout_ == TextureLayout::kSpatial && !per_texture && options_.rotation == "none" &&
           spatial_feature_decode_supported(*format_, decoder_);
  }

  // What the fused decode keeps on the GPU between calls: the shared maps and channel
  // placement (fitted once), the output token of each packed token.
  struct DeviceState {
    torch::Tensor shared_maps;  // uint16: the shared side's value maps
    torch::Tensor channel_out;  // int32 [D']: shared outliers and order folded in
    torch::Tensor token_out;    // int32 [N']: tokens other than the kept ones
    torch::Tensor kept_index;   // int64: the kept tokens
    torch::Tensor outlier_index;  // int64: the shared outlier channels
    int64_t tokens = -1, dim = -1;
  };

  const DeviceState& device_state(int64_t tokens, int64_t dim, const torch::Device& device) const {
    std::lock_guard<std::mutex> lock(layouts_mutex_);
    if (state_.tokens == tokens && state_.dim == dim) return state_;
    DeviceState state;
    state.tokens = tokens;
    state.dim = dim;
    const std::vector<int64_t> kept = kept_tokens(tokens);
    std::vector<int32_t> token_out;
    for (int64_t t = 0; t < tokens; ++t) {
      if (!std::binary_search(kept.begin(), kept.end(), t)) token_out.push_back(static_cast<int32_t>(t));
    }
    state.token_out = torch::tensor(token_out, torch::kInt32).to(device);
    state.kept_index = torch::tensor(kept, torch::kLong).to(device);
    if (shared_) {
      std::vector<int64_t> inliers;
      for (int64_t d = 0; d < dim; ++d) {
        if (!std::binary_search(shared_->outliers.begin(), shared_->outliers.end(), d)) inliers.push_back(d);
      }
      std::vector<int32_t> channel_out(inliers.size());
      for (size_t k = 0; k < inliers.size(); ++k) {
        channel_out[k] = static_cast<int32_t>(inliers[shared_->order.empty() ? k : shared_->order[k]]);
      }
      state.channel_out = torch::tensor(channel_out, torch::kInt32).to(device);
      state.outlier_index = torch::tensor(shared_->outliers, torch::kLong).to(device);
      std::vector<int32_t> words(shared_->ranges.begin(), shared_->ranges.end());
      state.shared_maps = torch::tensor(words, torch::kInt32).to(torch::kInt16).to(device);
    }
    state_ = std::move(state);
    return state_;
  }

  torch::Tensor decode_fused(const Compressed& data, const torch::Tensor& blocks, const torch::Tensor& side_bytes,
                             const std::vector<int64_t>& kept, const torch::Tensor& kept_bytes,
                             const torch::Tensor& outlier_bytes, torch::ScalarType dtype) const {
    const torch::Device device = blocks.device();
    const int64_t batch = data.shape[0], tokens = data.shape[1], dim = data.shape[2];
    const DeviceState& state = device_state(tokens, dim, device);
    const bool channels_moved = shared_ && (!shared_->outliers.empty() || !shared_->order.empty());
    const int64_t outlier_count = shared_ ? static_cast<int64_t>(shared_->outliers.size()) : 0;
    const TextureGeometry g = geometry({batch, tokens - static_cast<int64_t>(kept.size()), dim - outlier_count});
    torch::Tensor out = torch::empty(data.shape, torch::TensorOptions().device(device).dtype(dtype));
    SpatialFeatureDecode p;
    p.format = format_;
    p.profile = profile_;
    p.batch = static_cast<int>(g.batch);
    p.grid_h = static_cast<int>(g.grid_h);
    p.grid_w = static_cast<int>(g.grid_w);
    p.dim = static_cast<int>(g.dim);
    p.slots = slots_;
    p.map = value_map_.scale == ValueScale::kDirect ? MapKind::kDirect
            : value_map_.scale == ValueScale::kScale ? MapKind::kScale
                                                     : MapKind::kAffine;
    p.is_signed = signed_domain();
    // Unshared maps are the whole side region of the stream (no outliers, order or rotation).
    p.maps = shared_ ? reinterpret_cast<const uint16_t*>(state.shared_maps.data_ptr<int16_t>())
                     : reinterpret_cast<const uint16_t*>(side_bytes.data_ptr<uint8_t>());
    p.channel_out = channels_moved ? state.channel_out.data_ptr<int32_t>() : nullptr;
    p.token_out = kept.empty() ? nullptr : state.token_out.data_ptr<int32_t>();
    p.out_tokens = static_cast<int>(tokens);
    p.out_dim = static_cast<int>(dim);
    p.out_type = dtype == torch::kFloat16 ? ElementType::kFloat16
                 : dtype == torch::kBFloat16 ? ElementType::kBFloat16
                                             : ElementType::kFloat32;
    p.out = out.data_ptr();
    decode_spatial_features(p, decoder_, blocks.data_ptr<uint8_t>(), nullptr);
    if (outlier_count > 0) {
      const torch::Tensor token_index = state.token_out.to(torch::kLong);
      const torch::Tensor values = half_values(outlier_bytes, {batch, g.tokens, outlier_count}).to(dtype);
      const torch::Tensor packed = out.index_select(1, token_index);
      packed.index_copy_(2, state.outlier_index, values);
      out.index_copy_(1, token_index, packed);
    }
    if (!kept.empty()) {
      const int64_t kept_count = static_cast<int64_t>(kept.size());
      out.index_copy_(1, state.kept_index, half_values(kept_bytes, {batch, kept_count, dim}).to(dtype));
    }
    return out;
  }

 private:
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
    if (kept.empty()) return features;
    return features.index_select(1, on(complement_index(features.size(1), kept), features)).contiguous();
  }

  Side fit_side(const torch::Tensor& packed_tokens) const {
    Side side;
    side.dim = packed_tokens.size(2);
    side.outliers = widest_channels(packed_tokens, options_.outlier_channels);
    const torch::Tensor inliers =
        side.outliers.empty()
            ? packed_tokens
            : packed_tokens.index_select(2, on(complement_index(side.dim, side.outliers), packed_tokens)).contiguous();
    torch::Tensor rotated = inliers;
    if (options_.rotation == "pca") {
      side.matrix = pca_rotation(inliers);
      rotated = matrix_rotate(inliers, side.matrix, false);
    } else if (options_.rotation == "hadamard") {
      side.seed = 0x2545F491u;
      rotated = hadamard_rotate(inliers, side.seed, false);
    }
    // Channel orders come from reductions whose rounding depends on the device: they are fitted
    // on a host copy, so that every device stores the same permutation.
    torch::Tensor ordered = rotated;
    if (options_.channel_order == "variance") side.order = variance_order(rotated.to(torch::kCPU));
    if (options_.channel_order == "correlation") side.order = correlation_order(rotated.to(torch::kCPU));
    if (!side.order.empty()) ordered = rotated.index_select(2, index_on(side.order, rotated)).contiguous();
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

  // Outliers out, rotation, channel order: on the device the tensor is on.
  torch::Tensor transform(const torch::Tensor& packed_tokens, const Side& side) const {
    torch::Tensor x =
        side.outliers.empty()
            ? packed_tokens
            : packed_tokens.index_select(2, on(complement_index(side.dim, side.outliers), packed_tokens)).contiguous();
    if (!side.matrix.empty()) x = matrix_rotate(x, side.matrix, false);
    if (options_.rotation == "hadamard") x = hadamard_rotate(x, side.seed, false);
    if (!side.order.empty()) x = x.index_select(2, index_on(side.order, x)).contiguous();
    return x;
  }

  torch::Tensor untransform(torch::Tensor x, const Side& side) const {
    if (!side.order.empty()) {
      torch::Tensor unordered = torch::empty_like(x);
      unordered.index_copy_(2, index_on(side.order, x), x);
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

  // Values the format's domain cannot take without a map (any device).
  void check_packable(const torch::Tensor& features) const {
    if (domain_ == ValueDomain::kUnsignedHalf && options_.value_scale != "affine" &&
        features.min().item<float>() < 0.0f) {
      throw_input_error("{} stores no negative values: use value_scale affine (or bc6h_sf16) for these features",
                        format_name());
    }
    if (options_.value_scale == "direct" && features.abs().max().item<float>() > 65504.0f) {
      throw_input_error("value_scale direct: feature values exceed the half-float range (max |x| > 65504)");
    }
  }

  // An index list as a tensor on `like`'s device.
  static torch::Tensor index_on(const std::vector<int64_t>& index, const torch::Tensor& like) {
    return torch::tensor(index, torch::TensorOptions().dtype(torch::kLong)).to(like.device());
  }
  static torch::Tensor on(const torch::Tensor& index, const torch::Tensor& like) { return index.to(like.device()); }

  // ---- device helpers -------------------------------------------------------------------

  // fp16 values as the stream's bytes (little endian, as append_half writes them).
  static torch::Tensor half_bytes(const torch::Tensor& values) {
    if (values.numel() > 0) {
      const torch::Tensor beyond = values.abs() > 65504.0f;
      if (beyond.any().item<bool>()) {
        throw_input_error("feature value {} exceeds the fp16 range", values.masked_select(beyond)[0].item<float>());
      }
    }
    return values.to(torch::kHalf).contiguous().view(torch::kUInt8).reshape({-1});
  }
  static torch::Tensor half_values(const torch::Tensor& bytes, const std::vector<int64_t>& shape) {
    return bytes.clone().view(torch::kHalf).reshape(shape).to(torch::kFloat32);
  }
  static torch::Tensor host_bytes_on(const std::vector<uint8_t>& bytes, const torch::Device& device) {
    return torch::from_blob(const_cast<uint8_t*>(bytes.data()), {static_cast<int64_t>(bytes.size())}, torch::kUInt8)
        .clone()
        .to(device);
  }

  // The stream's parts for a tensor of `shape`, located from the options and the shape alone.
  struct StreamParts {
    TextureGeometry geometry;
    int64_t kept = 0, side = 0, outliers = 0, maps = 0, blocks = 0;
    int64_t total() const { return kept + side + outliers + maps + blocks; }
  };
  StreamParts stream_parts(const std::vector<int64_t>& shape) const {
    const int64_t batch = shape.at(0), tokens = shape.at(1), dim = shape.at(2);
    const int64_t kept_count = static_cast<int64_t>(kept_tokens(tokens).size()), packed_count = tokens - kept_count;
    const bool per_texture = options_.value_scale == "affine" && options_.value_map == "per_texture";
    const int64_t outlier_count = shared_ ? static_cast<int64_t>(shared_->outliers.size()) : options_.outlier_channels;
    StreamParts parts{geometry({batch, packed_count, dim - outlier_count})};
    const TextureGeometry& g = parts.geometry;
    parts.kept = 2 * batch * kept_count * dim;
    parts.side = shared_ ? 0 : side_length(dim);
    parts.outliers = 2 * batch * packed_count * outlier_count;
    parts.maps = per_texture ? 4 * g.batch * g.dim : 0;
    parts.blocks = g.textures * g.texture_bytes;
    return parts;
  }

  // Bytes of the side information a stream holds for D = dim (as side_bytes_of writes it).
  int64_t side_length(int64_t dim) const {
    const int64_t inliers = dim - options_.outlier_channels;
    int64_t words = options_.outlier_channels;
    if (options_.rotation == "pca") words += inliers * inliers;
    if (options_.rotation == "hadamard") words += 2;
    if (options_.channel_order != "identity") words += inliers;
    if (shared_ranges()) words += options_.value_scale == "scale" ? inliers : 2 * inliers;
    return 2 * words;
  }

  // Where each texel channel of the textures comes from, and where each value goes back to,
  // for one tensor shape: index tensors on the GPU, made once per shape.
  struct DeviceLayout {
    int64_t padded_width = 0, padded_height = 0;
    torch::Tensor pack_source;   // [T·ph·pw·4] element of the flattened [B, N, D'] tensor, or -1 (fill)
    torch::Tensor pack_row;      // [T·ph·pw·4] its value map, or -1
    torch::Tensor unpack_texel;  // [B·N·D'] the decoded texel channel ([T][ph][pw][channels]) it reads
    torch::Tensor unpack_row;    // [B·N·D'] its value map
  };

  const DeviceLayout& device_layout(const TextureGeometry& g) const {
    const std::vector<int64_t> key{g.batch, g.tokens, g.dim};
    std::lock_guard<std::mutex> lock(layouts_mutex_);
    auto it = layouts_.find(key);
    if (it != layouts_.end()) return it->second;
    const bool per_texture = options_.value_scale == "affine" && options_.value_map == "per_texture";
    const BlockGrid grid = block_grid(*format_, static_cast<int>(g.width), static_cast<int>(g.height));
    DeviceLayout layout;
    layout.padded_width = static_cast<int64_t>(grid.blocks_x) * format_->block_width;
    layout.padded_height = static_cast<int64_t>(grid.blocks_y) * format_->block_height;
    const int64_t pw = layout.padded_width, ph = layout.padded_height, texture_texels = g.width * g.height;
    std::vector<int64_t> source(static_cast<size_t>(g.textures * texture_texels * 4), -1);
    std::vector<int64_t> row(source.size(), -1);
    const int64_t values = g.batch * g.tokens * g.dim;
    std::vector<int64_t> unpack_texel(static_cast<size_t>(values)), unpack_row(static_cast<size_t>(values));
    for (int64_t texture = 0; texture < g.textures; ++texture) {
      for_each_texel(g, texture, [&](int64_t b, int64_t t, int64_t group, int64_t px, int64_t py) {
        for (int c = 0; c < slots_; ++c) {
          const int64_t d = group * slots_ + c;
          if (d >= g.dim) break;
          const int64_t element = (b * g.tokens + t) * g.dim + d, map = per_texture ? b * g.dim + d : d;
          const size_t at = static_cast<size_t>(((texture * g.height + py) * g.width + px) * 4 + c);
          source[at] = element;
          row[at] = map;
          unpack_texel[element] = ((texture * ph + py) * pw + px) * channels_ + c;
          unpack_row[element] = map;
        }
      });
    }
    // Padding texels repeat the texture's last column and row, as the CPU encoders pad.
    std::vector<int64_t> pack_source(static_cast<size_t>(g.textures * ph * pw * 4)), pack_row(pack_source.size());
    for (int64_t texture = 0; texture < g.textures; ++texture) {
      for (int64_t y = 0; y < ph; ++y) {
        for (int64_t x = 0; x < pw; ++x) {
          const int64_t sy = std::min(y, g.height - 1), sx = std::min(x, g.width - 1);
          for (int c = 0; c < 4; ++c) {
            const size_t to = static_cast<size_t>(((texture * ph + y) * pw + x) * 4 + c);
            const size_t from = static_cast<size_t>(((texture * g.height + sy) * g.width + sx) * 4 + c);
            pack_source[to] = source[from];
            pack_row[to] = row[from];
          }
        }
      }
    }
    const torch::Device device(torch::kCUDA);
    layout.pack_source = torch::tensor(pack_source, torch::kLong).to(device);
    layout.pack_row = torch::tensor(pack_row, torch::kLong).to(device);
    layout.unpack_texel = torch::tensor(unpack_texel, torch::kLong).to(device);
    layout.unpack_row = torch::tensor(unpack_row, torch::kLong).to(device);
    return layouts_.emplace(key, std::move(layout)).first->second;
  }

  // The maps as float tensors on the GPU: (low, high) per map row, or one scale.
  std::pair<torch::Tensor, torch::Tensor> map_tensors(const std::vector<uint16_t>& maps) const {
    const int stride = value_map_.stride();
    const int64_t rows = static_cast<int64_t>(maps.size()) / stride;
    std::vector<float> first(static_cast<size_t>(rows)), second(static_cast<size_t>(rows), 0.0f);
    for (int64_t r = 0; r < rows; ++r) {
      first[r] = half_bits_to_float(maps[stride * r]);
      if (stride == 2) second[r] = half_bits_to_float(maps[stride * r + 1]);
    }
    const torch::Device device(torch::kCUDA);
    return {torch::tensor(first, torch::kFloat32).to(device), torch::tensor(second, torch::kFloat32).to(device)};
  }

  // The textures' texels [T][ph][pw][4] from the transformed tensor, mapped into the domain
  // with exactly the float operations of ValueMap::to_domain.
  torch::Tensor to_domain_on_device(const torch::Tensor& x, const std::vector<uint16_t>& maps,
                                    const DeviceLayout& layout, const TextureGeometry&) const {
    const torch::Tensor valid = layout.pack_source >= 0;
    torch::Tensor v = x.reshape({-1}).index_select(0, layout.pack_source.clamp_min(0));
    const bool is_signed = signed_domain();
    if (value_map_.scale != ValueScale::kDirect) {
      const auto [first, second] = map_tensors(maps);
      const torch::Tensor rows = layout.pack_row.clamp_min(0);
      if (value_map_.scale == ValueScale::kScale) {
        const torch::Tensor scale = first.index_select(0, rows);
        v = torch::where(scale > 0.0f, v / scale, torch::zeros_like(v)).clamp(is_signed ? -1.0f : 0.0f, 1.0f);
      } else {
        const torch::Tensor low = first.index_select(0, rows), high = second.index_select(0, rows);
        const torch::Tensor span = high - low;
        torch::Tensor unit = torch::where(span > 0.0f, (v - low) / span, torch::zeros_like(v)).clamp(0.0f, 1.0f);
        v = is_signed ? unit * 2.0f - 1.0f : unit;
      }
    }
    std::vector<float> fill(4, is_signed || half_format() ? 0.0f : 0.5f);
    if (slots_ == 3) fill[3] = 1.0f;
    const torch::Tensor fills =
        torch::tensor(fill, torch::kFloat32).to(v.device()).repeat({layout.pack_source.numel() / 4});
    return torch::where(valid, v, fills);
  }

  // The transformed tensor [B, N', D'] back from decoded texels, with exactly the float
  // operations of ValueMap::from_domain.
  torch::Tensor from_domain_on_device(const torch::Tensor& texels, const std::vector<uint16_t>& maps,
                                      const DeviceLayout& layout, const TextureGeometry& g) const {
    torch::Tensor t = texels.index_select(0, layout.unpack_texel);
    if (value_map_.scale == ValueScale::kScale) {
      t = t * map_tensors(maps).first.index_select(0, layout.unpack_row);
    } else if (value_map_.scale == ValueScale::kAffine) {
      const auto [first, second] = map_tensors(maps);
      const torch::Tensor low = first.index_select(0, layout.unpack_row), high = second.index_select(0, layout.unpack_row);
      const torch::Tensor unit = signed_domain() ? (t + 1.0f) * 0.5f : t;
      t = low + unit * (high - low);
    }
    return t.reshape({g.batch, g.tokens, g.dim});
  }

  // The blocks of every texture, on the GPU; formats without a CUDA encoder encode on the
  // CPU texture by texture, as the host path does.
  torch::Tensor encode_on_device(const torch::Tensor& pixels, const TextureGeometry& g) const {
    const CodecSettings settings{quality_, profile_, 0};
    const TextureStack stack{static_cast<int>(g.width), static_cast<int>(g.height), static_cast<int>(g.textures)};
    if (encoder_ == Backend::kCuda) {
      torch::Tensor blocks = torch::empty({g.textures * g.texture_bytes}, pixels.options().dtype(torch::kUInt8));
      encode_textures_device(*format_, pixels.data_ptr<float>(), stack, settings, blocks.data_ptr<uint8_t>(), nullptr);
      return blocks;
    }
    const int64_t pw = stack.padded_width(*format_), ph = stack.padded_height(*format_);
    // Textures of whole blocks are encoded as one tall image (blocks are encoded one by one,
    // so they come out the same); others one by one, with the encoder's own padding.
    if (pw == g.width && ph == g.height) {
      const torch::Tensor host = pixels.to(torch::kCPU).contiguous();
      return host_bytes_on(encode_image(*format_, Backend::kCpu, host.data_ptr<float>(), static_cast<int>(pw),
                                        static_cast<int>(ph * g.textures), 4, settings),
                           pixels.device());
    }
    const torch::Tensor host =
        pixels.view({g.textures, ph, pw, 4}).narrow(1, 0, g.height).narrow(2, 0, g.width).contiguous().to(torch::kCPU);
    std::vector<uint8_t> blocks(static_cast<size_t>(g.textures * g.texture_bytes));
    for (int64_t texture = 0; texture < g.textures; ++texture) {
      const std::vector<uint8_t> encoded =
          encode_image(*format_, Backend::kCpu, host[texture].data_ptr<float>(), static_cast<int>(g.width),
                       static_cast<int>(g.height), 4, settings);
      std::memcpy(&blocks[texture * g.texture_bytes], encoded.data(), encoded.size());
    }
    return host_bytes_on(blocks, pixels.device());
  }

  Compressed compress_packed(const torch::Tensor& features, const Side& side) const {
    const TextureGeometry g = geometry(features.sizes().vec());
    const float* x = features.data_ptr<float>();
    const bool is_signed = signed_domain();
    check_packable(features);
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
    if (data.bytes.size() != position + static_cast<size_t>(g.textures * g.texture_bytes)) {
      throw_input_error("the texture stream holds {} bytes of blocks where {} textures of {} bytes need {}",
                        data.bytes.size() - std::min(position, data.bytes.size()), g.textures, g.texture_bytes,
                        g.textures * g.texture_bytes);
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
  mutable std::mutex layouts_mutex_;
  mutable std::map<std::vector<int64_t>, DeviceLayout> layouts_;  // device index tensors by shape
  mutable DeviceState state_;                                      // the fused decode's tensors
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
