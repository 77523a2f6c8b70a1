// Scalar baselines: fp16, bf16, asymmetric integer group quantization, scaled FP8 — the
// framework side of kernels/scalar_codec.h (which has the codecs, on the CPU and CUDA with
// identical bytes; `compression.device` picks one). Summary of the streams:
//
// Groups. With axis `token` a group is `group_size` consecutive channels of one token
// (per-token quantization, as for activations); with axis `channel` it is `group_size`
// consecutive tokens of one channel (per-channel, as KIVI does for keys). group_size 0
// means the whole axis. The last group of an axis may be shorter; nothing is padded.
//
// Integer codes (bits b, L = 2^b − 1 levels): each group stores its minimum m and step s
// as fp16, rounded so that [m, m + L·s] still covers the group (m rounded toward −inf,
// s toward +inf), then q = clamp(round((x − m)/s), 0, L) and x̂ = m + q·s with the stored
// m and s — the decoder sees exactly what the encoder used. Codes are packed LSB-first.
// Stream: [fp16 m, fp16 s] per group, then the packed codes. With scope per_dataset, after
// fit(), one (m, s) per channel from the calibration features is shared state (counted once)
// and the stream holds only the packed codes, values outside [m, m + L·s] clipped.
//
// FP8 codes: each group stores one fp16 scale a = amax / max_finite (rounded up);
// q = fp8(x / a) with saturation, x̂ = fp8⁻¹(q)·a. Stream: fp16 scales, then one byte per value.
#include <cmath>
#include <cstring>

#include "bcfeat/framework/compressor.h"
#include "bcfeat/framework/error.h"
#include "bcfeat/kernels/device_codec.h"
#include "bcfeat/kernels/float_formats.h"
#include "bcfeat/kernels/scalar_codec.h"

namespace bcfeat {

namespace {

// The first value whose magnitude exceeds `limit`, as an input error naming `what`.
void check_magnitude(const torch::Tensor& features, float limit, const char* what) {
  const torch::Tensor beyond = features.abs() > limit;
  if (!beyond.any().item<bool>()) return;
  const float value = features.masked_select(beyond)[0].item<float>();
  throw_input_error("feature value {} exceeds the fp16 range, so its {} cannot be stored in fp16", value, what);
}

// Keys of the integer and FP8 group quantizers (groups as in the summary above).
struct GroupOptions {
  int group_size = 128;
  std::string axis = "token";
  template <class Keys>
  void keys(Keys& k) {
    k.add("group_size", group_size, "values sharing one scale (0 = the whole axis)").range(0, 1 << 30);
    k.add("axis", axis, "groups run along a token's channels or a channel's tokens").one_of({"token", "channel"});
  }
};

struct IntOptions : GroupOptions {
  int bits = 8;
  std::string scope = "per_tensor";
  template <class Keys>
  void keys(Keys& k) {
    k.add("bits", bits, "bits per code").range(2, 8);
    GroupOptions::keys(k);
    k.add("scope", scope,
          "per_tensor = side information fitted on each tensor and stored in its stream (int: each group's min and step; "
          "texture: value maps, channel order, rotation); per_dataset = fitted once on the calibration split and stored "
          "once (shared_bytes; int: one fp16 min and step per channel, no groups)")
        .one_of({"per_tensor", "per_dataset"});
  }
};

struct Fp8Options : GroupOptions {
  std::string fp8_format = "e4m3";
  template <class Keys>
  void keys(Keys& k) {
    GroupOptions::keys(k);
    k.add("fp8_format", fp8_format, "OCP FP8 variant").one_of({"e4m3", "e5m2"});
  }
};

// Encodes and decodes on the device asked for, which is checked when the compressor runs.
struct Device {
  explicit Device(const std::string& name) : name(name) {
    if (name == "texture") {
      throw_input_error("compression.device texture decodes block formats in the texture units (method texture); "
                        "use cuda for this compressor");
    }
  }
  bool cuda() const {
    require_device(name);
    return name == "cuda";
  }
  std::string name;
};

int64_t value_count(const std::vector<int64_t>& shape) {
  int64_t count = 1;
  for (int64_t size : shape) count *= size;
  return count;
}

torch::Tensor device_bytes_for(const torch::Tensor& features, int64_t bytes) {
  return torch::empty({bytes}, features.options().dtype(torch::kUInt8));
}

torch::Tensor device_values_for(const Compressed& data) {
  return torch::empty(data.shape, data.device_bytes.options().dtype(torch::kFloat32));
}

torch::Tensor to_tensor(const std::vector<float>& values, const std::vector<int64_t>& shape) {
  torch::Tensor out = torch::empty(shape, torch::kFloat32);
  std::memcpy(out.data_ptr<float>(), values.data(), values.size() * sizeof(float));
  return out;
}

GroupGeometry geometry_of(const std::vector<int64_t>& shape, const GroupOptions& options) {
  return group_geometry(shape[0], shape[1], shape[2], options.axis == "channel", options.group_size);
}

class HalfCompressor : public Compressor {
 public:
  HalfCompressor(const CompressionOptions& options, bool bfloat) : device_(options.device), bfloat_(bfloat) {}
  Compressed compress_host(const torch::Tensor& features) const override {
    if (!bfloat_) check_magnitude(features, 65504.0f, "fp16 code");
    const float* x = features.data_ptr<float>();
    const int64_t count = features.numel();
    return {device_.cuda() ? half_encode_cuda(x, count, bfloat_) : half_encode_cpu(x, count, bfloat_), 0,
            features.sizes().vec()};
  }
  torch::Tensor decompress_host(const Compressed& data) const override {
    const int64_t count = value_count(data.shape);
    check_stream_size(data, 2 * count);
    return to_tensor(device_.cuda() ? half_decode_cuda(data.bytes.data(), count, bfloat_)
                                    : half_decode_cpu(data.bytes.data(), count, bfloat_),
                     data.shape);
  }
  std::string timing_device() const override { return timing_device_name(device_.name, "1 thread"); }
  std::optional<int64_t> stream_bytes(const std::vector<int64_t>& shape) const override {
    return 2 * value_count(shape);
  }

 protected:
  Compressed compress_device(const torch::Tensor& features) const override {
    if (!device_.cuda()) return Compressor::compress_device(features);
    if (!bfloat_) check_magnitude(features, 65504.0f, "fp16 code");
    torch::Tensor out = device_bytes_for(features, 2 * features.numel());
    half_encode_device(features.data_ptr<float>(), features.numel(), bfloat_, out.data_ptr<uint8_t>(), nullptr);
    return {{}, 0, features.sizes().vec(), out};
  }
  torch::Tensor decompress_device(const Compressed& data, torch::ScalarType dtype) const override {
    if (!device_.cuda()) return Compressor::decompress_device(data, dtype);
    const int64_t count = value_count(data.shape);
    check_stream_size(data, 2 * count);
    // Into its own type the stream is the tensor: a copy, no arithmetic.
    if (dtype == (bfloat_ ? torch::kBFloat16 : torch::kFloat16)) {
      return data.device_bytes.view(dtype).reshape(data.shape).clone();
    }
    torch::Tensor y = device_values_for(data);
    half_decode_device(data.device_bytes.data_ptr<uint8_t>(), count, bfloat_, y.data_ptr<float>(), nullptr);
    return y.to(dtype);
  }

 private:
  Device device_;
  bool bfloat_;
};

class IntCompressor : public Compressor {
 public:
  explicit IntCompressor(const CompressionOptions& options)
      : options_(read_options<IntOptions>(options)), device_(options.device) {}

  // scope per_dataset: per channel, the fp16 minimum m (rounded toward −inf) and step s
  // (toward +inf) of the calibration features, so [m, m + L·s] covers them; every tensor's
  // values are then coded against them (clipped outside), with no side information in its
  // stream.
  void fit(const torch::Tensor& calibration) override {
    if (options_.scope != "per_dataset") return;
    check_magnitude(calibration, 65504.0f, "channel minimum or maximum");
    const torch::Tensor flat = calibration.reshape({-1, calibration.size(2)});
    const torch::Tensor low = std::get<0>(flat.min(0)).contiguous(), high = std::get<0>(flat.max(0)).contiguous();
    const float levels = static_cast<float>((1 << options_.bits) - 1);
    maps_.clear();
    for (int64_t c = 0; c < calibration.size(2); ++c) {
      const uint16_t m = half_bits_toward(low[c].item<float>(), false);
      const float step = (high[c].item<float>() - half_bits_to_float(m)) / levels;
      maps_.push_back(m);
      maps_.push_back(half_bits_toward(step, true));
    }
    dim_ = calibration.size(2);
  }
  int64_t shared_bytes() const override { return 2 * static_cast<int64_t>(maps_.size()); }
  std::vector<uint8_t> shared_state() const override {
    std::vector<uint8_t> bytes;
    for (uint16_t bits : maps_) {
      bytes.push_back(static_cast<uint8_t>(bits & 0xff));
      bytes.push_back(static_cast<uint8_t>(bits >> 8));
    }
    return bytes;
  }
  void load_shared_state(const std::vector<uint8_t>& bytes, int64_t dim) override {
    if (bytes.empty()) return;
    if (options_.scope != "per_dataset") throw_input_error("shared int maps need compression.scope per_dataset");
    if (static_cast<int64_t>(bytes.size()) != 4 * dim) {
      throw_input_error("{} bytes of shared int maps where D = {} needs {}", bytes.size(), dim, 4 * dim);
    }
    maps_.resize(bytes.size() / 2);
    for (size_t i = 0; i < maps_.size(); ++i) maps_[i] = static_cast<uint16_t>(bytes[2 * i] | (bytes[2 * i + 1] << 8));
    dim_ = dim;
  }

  std::optional<std::string> untrainable() const override {
    if (options_.scope == "per_dataset") return std::nullopt;
    return "int trains its shared per-channel maps: set compression.scope per_dataset";
  }
  std::vector<torch::Tensor> trainable_state() const override {
    if (maps_.empty()) return {};
    torch::Tensor maps = torch::empty({static_cast<int64_t>(maps_.size())}, torch::kFloat32);
    for (size_t i = 0; i < maps_.size(); ++i) maps[static_cast<int64_t>(i)] = half_bits_to_float(maps_[i]);
    return {maps.reshape({-1, 2})};
  }
  // (min, step) rounded to fp16; a negative step is stored as 0.
  void load_trainable_state(const std::vector<torch::Tensor>& state) override {
    if (maps_.empty() || state.size() != 1 || state[0].numel() != static_cast<int64_t>(maps_.size())) {
      throw std::logic_error("int: trainable state of another shape, or nothing fitted");
    }
    const torch::Tensor values = state[0].detach().to(torch::kCPU, torch::kFloat32).contiguous();
    const float* v = values.data_ptr<float>();
    for (size_t i = 0; i < maps_.size(); ++i) {
      if (!std::isfinite(v[i]) || std::fabs(v[i]) > 65504.0f) throw_input_error("trained int map {} is outside the fp16 range", v[i]);
      maps_[i] = float_to_half_bits(i % 2 == 1 ? std::max(v[i], 0.0f) : v[i]);
    }
  }
  // Straight-through with the decoded code q held fixed (straight_through_map over the L
  // levels): d/dm = 0 and d/ds = q − u inside the range, 1 and q where x was clipped.
  torch::Tensor train_reconstruction(const torch::Tensor& features, const std::vector<torch::Tensor>& state,
                                     const std::string& gradient, double) const override {
    if (gradient != "ste") throw_input_error("compression.gradient soft: int maps train with ste only");
    return straight_through_map(features, decompress(compress(features)), state.at(0).select(1, 0),
                                state[0].select(1, 1), static_cast<double>((1 << options_.bits) - 1));
  }

  Compressed compress_host(const torch::Tensor& features) const override {
    if (!maps_.empty()) return compress_shared(features);
    check_magnitude(features, 65504.0f, "group minimum or maximum");
    const GroupGeometry g = geometry_of(features.sizes().vec(), options_);
    const float* x = features.data_ptr<float>();
    Compressed out{device_.cuda() ? int_encode_cuda(x, g, options_.bits) : int_encode_cpu(x, g, options_.bits),
                   4 * g.groups(), features.sizes().vec()};
    return out;
  }
  torch::Tensor decompress_host(const Compressed& data) const override {
    if (!maps_.empty()) return decompress_shared(data);
    const GroupGeometry g = geometry_of(data.shape, options_);
    check_stream_size(data, int_stream_bytes(g, options_.bits));
    return to_tensor(device_.cuda() ? int_decode_cuda(data.bytes.data(), g, options_.bits)
                                    : int_decode_cpu(data.bytes.data(), g, options_.bits),
                     data.shape);
  }
  std::string timing_device() const override { return timing_device_name(device_.name, "1 thread"); }
  std::optional<int64_t> stream_bytes(const std::vector<int64_t>& shape) const override {
    if (!maps_.empty()) return (value_count(shape) * options_.bits + 7) / 8;
    return int_stream_bytes(geometry_of(shape, options_), options_.bits);
  }

 protected:
  // Shared maps code on the host (the same bytes on every device).
  Compressed compress_device(const torch::Tensor& features) const override {
    if (!device_.cuda() || !maps_.empty()) return Compressor::compress_device(features);
    check_magnitude(features, 65504.0f, "group minimum or maximum");
    const GroupGeometry g = geometry_of(features.sizes().vec(), options_);
    torch::Tensor out = device_bytes_for(features, int_stream_bytes(g, options_.bits));
    torch::Tensor scratch = device_bytes_for(features, g.values());
    int_encode_device(features.data_ptr<float>(), g, options_.bits, out.data_ptr<uint8_t>(),
                      scratch.data_ptr<uint8_t>(), nullptr);
    return {{}, 4 * g.groups(), features.sizes().vec(), out};
  }
  torch::Tensor decompress_device(const Compressed& data, torch::ScalarType dtype) const override {
    if (!device_.cuda() || !maps_.empty()) return Compressor::decompress_device(data, dtype);
    const GroupGeometry g = geometry_of(data.shape, options_);
    check_stream_size(data, int_stream_bytes(g, options_.bits));
    torch::Tensor y = device_values_for(data);
    int_decode_device(data.device_bytes.data_ptr<uint8_t>(), g, options_.bits, y.data_ptr<float>(), nullptr);
    return y.to(dtype);
  }

 private:
  // The per-channel maps as float [D] tensors (min, step).
  std::pair<torch::Tensor, torch::Tensor> map_tensors() const {
    torch::Tensor low = torch::empty({dim_}, torch::kFloat32), step = torch::empty({dim_}, torch::kFloat32);
    for (int64_t c = 0; c < dim_; ++c) {
      low[c] = half_bits_to_float(maps_[static_cast<size_t>(2 * c)]);
      step[c] = half_bits_to_float(maps_[static_cast<size_t>(2 * c + 1)]);
    }
    return {low, step};
  }

  void check_dim(int64_t dim) const {
    if (dim != dim_) throw_input_error("features have D = {} but the shared int maps were fitted on D = {}", dim, dim_);
  }

  // q = clamp(round((x − m)/s), 0, L) (0 where s = 0), packed LSB-first, token-major.
  Compressed compress_shared(const torch::Tensor& features) const {
    check_dim(features.size(2));
    const auto [low, step] = map_tensors();
    const int64_t levels = (1 << options_.bits) - 1;
    const torch::Tensor scaled = torch::where(step > 0, (features - low) / torch::where(step > 0, step, torch::ones_like(step)),
                                              torch::zeros_like(features));
    const torch::Tensor codes = torch::round(scaled).clamp(0, static_cast<double>(levels)).to(torch::kLong).contiguous();
    const int64_t* q = codes.data_ptr<int64_t>();
    Compressed out;
    out.shape = features.sizes().vec();
    out.bytes.assign(static_cast<size_t>((codes.numel() * options_.bits + 7) / 8), 0);
    for (int64_t i = 0; i < codes.numel(); ++i) {
      for (int k = 0; k < options_.bits; ++k) {
        const int64_t bit = i * options_.bits + k;
        if ((q[i] >> k) & 1) out.bytes[static_cast<size_t>(bit / 8)] |= static_cast<uint8_t>(1u << (bit % 8));
      }
    }
    return out;
  }

  // x̂ = m + q·s.
  torch::Tensor decompress_shared(const Compressed& data) const {
    check_dim(data.shape[2]);
    const int64_t count = value_count(data.shape);
    check_stream_size(data, (count * options_.bits + 7) / 8);
    torch::Tensor codes = torch::empty({count}, torch::kFloat32);
    float* q = codes.data_ptr<float>();
    for (int64_t i = 0; i < count; ++i) {
      int value = 0;
      for (int k = 0; k < options_.bits; ++k) {
        const int64_t bit = i * options_.bits + k;
        value |= ((data.bytes[static_cast<size_t>(bit / 8)] >> (bit % 8)) & 1) << k;
      }
      q[i] = static_cast<float>(value);
    }
    const auto [low, step] = map_tensors();
    return low + codes.reshape(data.shape) * step;
  }

  IntOptions options_;
  Device device_;
  std::vector<uint16_t> maps_;  // scope per_dataset, after fit: (min, step) per channel, fp16
  int64_t dim_ = 0;
};

class Fp8Compressor : public Compressor {
 public:
  explicit Fp8Compressor(const CompressionOptions& options)
      : options_(read_options<Fp8Options>(options)),
        spec_(options_.fp8_format == "e4m3" ? kFp8E4M3 : kFp8E5M2),
        device_(options.device) {}
  Compressed compress_host(const torch::Tensor& features) const override {
    check_scale(features);
    const GroupGeometry g = geometry_of(features.sizes().vec(), options_);
    const float* x = features.data_ptr<float>();
    return {device_.cuda() ? fp8_encode_cuda(x, g, spec_) : fp8_encode_cpu(x, g, spec_), 2 * g.groups(),
            features.sizes().vec()};
  }
  torch::Tensor decompress_host(const Compressed& data) const override {
    const GroupGeometry g = geometry_of(data.shape, options_);
    check_stream_size(data, fp8_stream_bytes(g));
    return to_tensor(
        device_.cuda() ? fp8_decode_cuda(data.bytes.data(), g, spec_) : fp8_decode_cpu(data.bytes.data(), g, spec_),
        data.shape);
  }
  std::string timing_device() const override { return timing_device_name(device_.name, "1 thread"); }
  std::optional<int64_t> stream_bytes(const std::vector<int64_t>& shape) const override {
    return fp8_stream_bytes(geometry_of(shape, options_));
  }

 protected:
  Compressed compress_device(const torch::Tensor& features) const override {
    if (!device_.cuda()) return Compressor::compress_device(features);
    check_scale(features);
    const GroupGeometry g = geometry_of(features.sizes().vec(), options_);
    torch::Tensor out = device_bytes_for(features, fp8_stream_bytes(g));
    fp8_encode_device(features.data_ptr<float>(), g, spec_, out.data_ptr<uint8_t>(), nullptr);
    return {{}, 2 * g.groups(), features.sizes().vec(), out};
  }
  torch::Tensor decompress_device(const Compressed& data, torch::ScalarType dtype) const override {
    if (!device_.cuda()) return Compressor::decompress_device(data, dtype);
    const GroupGeometry g = geometry_of(data.shape, options_);
    check_stream_size(data, fp8_stream_bytes(g));
    torch::Tensor y = device_values_for(data);
    fp8_decode_device(data.device_bytes.data_ptr<uint8_t>(), g, spec_, y.data_ptr<float>(), nullptr);
    return y.to(dtype);
  }

 private:
  // The largest group scale, amax / max_finite rounded up, must be a finite half.
  void check_scale(const torch::Tensor& features) const {
    const float amax = features.abs().max().item<float>();
    if (!(half_bits_to_float(half_bits_toward(amax / spec_.max_finite, true)) <= 65504.0f)) {
      throw_input_error("feature value {} exceeds the fp16 range, so its fp8 scale cannot be stored in fp16", amax);
    }
  }

  Fp8Options options_;
  Fp8Spec spec_;
  Device device_;
};

// Bounds for the registry tests: a value's error against its group's statistics.
BoundScope group_scope(const CompressionOptions& options) {
  return options.get<std::string>("axis") == "channel" ? BoundScope::kChannel : BoundScope::kToken;
}
ErrorBound half_bound(int mantissa_bits) {
  // Half an ulp relative to the value: 2^-(m+1) of amax (fp16: m = 10, bf16: m = 7).
  return {[](const CompressionOptions&) { return BoundScope::kToken; },
          [mantissa_bits](const CompressionOptions&, double, double, double amax) {
            return amax * std::ldexp(1.0, -(mantissa_bits + 1)) + (mantissa_bits == 10 ? 1e-7 : 0.0);
          }};
}

}  // namespace

CompressorEntry half_compressor_entry() {
  return {"fp16", "IEEE half precision, 16 bits per value (the reference rate)", nullptr,
          [](const CompressionOptions& options) { return std::make_unique<HalfCompressor>(options, false); },
          half_bound(10), {{}}};
}

CompressorEntry bfloat16_compressor_entry() {
  return {"bf16", "bfloat16, 16 bits per value", nullptr,
          [](const CompressionOptions& options) { return std::make_unique<HalfCompressor>(options, true); },
          half_bound(7), {{}}};
}

CompressorEntry int_compressor_entry() {
  std::vector<std::vector<std::string>> variants;
  for (const char* bits : {"2", "4", "8"}) {
    for (const char* axis : {"token", "channel"}) {
      variants.push_back({std::string("bits=") + bits, std::string("axis=") + axis, "group_size=24"});
    }
  }
  variants.push_back({"bits=4", "scope=per_dataset"});  // unfitted: group quantisation as per_tensor
  // Half a step, with the fp16 rounding of min and step (both rounded outward).
  const ErrorBound bound{group_scope, [](const CompressionOptions& options, double low, double high, double) {
                           const double step = (high - low) / ((1 << options.get<int>("bits")) - 1);
                           return 0.5 * step * (1 + 1e-2) + std::fabs(low) * std::ldexp(1.0, -10) + 1e-6;
                         }};
  return {"int", "asymmetric integer group quantization, 2..8 bits, fp16 min/step per group (or per channel, shared: scope "
          "per_dataset)", keys_of<IntOptions>(),
          [](const CompressionOptions& options) { return std::make_unique<IntCompressor>(options); }, bound, variants};
}

CompressorEntry fp8_compressor_entry() {
  // Half an ulp relative to the value: at most 2^-(m+1) of amax·(1 + fp16 scale rounding).
  const ErrorBound bound{group_scope, [](const CompressionOptions& options, double, double, double amax) {
                           const int mantissa = options.get<std::string>("fp8_format") == "e4m3" ? 3 : 2;
                           return amax * std::ldexp(1.0, -(mantissa + 1)) * 1.01;
                         }};
  return {"fp8", "OCP FP8 (e4m3 or e5m2) with an fp16 scale per group", keys_of<Fp8Options>(),
          [](const CompressionOptions& options) { return std::make_unique<Fp8Compressor>(options); }, bound,
          {{"fp8_format=e4m3", "group_size=0"}, {"fp8_format=e5m2", "group_size=0"}}};
}

}  // namespace bcfeat
