// Reading and writing feature tensors: NumPy .npy and .safetensors.
//
// Supported element types: float32 and float16 (.npy '<f4'/'<f2'; safetensors F32/F16/BF16).
// Tensors come back as contiguous float32 CPU tensors; the stored dtype is reported so
// that callers can tell fp16 sources from fp32 ones. Malformed files (bad magic, header,
// dtype, Fortran order, or a size that does not match the shape) are InputErrors that
// name the file and the problem.
#pragma once

#include <string>
#include <vector>

#include <torch/types.h>

namespace bcfeat {

struct LoadedTensor {
  torch::Tensor values;     // float32, contiguous, CPU
  std::string stored_dtype; // "float32", "float16", "bfloat16"
};

// What a tensor file holds, from its header alone (the data size is checked against it).
struct TensorFileInfo {
  std::string stored_dtype;
  std::vector<int64_t> shape;
  size_t data_offset = 0;
  size_t data_bytes = 0;
};
TensorFileInfo inspect_tensor_file(const std::string& path, const std::string& key = "");

LoadedTensor read_npy(const std::string& path);
// `key` may be empty when the file holds exactly one tensor.
LoadedTensor read_safetensors(const std::string& path, const std::string& key);
// Every tensor of a .safetensors file, by name (the file is read once).
std::vector<std::pair<std::string, LoadedTensor>> read_safetensors_all(const std::string& path);
// Dispatches on the extension (.npy or .safetensors).
LoadedTensor read_tensor_file(const std::string& path, const std::string& key = "");

// Writes a float tensor as .npy ("float32" or "float16"), atomically.
void write_npy(const std::string& path, const torch::Tensor& values, const std::string& dtype = "float32");
// Writes named float tensors as .safetensors ("float32" or "float16"), atomically.
void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                       const std::string& dtype = "float32");

}  // namespace bcfeat
