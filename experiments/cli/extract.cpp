// `bcfeat extract efficientnet_lite0 WEIGHTS IMAGES_DIR --output OUT.safetensors`: a pretrained
// image encoder's outputs on real photographs, as a tensor file any bcfeat feature source reads:
// "logits" [N, 1000] and, for each of --taps (stage1 .. stage7, head), its feature map as
// tokens [N, h*w, C] (row-major). --first/--count choose the images (file-name order).
#include <fmt/format.h>

#include "bcfeat/datasets/photos.h"
#include "bcfeat/framework/device.h"
#include "bcfeat/framework/error.h"
#include "bcfeat/framework/models/efficientnet.h"
#include "bcfeat/framework/tensor_io.h"
#include "cli.h"

namespace bcfeat {

int command_extract(Args& args) {
  const std::string model_name = args.positional("MODEL");
  const std::string weights = args.positional("WEIGHTS");
  const std::string images = args.positional("IMAGES_DIR");
  const std::string output = args.option("--output", "");
  const std::vector<std::string> taps = split_list(args.option("--taps", ""));
  const int first = args.int_option("--first", 0, 0, 1 << 30);
  const int count = args.int_option("--count", -1, -1, 1 << 30);
  const int batch = args.int_option("--batch", 32, 1, 4096);
  const std::string dtype = args.option("--dtype", "float32");
  const std::string device_name = args.option("--device", "cpu");
  args.finish();
  if (model_name != "efficientnet_lite0") throw_input_error("bcfeat extract: unknown model '{}'; valid: efficientnet_lite0", model_name);
  if (output.empty()) throw_input_error("bcfeat extract: --output FILE.safetensors is required");
  if (dtype != "float32" && dtype != "float16") throw_input_error("--dtype must be float32 or float16, got '{}'", dtype);
  for (const auto& tap : taps) EfficientNetLiteImpl::tap_channels(tap);  // names checked before any work
  const torch::Device device = pick_device(device_name);
  const std::vector<std::string> files = photo_files(images, first, count);
  EfficientNetLite model = load_efficientnet_lite(weights, device);
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> logits;
  std::vector<std::vector<torch::Tensor>> maps(taps.size());
  for (size_t start = 0; start < files.size(); start += static_cast<size_t>(batch)) {
    const std::vector<std::string> part(files.begin() + static_cast<long>(start),
                                        files.begin() + static_cast<long>(std::min(files.size(), start + batch)));
    const torch::Tensor x = efficientnet_normalize(load_photos(part)).to(device);
    logits.push_back(model->forward(x, [&](const std::string& name, const torch::Tensor& tokens, int, int) {
      for (size_t t = 0; t < taps.size(); ++t) {
        if (taps[t] == name) maps[t].push_back(tokens.to(torch::kCPU).contiguous());
      }
      return tokens;
    }).cpu());
  }
  std::vector<std::pair<std::string, torch::Tensor>> tensors = {{"logits", torch::cat(logits)}};
  for (size_t t = 0; t < taps.size(); ++t) tensors.emplace_back(taps[t], torch::cat(maps[t]));
  write_safetensors(output, tensors, dtype);
  fmt::print("{}: logits [{}, 1000]", output, files.size());
  for (size_t t = 0; t < taps.size(); ++t) {
    fmt::print(", {} [{}, {}, {}]", taps[t], tensors[t + 1].second.size(0), tensors[t + 1].second.size(1),
               tensors[t + 1].second.size(2));
  }
  fmt::print(" from {} images of '{}'\n", files.size(), images);
  return 0;
}

}  // namespace bcfeat
