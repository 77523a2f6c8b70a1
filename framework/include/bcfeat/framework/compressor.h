// Compressors: a feature tensor [B, N, D] to bytes and back, with an exact byte count.
//
// Every compressor produces the actual byte stream a deployment would store (codes packed
// to their bit width, side information such as scales in fp16), so `bytes.size()` is the
// rate, not an estimate. Only the tensor's shape, which the reader needs anyway, lives
// outside the stream. Compressors are chosen by `compression.method` from a registry that
// `bcfeat list compressors` prints.
//
// Each registered compressor declares the keys it reads under `compression.` — name,
// default, documentation, constraints — in an options struct beside its code, with a
// `keys(k)` member that names every field once:
//
//   struct IntOptions {
//     int bits = 8;
//     template <class Keys> void keys(Keys& k) { k.add("bits", bits, "bits per code").range(2, 8); }
//   };
//
// The keys share one namespace, so one config can sweep methods and their keys together; a
// key that several compressors read (group_size for int and fp8) is declared by each with the
// same type and default and documented once, naming them all.
#pragma once

#include <any>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/types.h>

#include "bcfeat/framework/error.h"
#include "bcfeat/framework/params.h"

namespace bcfeat {

// One key a compressor reads: what `bcfeat list keys` shows and how a ParamSet binds it.
struct CompressorKey {
  std::string name;  // under `compression.`
  std::string doc;
  std::vector<std::string> owners;  // compressors that read it
  std::any default_value;
  std::vector<std::string> choices;
  std::optional<double> low, high;
  // Binds `storage` (which holds the key's type) to `params` at `path`.
  std::function<void(ParamSet& params, const std::string& path, std::any& storage, const CompressorKey& key)> bind;
  std::function<bool(const std::any& a, const std::any& b)> same_value;
};

// Collects the keys of one compressor's options struct (through its `keys` member).
class CompressorKeys {
 public:
  explicit CompressorKeys(std::string owner) : owner_(std::move(owner)) {}
  template <class T>
  CompressorKeys& add(const std::string& name, const T& default_value, const std::string& doc);
  CompressorKeys& one_of(std::vector<std::string> choices);
  CompressorKeys& range(double low, double high);
  const std::vector<CompressorKey>& keys() const { return keys_; }

 private:
  std::string owner_;
  std::vector<CompressorKey> keys_;
};

// The `compression.*` values of a config: `method`, `device`, and every key any registered
// compressor declares (at its default until a config or `set` changes it).
class CompressionOptions {
 public:
  CompressionOptions();
  std::string method = "fp16";  // registry name
  std::string device = "cpu";   // where blocks and codes are encoded and decoded
  std::string state;            // compressor state file (compress_train) loaded as the shared state

  // The value of a declared key; throws std::logic_error for an undeclared key or another type.
  template <class T>
  const T& get(const std::string& key) const;
  template <class T>
  CompressionOptions& set(const std::string& key, T value);
  CompressionOptions& set(const std::string& key, const char* value) { return set(key, std::string(value)); }

  // Binds `prefix.method`, `prefix.device` and every declared key to `params`. The options
  // must stay where they are while `params` is in use.
  void declare(ParamSet& params, const std::string& prefix = "compression");
  // What decides the stream's bytes: the method and every key its compressor reads, as JSON
  // (not the device: every device writes the same bytes; not the state file, which the
  // compressor's shared state holds).
  nlohmann::json stream_keys() const;

 private:
  std::map<std::string, std::any> values_;
};

// Reads an options struct's fields from CompressionOptions through its `keys` member.
class CompressorKeyReader {
 public:
  explicit CompressorKeyReader(const CompressionOptions& options) : options_(options) {}
  template <class T>
  CompressorKeyReader& add(const std::string& name, T& field, const std::string&) {
    field = options_.get<T>(name);
    return *this;
  }
  CompressorKeyReader& one_of(const std::vector<std::string>&) { return *this; }
  CompressorKeyReader& range(double, double) { return *this; }

 private:
  const CompressionOptions& options_;
};

template <class Options>
Options read_options(const CompressionOptions& options) {
  Options out;
  CompressorKeyReader reader(options);
  out.keys(reader);
  return out;
}

// A compressed tensor: its stream on the host, or on the GPU when it was compressed from a
// CUDA tensor (nothing is copied to the host until a caller asks for it).
struct Compressed {
  std::vector<uint8_t> bytes;  // the whole stream, on the host, or
  int64_t side_bytes = 0;      // how much of it is side information (scales, offsets, ...)
  std::vector<int64_t> shape;  // [B, N, D]
  torch::Tensor device_bytes;  // the whole stream as a uint8 CUDA tensor

  bool on_device() const { return device_bytes.defined(); }
  int64_t size() const { return on_device() ? device_bytes.numel() : static_cast<int64_t>(bytes.size()); }
  Compressed to_host() const;    // a copy with the stream on the host
  Compressed to_device() const;  // a copy with the stream on the current CUDA device
};

// Stream checks for compressors' readers (InputError): the shape is [B, N, D] with every size
// at least 1 and at most 2^31 values; the stream holds exactly `expected` bytes.
void check_stream_shape(const Compressed& data);
void check_stream_size(const Compressed& data, int64_t expected);

class Compressor {
 public:
  virtual ~Compressor() = default;
  // Fits the side information shared by every tensor of a dataset on calibration features
  // [B, N, D] (codebooks; the texture maps with scope per_dataset). A compressor that is
  // not fitted fits on each tensor it compresses and stores that in the tensor's stream.
  virtual void fit(const torch::Tensor& calibration) { (void)calibration; }
  // Bytes of the fitted shared state, stored once per dataset (0 when nothing is shared).
  virtual int64_t shared_bytes() const { return 0; }
  // That state as bytes, and back onto a compressor of the same options for features of D =
  // dim (what a feature cache stores once); throws InputError for bytes that do not fit.
  virtual std::vector<uint8_t> shared_state() const { return {}; }
  virtual void load_shared_state(const std::vector<uint8_t>& bytes, int64_t dim);
  // `features`: float32, contiguous, [B, N, D], finite; on the CPU (the stream comes back on the
  // host) or on a CUDA device (the stream stays there). The bytes are the same either way.
  Compressed compress(const torch::Tensor& features) const {
    return features.is_cuda() ? compress_device(features) : compress_host(features);
  }
  // [B, N, D] of `dtype` (float32, float16 or bfloat16: float32 values rounded to nearest
  // even): on the CPU from a host stream, on the GPU from a device stream.
  // A stream that does not fit its shape or this compressor's options is an InputError.
  torch::Tensor decompress(const Compressed& data, torch::ScalarType dtype = torch::kFloat32) const {
    check_stream_shape(data);
    return data.on_device() ? decompress_device(data, dtype) : decompress_host(data).to(dtype);
  }
  // The exact size of every stream of a tensor of `shape` [B, N, D] when the compressor's rate
  // does not depend on the values (fixed-rate formats, after fit() for shared state); nothing
  // for variable-rate compressors (lossless, codebooks).
  virtual std::optional<int64_t> stream_bytes(const std::vector<int64_t>& shape) const {
    (void)shape;
    return std::nullopt;
  }
  // Where compress and decompress run, for timing fields: "cuda: <device>", "cpu (1 thread)"
  // or "cpu (all threads)".
  virtual std::string timing_device() const = 0;

  // ---- training the shared state (compress_train) ----
  // Why these options leave nothing to train (compress_train refuses them with it), or
  // nothing when fit() gives a trainable state.
  virtual std::optional<std::string> untrainable() const { return "it keeps no state to train"; }
  // The fitted shared state as float32 tensors to train, each a fresh leaf; empty for a
  // compressor with nothing to train (or nothing fitted yet).
  virtual std::vector<torch::Tensor> trainable_state() const { return {}; }
  // Makes `state` (trainable_state's shapes, any float dtype) the shared state, rounded to its
  // stored precision; InputError for a value the stream cannot store.
  virtual void load_trainable_state(const std::vector<torch::Tensor>& state);
  // decompress(compress(features)) under the loaded state, exactly those values, in the dtype
  // of `state` and differentiable with respect to it: `state` holds the loaded values as the
  // tensors being trained. The gradient is the straight-through one ("ste": as if the codec's
  // choices — indices, block modes — were fixed) or that of soft_reconstruction ("soft").
  // `features`: float32 [B, N, D] on the CPU.
  virtual torch::Tensor train_reconstruction(const torch::Tensor& features, const std::vector<torch::Tensor>& state,
                                             const std::string& gradient, double temperature) const;
  // The differentiable emulation behind the soft gradient: the codec's hard choices replaced by
  // a softmax over the candidates at `temperature` (hard as it goes to 0).
  virtual torch::Tensor soft_reconstruction(const torch::Tensor& features, const std::vector<torch::Tensor>& state,
                                            double temperature) const;

 protected:
  virtual Compressed compress_host(const torch::Tensor& features) const = 0;
  virtual torch::Tensor decompress_host(const Compressed& data) const = 0;
  // Compressors that run on the GPU keep the stream there; the others (and these by default)
  // go through the host: the features down, the stream up (and back down for decoding).
  virtual Compressed compress_device(const torch::Tensor& features) const;
  virtual torch::Tensor decompress_device(const Compressed& data, torch::ScalarType dtype) const;
};

// Where a decompressed value may be from the original, for the registry tests: the group
// whose statistics bound it, and the largest |error| given that group's min, max and max |x|.
enum class BoundScope { kToken, kChannel, kTensor };
struct ErrorBound {
  std::function<BoundScope(const CompressionOptions&)> scope;
  std::function<double(const CompressionOptions&, double low, double high, double amax)> bound;
};

struct CompressorEntry {
  std::string name;
  std::string description;
  std::function<void(CompressorKeys&)> declare_keys;
  std::function<std::unique_ptr<Compressor>(const CompressionOptions&)> make;
  ErrorBound error_bound;
  // Settings the registry tests exercise, each a list of `key=value` (keys under compression.).
  std::vector<std::vector<std::string>> test_variants;
};

// The keys of options struct `Options`, declared for compressor `owner` at the struct's defaults.
template <class Options>
std::function<void(CompressorKeys&)> keys_of() {
  return [](CompressorKeys& keys) {
    Options defaults;
    defaults.keys(keys);
  };
}

const std::vector<CompressorEntry>& compressor_registry();
std::vector<std::string> compressor_names();
const CompressorEntry& compressor_entry(const std::string& method);  // throws InputError for unknown ones
// Every key of every compressor, merged by name (shared keys once, with all their owners).
const std::vector<CompressorKey>& compressor_keys();
// Throws InputError for an unknown method (listing the valid ones) or invalid options. With
// `state` set, the state file's shared state is loaded (InputError when it was made for other
// stream keys or does not fit the compressor). Does not need the device: a compressor on cuda checks for a GPU when it first runs, so a sweep
// can be planned on a machine without one.
std::unique_ptr<Compressor> make_compressor(const CompressionOptions& options);
// The options of `method` with `key=value` settings (keys under compression.), read and
// validated as a config's compression block is (InputError for a bad key or value).
CompressionOptions compression_options(const std::string& method, const std::vector<std::string>& settings = {});
// A compressor named in one word, every other key as in `base`: a method (fp16, lossless,
// ...), intN (int at N = 2..8 bits), or a block format (texture with that format). Throws
// InputError naming `where` for any other word.
CompressionOptions named_compression(const std::string& name, const CompressionOptions& base, const std::string& where);
// A short label of what `options` compress with: "texture bc1", "int4", "fp16".
std::string compression_label(const CompressionOptions& options);
// Straight-through reconstruction for a per-channel affine map x ≈ low + c·scale with codes c in
// [0, levels] (`low`, `scale`: [D], differentiable): `hard`, the codec's output, in the forward
// pass; the gradient of low + (ĉ + u − sg(u))·scale, u = clamp((x − low)/scale, 0, levels) and ĉ
// the decoded code held fixed — u − ĉ style quantisation errors inside the range and the clipped
// values' pull outside it, as in learned step-size quantisation.
torch::Tensor straight_through_map(const torch::Tensor& features, const torch::Tensor& hard, const torch::Tensor& low,
                                   const torch::Tensor& scale, double levels);

// A compressor state file: the shared state of a compressor (as shared_state() gives it) for
// features of D = dim, with the stream keys it was made with and how it was made. Written
// atomically; reading checks the magic line, the header and a checksum (InputError naming the
// file otherwise).
struct CompressorState {
  nlohmann::json compression;  // stream_keys() of the compressor
  int64_t dim = 0;
  nlohmann::json provenance;   // how the state was made (experiment, losses, steps, ...)
  std::vector<uint8_t> bytes;
};
void write_compressor_state(const std::string& path, const CompressorState& state);
CompressorState read_compressor_state(const std::string& path);
// For compressors on `device`: throws InputError when device is cuda and no GPU is usable.
void require_device(const std::string& device);
// "cuda: <name>" on cuda, else "cpu (<parallelism>)".
std::string timing_device_name(const std::string& device, const char* cpu_parallelism);

// Checks a feature tensor at the boundary: float, 2-D or 3-D, non-empty, all finite.
// Returns it as contiguous float32 CPU [B, N, D] (2-D input gets B = 1). `what` names it.
torch::Tensor prepare_features(const torch::Tensor& features, const std::string& what);

// ---- templates ----------------------------------------------------------------------------

template <class T>
CompressorKeys& CompressorKeys::add(const std::string& name, const T& default_value, const std::string& doc) {
  CompressorKey key;
  key.name = name;
  key.doc = doc;
  key.owners = {owner_};
  key.default_value = default_value;
  key.bind = [](ParamSet& params, const std::string& path, std::any& storage, const CompressorKey& self) {
    std::string doc = join(self.owners, ", ") + ": " + self.doc;
    params.add(path, std::any_cast<T>(&storage), doc);
    if (!self.choices.empty()) params.one_of(self.choices);
    if (self.low || self.high) params.range(self.low.value_or(-1e300), self.high.value_or(1e300));
  };
  key.same_value = [](const std::any& a, const std::any& b) {
    const T* x = std::any_cast<T>(&a);
    const T* y = std::any_cast<T>(&b);
    return x && y && *x == *y;
  };
  keys_.push_back(std::move(key));
  return *this;
}

template <class T>
const T& CompressionOptions::get(const std::string& key) const {
  const auto it = values_.find(key);
  if (it == values_.end()) throw std::logic_error("compression." + key + " is not a declared key");
  const T* value = std::any_cast<T>(&it->second);
  if (!value) throw std::logic_error("compression." + key + " read as another type than it is declared with");
  return *value;
}

template <class T>
CompressionOptions& CompressionOptions::set(const std::string& key, T value) {
  const auto it = values_.find(key);
  if (it == values_.end()) throw std::logic_error("compression." + key + " is not a declared key");
  if (!std::any_cast<T>(&it->second)) throw std::logic_error("compression." + key + " set as another type");
  it->second = std::move(value);
  return *this;
}

}  // namespace bcfeat
