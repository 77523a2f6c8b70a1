#include "bcfeat/framework/compressor.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>

#include "bcfeat/framework/config.h"
#include "bcfeat/framework/error.h"
#include "bcfeat/framework/results.h"
#include "bcfeat/kernels/codec.h"
#include "bcfeat/kernels/cuda_device.h"
#include "bcfeat/kernels/format.h"

namespace bcfeat {

// Registered next to each compressor.
CompressorEntry half_compressor_entry();
CompressorEntry bfloat16_compressor_entry();
CompressorEntry int_compressor_entry();
CompressorEntry fp8_compressor_entry();
CompressorEntry lossless_compressor_entry();
CompressorEntry texture_compressor_entry();
CompressorEntry codebook_compressor_entry();

CompressorKeys& CompressorKeys::one_of(std::vector<std::string> choices) {
  keys_.back().choices = std::move(choices);
  return *this;
}

CompressorKeys& CompressorKeys::range(double low, double high) {
  keys_.back().low = low;
  keys_.back().high = high;
  return *this;
}

const std::vector<CompressorEntry>& compressor_registry() {
  static const std::vector<CompressorEntry> registry = {
      half_compressor_entry(),     bfloat16_compressor_entry(), int_compressor_entry(),     fp8_compressor_entry(),
      lossless_compressor_entry(), texture_compressor_entry(),  codebook_compressor_entry(),
  };
  return registry;
}

std::vector<std::string> compressor_names() {
  std::vector<std::string> names;
  for (const auto& entry : compressor_registry()) names.push_back(entry.name);
  return names;
}

const CompressorEntry& compressor_entry(const std::string& method) {
  for (const auto& entry : compressor_registry()) {
    if (entry.name == method) return entry;
  }
  throw_input_error("unknown compression.method '{}'{}; valid: {}", method, did_you_mean(method, compressor_names()),
                    join(compressor_names()));
}

const std::vector<CompressorKey>& compressor_keys() {
  static const std::vector<CompressorKey> merged = [] {
    std::vector<CompressorKey> out;
    for (const auto& entry : compressor_registry()) {
      if (!entry.declare_keys) continue;
      CompressorKeys keys(entry.name);
      entry.declare_keys(keys);
      for (const auto& key : keys.keys()) {
        auto same = std::find_if(out.begin(), out.end(), [&](const CompressorKey& k) { return k.name == key.name; });
        if (same == out.end()) {
          out.push_back(key);
          continue;
        }
        // A shared key: one type, one default, one set of constraints, every owner named.
        if (!same->same_value(same->default_value, key.default_value) || same->choices != key.choices ||
            same->low != key.low || same->high != key.high) {
          throw std::logic_error("compression." + key.name + " is declared differently by " + join(same->owners) +
                                 " and " + entry.name);
        }
        same->owners.push_back(entry.name);
      }
    }
    return out;
  }();
  return merged;
}

CompressionOptions::CompressionOptions() {
  for (const auto& key : compressor_keys()) values_[key.name] = key.default_value;
}

void CompressionOptions::declare(ParamSet& params, const std::string& prefix) {
  params.add(prefix + ".method", &method, "compressor (bcfeat list compressors)").one_of(compressor_names());
  for (const auto& key : compressor_keys()) key.bind(params, prefix + "." + key.name, values_[key.name], key);
  params.add(prefix + ".device", &device,
             "where encoding and decoding run: cpu, cuda, or texture (block formats decoded by the GPU texture units); "
             "identical bytes and values everywhere. CUDA tensors stay on the GPU; codebooks are trained on the cpu, "
             "lossless runs on the cpu only, formats without a CUDA encoder encode on the cpu")
      .one_of({"cpu", "cuda", "texture"});
  params.add(prefix + ".state", &state,
             "compressor state file written by compress_train (trained codebooks): loaded as the compressor's shared "
             "state, counted once per dataset like calibration-fitted state (empty: none)");
}

nlohmann::json CompressionOptions::stream_keys() const {
  CompressionOptions copy = *this;
  ParamSet params;
  copy.declare(params, "compression");
  const auto values = params.resolved_flat();
  nlohmann::json out = {{"method", method}};
  for (const auto& key : compressor_keys()) {
    if (std::find(key.owners.begin(), key.owners.end(), method) == key.owners.end()) continue;
    out[key.name] = yaml_to_json(values.at("compression." + key.name));
  }
  return out;
}

Compressed Compressed::to_host() const {
  if (!on_device()) return *this;
  Compressed out{{}, side_bytes, shape, {}};
  const torch::Tensor host = device_bytes.to(torch::kCPU).contiguous();
  out.bytes.assign(host.data_ptr<uint8_t>(), host.data_ptr<uint8_t>() + host.numel());
  return out;
}

Compressed Compressed::to_device() const {
  if (on_device()) return *this;
  Compressed out{{}, side_bytes, shape, {}};
  out.device_bytes = torch::from_blob(const_cast<uint8_t*>(bytes.data()), {static_cast<int64_t>(bytes.size())},
                                      torch::kUInt8)
                         .to(torch::kCUDA);
  return out;
}

void Compressor::load_shared_state(const std::vector<uint8_t>& bytes, int64_t) {
  if (!bytes.empty()) throw_input_error("this compressor keeps no shared state, but {} bytes of it were given", bytes.size());
}

void Compressor::load_trainable_state(const std::vector<torch::Tensor>& state) {
  if (!state.empty()) throw std::logic_error("this compressor has no trainable state");
}

torch::Tensor Compressor::train_reconstruction(const torch::Tensor&, const std::vector<torch::Tensor>&,
                                               const std::string&, double) const {
  throw std::logic_error("this compressor has no trainable state");
}

torch::Tensor Compressor::soft_reconstruction(const torch::Tensor&, const std::vector<torch::Tensor>&, double) const {
  throw std::logic_error("this compressor has no soft emulation");
}

torch::Tensor straight_through_map(const torch::Tensor& features, const torch::Tensor& hard, const torch::Tensor& low,
                                   const torch::Tensor& scale, double levels) {
  const torch::Tensor x = features.to(low.scalar_type());
  const torch::Tensor exact = hard.to(low.scalar_type());
  const torch::Tensor safe = torch::where(scale != 0, scale, torch::ones_like(scale));
  const torch::Tensor u = ((x - low) / safe).clamp(0.0, levels);
  const torch::Tensor code = ((exact - low) / safe).detach();
  const torch::Tensor surrogate = low + (code + u - u.detach()) * scale;
  return exact + (surrogate - surrogate.detach());
}

Compressed Compressor::compress_device(const torch::Tensor& features) const {
  return compress_host(features.to(torch::kCPU)).to_device();
}

torch::Tensor Compressor::decompress_device(const Compressed& data, torch::ScalarType dtype) const {
  return decompress_host(data.to_host()).to(data.device_bytes.device(), dtype);
}

CompressionOptions compression_options(const std::string& method, const std::vector<std::string>& settings) {
  CompressionOptions options;
  ParamSet params;
  options.declare(params);
  ConfigTree tree;
  apply_override(tree, "compression.method=" + method);
  for (const auto& setting : settings) apply_override(tree, "compression." + setting);
  params.apply(tree);
  return options;
}

CompressionOptions named_compression(const std::string& name, const CompressionOptions& base, const std::string& where) {
  CompressionOptions options = base;
  const std::vector<std::string> methods = compressor_names();
  if (std::find(methods.begin(), methods.end(), name) != methods.end()) {
    options.method = name;
    return options;
  }
  if (name.size() == 4 && name.rfind("int", 0) == 0 && name[3] >= '2' && name[3] <= '8') {
    options.method = "int";
    return options.set("bits", name[3] - '0');
  }
  const std::vector<std::string> formats = format_names();
  if (std::find(formats.begin(), formats.end(), name) != formats.end()) {
    options.method = "texture";
    return options.set("format", name);
  }
  std::vector<std::string> valid = methods;
  for (int bits = 2; bits <= 8; ++bits) valid.push_back("int" + std::to_string(bits));
  throw_input_error("{}: '{}' is not a compressor{}; valid: a method ({}), int2..int8, or a block format (bcfeat list "
                    "formats)",
                    where, name, did_you_mean(name, [&] {
                      valid.insert(valid.end(), formats.begin(), formats.end());
                      return valid;
                    }()),
                    join(methods));
}

std::string compression_label(const CompressionOptions& options) {
  if (options.method == "texture") return "texture " + options.get<std::string>("format");
  if (options.method == "int") return "int" + std::to_string(options.get<int>("bits"));
  return options.method;
}

void check_stream_shape(const Compressed& data) {
  int64_t values = 1;
  bool valid = data.shape.size() == 3;
  for (int64_t size : data.shape) {
    valid = valid && size >= 1 && size <= (int64_t(1) << 31) / values;
    if (valid) values *= size;
  }
  if (!valid) throw_input_error("a compressed stream's shape [{}] is not [B, N, D] of at most 2^31 values", fmt::join(data.shape, ", "));
}

void check_stream_size(const Compressed& data, int64_t expected) {
  if (data.size() != expected) {
    throw_input_error("the compressed stream holds {} bytes where its shape needs {}", data.size(), expected);
  }
}

std::unique_ptr<Compressor> make_compressor(const CompressionOptions& options) {
  const CompressorEntry& entry = compressor_entry(options.method);
  std::unique_ptr<Compressor> compressor = entry.make(options);
  if (options.state.empty()) return compressor;
  const CompressorState state = read_compressor_state(options.state);
  const nlohmann::json expected = options.stream_keys();
  for (const auto& [key, value] : expected.items()) {
    const nlohmann::json found = state.compression.contains(key) ? state.compression.at(key) : nlohmann::json();
    if (found != value) {
      throw_input_error("compression.state '{}' was made with compression.{} = {}; this config has {}", options.state, key,
                        found.dump(), value.dump());
    }
  }
  try {
    compressor->load_shared_state(state.bytes, state.dim);
  } catch (const InputError& e) {
    throw_input_error("compression.state '{}': {}", options.state, e.what());
  }
  return compressor;
}

namespace {

const char* const kStateMagic = "bcfeat compressor state 1\n";

uint64_t fnv1a64(const std::vector<uint8_t>& bytes) {
  uint64_t hash = 0xcbf29ce484222325ull;
  for (uint8_t byte : bytes) hash = (hash ^ byte) * 0x100000001b3ull;
  return hash;
}

}  // namespace

void write_compressor_state(const std::string& path, const CompressorState& state) {
  const nlohmann::json header = {{"compression", state.compression},
                                 {"dim", state.dim},
                                 {"bytes", state.bytes.size()},
                                 {"fnv1a64", fmt::format("{:016x}", fnv1a64(state.bytes))},
                                 {"provenance", state.provenance}};
  std::string content = kStateMagic + header.dump() + "\n";
  content.append(state.bytes.begin(), state.bytes.end());
  write_file_atomic(path, content);
}

CompressorState read_compressor_state(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw_input_error("compressor state file '{}' cannot be read (missing?)", path);
  const std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string magic = kStateMagic;
  if (content.compare(0, magic.size(), magic) != 0) {
    throw_input_error("'{}' is not a bcfeat compressor state file (compress_train writes them)", path);
  }
  const size_t end = content.find('\n', magic.size());
  if (end == std::string::npos) throw_input_error("compressor state file '{}' is truncated in its header", path);
  CompressorState state;
  size_t expected = 0;
  std::string checksum;
  try {
    const nlohmann::json header = nlohmann::json::parse(content.substr(magic.size(), end - magic.size()));
    state.compression = header.at("compression");
    state.dim = header.at("dim").get<int64_t>();
    expected = header.at("bytes").get<size_t>();
    checksum = header.at("fnv1a64").get<std::string>();
    state.provenance = header.value("provenance", nlohmann::json::object());
  } catch (const nlohmann::json::exception& e) {
    throw_input_error("compressor state file '{}' has a bad header: {}", path, e.what());
  }
  if (!state.compression.is_object() || state.dim < 1) {
    throw_input_error("compressor state file '{}' has a bad header (compression keys or dim)", path);
  }
  if (content.size() - end - 1 != expected) {
    throw_input_error("compressor state file '{}' holds {} state bytes where its header says {} (truncated?)", path,
                      content.size() - end - 1, expected);
  }
  state.bytes.assign(content.begin() + static_cast<std::ptrdiff_t>(end + 1), content.end());
  if (fmt::format("{:016x}", fnv1a64(state.bytes)) != checksum) {
    throw_input_error("compressor state file '{}' fails its checksum (corrupt)", path);
  }
  return state;
}

void require_device(const std::string& device) {
  if (device != "cpu" && !cuda_codec_available()) {
    throw_input_error("compression.device is {} but no CUDA device is usable here", device);
  }
}

std::string timing_device_name(const std::string& device, const char* cpu_parallelism) {
  if (device != "cpu") return "cuda: " + cuda_device_name(0);
  return fmt::format("cpu ({})", cpu_parallelism);
}

torch::Tensor prepare_features(const torch::Tensor& features, const std::string& what) {
  if (!features.defined() || features.numel() == 0) throw_input_error("{} is empty", what);
  if (!features.is_floating_point()) throw_input_error("{} must hold floating-point values", what);
  if (features.dim() != 2 && features.dim() != 3) {
    throw_input_error("{} has shape [{}]; expected [N, D] or [B, N, D]", what, fmt::join(features.sizes(), ", "));
  }
  torch::Tensor out = features.to(torch::kCPU, torch::kFloat32).contiguous();
  if (out.dim() == 2) out = out.unsqueeze(0);
  const float* x = out.data_ptr<float>();
  for (int64_t i = 0; i < out.numel(); ++i) {
    if (!std::isfinite(x[i])) {
      const int64_t dim = out.size(2), tokens = out.size(1);
      throw_input_error("{} holds {} at [{}, {}, {}]; features must be finite", what, x[i], i / (tokens * dim),
                        (i / dim) % tokens, i % dim);
    }
  }
  return out;
}

}  // namespace bcfeat
