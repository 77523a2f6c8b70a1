#include "bcfeat/framework/tensor_io.h"

#include <cstring>
#include <fstream>
#include <filesystem>
#include <regex>

#include <nlohmann/json.hpp>

#include "bcfeat/framework/error.h"
#include "bcfeat/framework/results.h"
#include "bcfeat/kernels/float_formats.h"

namespace bcfeat {
namespace fs = std::filesystem;

namespace {

void check_data_size(const std::string& path, const TensorFileInfo& info) {
  const uint64_t item = info.stored_dtype == "float32" ? 4 : 2;
  const uint64_t fit = info.data_bytes / item;  // the most elements the data can hold
  bool zero = false;
  for (int64_t extent : info.shape) {
    if (extent < 0) throw_input_error("'{}': shape [{}] has a negative extent", path, fmt::join(info.shape, ", "));
    zero = zero || extent == 0;
  }
  // The product is checked against what fits as it grows, so no shape can overflow it.
  uint64_t count = zero ? 0 : 1;
  for (int64_t extent : info.shape) {
    if (zero) break;
    if (static_cast<uint64_t>(extent) > fit / count + 1) {
      throw_input_error("'{}': shape [{}] of {} needs more than the {} bytes of data", path, fmt::join(info.shape, ", "),
                        info.stored_dtype, info.data_bytes);
    }
    count *= static_cast<uint64_t>(extent);
  }
  if (count > fit || info.data_bytes != count * item) {
    throw_input_error("'{}': data holds {} bytes but shape [{}] of {} needs {}", path, info.data_bytes,
                      fmt::join(info.shape, ", "), info.stored_dtype, count * item);
  }
}

torch::Tensor decode_elements(const char* data, const TensorFileInfo& info) {
  torch::Tensor out = torch::empty(info.shape, torch::kFloat32);
  float* values = out.data_ptr<float>();
  const int64_t count = out.numel();
  if (count == 0) return out;  // an empty tensor has no storage to copy into
  if (info.stored_dtype == "float32") {
    std::memcpy(values, data, info.data_bytes);
  } else {
    for (int64_t i = 0; i < count; ++i) {
      uint16_t bits;
      std::memcpy(&bits, data + 2 * i, 2);
      values[i] = info.stored_dtype == "float16" ? half_bits_to_float(bits) : bfloat16_bits_to_float(bits);
    }
  }
  return out;
}

std::string encode_elements(const torch::Tensor& tensor, const std::string& dtype) {
  const torch::Tensor values = tensor.to(torch::kCPU, torch::kFloat32).contiguous();
  const int64_t count = values.numel();
  const float* data = values.data_ptr<float>();
  std::string out;
  if (dtype == "float32") {
    out.assign(reinterpret_cast<const char*>(data), count * 4);
  } else if (dtype == "float16") {
    out.resize(count * 2);
    for (int64_t i = 0; i < count; ++i) {
      const uint16_t bits = float_to_half_bits(data[i]);
      std::memcpy(&out[2 * i], &bits, 2);
    }
  } else {
    throw_input_error("cannot write dtype '{}'; valid: float32, float16", dtype);
  }
  return out;
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string text = "(";
  for (size_t i = 0; i < shape.size(); ++i) text += std::to_string(shape[i]) + (shape.size() == 1 || i + 1 < shape.size() ? "," : "");
  return text + ")";
}

}  // namespace

namespace {

// Reads at most `limit` bytes from the start of `path`.
std::string read_prefix(const std::string& path, size_t limit) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw_input_error("cannot open '{}'", path);
  std::string out(limit, '\0');
  in.read(&out[0], static_cast<std::streamsize>(limit));
  out.resize(static_cast<size_t>(in.gcount()));
  return out;
}

// Parses the header of a .npy file from its first bytes and checks the data size.
TensorFileInfo parse_npy_header(const std::string& path, const std::string& file, uint64_t file_size) {
  if (file.size() < 10 || file.compare(0, 6, "\x93NUMPY") != 0) throw_input_error("'{}' is not a .npy file (bad magic)", path);
  const int major = static_cast<unsigned char>(file[6]);
  size_t header_length, header_start;
  if (major == 1) {
    header_length = static_cast<unsigned char>(file[8]) | (static_cast<unsigned char>(file[9]) << 8);
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (file.size() < 12) throw_input_error("'{}': truncated .npy header", path);
    uint32_t length;
    std::memcpy(&length, file.data() + 8, 4);
    header_length = length;
    header_start = 12;
  } else {
    throw_input_error("'{}': unsupported .npy version {}", path, major);
  }
  if (header_start + header_length > file.size()) throw_input_error("'{}': truncated .npy header", path);
  const std::string header = file.substr(header_start, header_length);

  std::smatch match;
  if (!std::regex_search(header, match, std::regex(R"('descr'\s*:\s*'([^']*)')"))) {
    throw_input_error("'{}': .npy header has no 'descr'", path);
  }
  const std::string descr = match[1];
  TensorFileInfo info;
  if (descr == "<f4") {
    info.stored_dtype = "float32";
  } else if (descr == "<f2") {
    info.stored_dtype = "float16";
  } else {
    throw_input_error("'{}': dtype '{}' is not supported; bcfeat reads float32 ('<f4') and float16 ('<f2')", path, descr);
  }
  if (std::regex_search(header, std::regex(R"('fortran_order'\s*:\s*True)"))) {
    throw_input_error("'{}': Fortran-ordered arrays are not supported; save with np.ascontiguousarray", path);
  }
  if (!std::regex_search(header, match, std::regex(R"('shape'\s*:\s*\(([^)]*)\))"))) {
    throw_input_error("'{}': .npy header has no 'shape'", path);
  }
  const std::string dims = match[1];
  std::regex number(R"(\d+)");
  for (auto it = std::sregex_iterator(dims.begin(), dims.end(), number); it != std::sregex_iterator(); ++it) {
    if (it->length() > 15) throw_input_error("'{}': .npy shape ({}) is too large", path, dims);
    info.shape.push_back(std::stoll(it->str()));
  }
  info.data_offset = header_start + header_length;
  info.data_bytes = file_size - info.data_offset;
  check_data_size(path, info);
  return info;
}

}  // namespace

LoadedTensor read_npy(const std::string& path) {
  const std::string file = read_text_file(path);
  const TensorFileInfo info = parse_npy_header(path, file, file.size());
  return {decode_elements(file.data() + info.data_offset, info), info.stored_dtype};
}

namespace {
nlohmann::json safetensors_header(const std::string& path, const std::string& file, size_t& data_start) {
  if (file.size() < 8) throw_input_error("'{}' is not a .safetensors file (too short)", path);
  uint64_t length;
  std::memcpy(&length, file.data(), 8);
  if (length > file.size() - 8) throw_input_error("'{}': safetensors header length {} exceeds the file", path, length);
  data_start = 8 + length;
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(file.substr(8, length));
  } catch (const nlohmann::json::exception& e) {
    throw_input_error("'{}': safetensors header is not valid JSON: {}", path, e.what());
  }
  if (!header.is_object()) throw_input_error("'{}': safetensors header is not a JSON object", path);
  return header;
}
}  // namespace

namespace {
TensorFileInfo safetensors_entry(const std::string& path, const nlohmann::json& header, size_t header_end,
                                 uint64_t file_size, const std::string& key_in) {
  std::vector<std::string> keys;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() != "__metadata__") keys.push_back(it.key());
  }
  std::string key = key_in;
  if (key.empty()) {
    if (keys.size() != 1) throw_input_error("'{}' holds {} tensors; name one with features.key (keys: {})", path, keys.size(), join(keys));
    key = keys.front();
  }
  if (!header.contains(key)) throw_input_error("'{}' has no tensor '{}'{}; keys: {}", path, key, did_you_mean(key, keys), join(keys));
  const nlohmann::json& entry = header[key];
  try {
    TensorFileInfo info;
    const std::string stored = entry.at("dtype").get<std::string>();
    if (stored == "F32") {
      info.stored_dtype = "float32";
    } else if (stored == "F16") {
      info.stored_dtype = "float16";
    } else if (stored == "BF16") {
      info.stored_dtype = "bfloat16";
    } else {
      throw_input_error("'{}': tensor '{}' has dtype {}; bcfeat reads F32, F16 and BF16", path, key, stored);
    }
    info.shape = entry.at("shape").get<std::vector<int64_t>>();
    const auto offsets = entry.at("data_offsets").get<std::vector<uint64_t>>();
    if (offsets.size() != 2 || offsets[0] > offsets[1] || header_end > file_size || offsets[1] > file_size - header_end) {
      throw_input_error("'{}': tensor '{}' has data offsets outside the file", path, key);
    }
    info.data_offset = header_end + offsets[0];
    info.data_bytes = offsets[1] - offsets[0];
    check_data_size(path, info);
    return info;
  } catch (const nlohmann::json::exception& e) {
    throw_input_error("'{}': malformed safetensors entry '{}': {}", path, key, e.what());
  }
}
}  // namespace

LoadedTensor read_safetensors(const std::string& path, const std::string& key) {
  const std::string file = read_text_file(path);
  size_t data_start = 0;
  const nlohmann::json header = safetensors_header(path, file, data_start);
  const TensorFileInfo info = safetensors_entry(path, header, data_start, file.size(), key);
  return {decode_elements(file.data() + info.data_offset, info), info.stored_dtype};
}

std::vector<std::pair<std::string, LoadedTensor>> read_safetensors_all(const std::string& path) {
  if (!fs::is_regular_file(path)) throw_input_error("'{}' does not exist", path);
  const std::string file = read_text_file(path);
  size_t data_start = 0;
  const nlohmann::json header = safetensors_header(path, file, data_start);
  std::vector<std::pair<std::string, LoadedTensor>> out;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") continue;
    const TensorFileInfo info = safetensors_entry(path, header, data_start, file.size(), it.key());
    out.emplace_back(it.key(), LoadedTensor{decode_elements(file.data() + info.data_offset, info), info.stored_dtype});
  }
  return out;
}

TensorFileInfo inspect_tensor_file(const std::string& path, const std::string& key) {
  const std::string extension = fs::path(path).extension().string();
  if (!fs::is_regular_file(path)) throw_input_error("feature file '{}' does not exist", path);
  const uint64_t size = fs::file_size(path);
  if (extension == ".npy") return parse_npy_header(path, read_prefix(path, 1 << 16), size);
  if (extension == ".safetensors") {
    const std::string head = read_prefix(path, 8);
    uint64_t length = 0;
    if (head.size() == 8) std::memcpy(&length, head.data(), 8);
    if (head.size() < 8 || length > size - 8) throw_input_error("'{}' is not a .safetensors file (bad header length)", path);
    size_t data_start = 0;
    const nlohmann::json header = safetensors_header(path, read_prefix(path, 8 + length), data_start);
    return safetensors_entry(path, header, data_start, size, key);
  }
  throw_input_error("'{}': unknown feature file type '{}'; use .npy or .safetensors", path, extension);
}

LoadedTensor read_tensor_file(const std::string& path, const std::string& key) {
  const std::string extension = fs::path(path).extension().string();
  if (!fs::exists(path)) throw_input_error("feature file '{}' does not exist", path);
  if (extension == ".npy") return read_npy(path);
  if (extension == ".safetensors") return read_safetensors(path, key);
  throw_input_error("'{}': unknown feature file type '{}'; use .npy or .safetensors", path, extension);
}

void write_npy(const std::string& path, const torch::Tensor& values, const std::string& dtype) {
  const std::string data = encode_elements(values, dtype);
  std::vector<int64_t> shape(values.sizes().begin(), values.sizes().end());
  std::string header = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}",
                                   dtype == "float32" ? "<f4" : "<f2", shape_text(shape));
  // Pad so that magic + version + length + header is a multiple of 64, ending in '\n'.
  const size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';
  std::string file = "\x93NUMPY";
  file += '\x01';
  file += '\x00';
  file += static_cast<char>(header.size() & 0xff);
  file += static_cast<char>(header.size() >> 8);
  file += header;
  file += data;
  write_file_atomic(path, file);
}

void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                       const std::string& dtype) {
  nlohmann::json header = nlohmann::json::object();
  std::string data;
  for (const auto& [name, tensor] : tensors) {
    const std::string bytes = encode_elements(tensor, dtype);
    header[name] = {{"dtype", dtype == "float32" ? "F32" : "F16"},
                    {"shape", std::vector<int64_t>(tensor.sizes().begin(), tensor.sizes().end())},
                    {"data_offsets", {data.size(), data.size() + bytes.size()}}};
    data += bytes;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  std::string file(8, '\0');
  const uint64_t length = text.size();
  std::memcpy(&file[0], &length, 8);
  write_file_atomic(path, file + text + data);
}

}  // namespace bcfeat
