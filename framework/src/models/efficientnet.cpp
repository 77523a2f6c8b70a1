#include "bcfeat/framework/models/efficientnet.h"

#include <map>

#include "bcfeat/framework/error.h"
#include "bcfeat/framework/tensor_io.h"

namespace bcfeat {

namespace nn = torch::nn;

namespace {

// TensorFlow's SAME padding for a kernel of `kernel` at `stride`: the output has ceil(in /
// stride) positions, the padding that needs is split with the odd pixel at the end.
torch::Tensor pad_same(const torch::Tensor& x, int kernel, int stride) {
  auto amount = [&](int64_t in) {
    const int64_t out = (in + stride - 1) / stride;
    return std::max<int64_t>((out - 1) * stride + kernel - in, 0);
  };
  const int64_t ph = amount(x.size(2)), pw = amount(x.size(3));
  if (ph == 0 && pw == 0) return x;
  return torch::constant_pad_nd(x, {pw / 2, pw - pw / 2, ph / 2, ph - ph / 2});
}

nn::Conv2d conv(int in, int out, int kernel, int stride, int groups = 1) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, kernel).stride(stride).groups(groups).bias(false));
}

nn::BatchNorm2d batch_norm(int channels) { return nn::BatchNorm2d(nn::BatchNorm2dOptions(channels).eps(1e-3)); }

torch::Tensor clamp6(const torch::Tensor& x) { return torch::clamp(x, 0.0, 6.0); }

// Mobile inverted bottleneck without squeeze-and-excitation, the reference's parameter names.
class MBConvImpl : public nn::Module {
 public:
  MBConvImpl(int in, int out, int kernel, int stride, int expand)
      : kernel_(kernel), stride_(stride), residual_(stride == 1 && in == out) {
    const int hidden = in * expand;
    if (expand != 1) {
      expand_conv_ = register_module("_expand_conv", conv(in, hidden, 1, 1));
      bn0_ = register_module("_bn0", batch_norm(hidden));
    }
    depthwise_conv_ = register_module("_depthwise_conv", conv(hidden, hidden, kernel, stride, hidden));
    bn1_ = register_module("_bn1", batch_norm(hidden));
    project_conv_ = register_module("_project_conv", conv(hidden, out, 1, 1));
    bn2_ = register_module("_bn2", batch_norm(out));
  }

  torch::Tensor forward(const torch::Tensor& input) {
    torch::Tensor x = input;
    if (expand_conv_) x = clamp6(bn0_(expand_conv_(x)));
    x = clamp6(bn1_(depthwise_conv_(pad_same(x, kernel_, stride_))));
    x = bn2_(project_conv_(x));
    return residual_ ? x + input : x;
  }

 private:
  int kernel_, stride_;
  bool residual_;
  nn::Conv2d expand_conv_{nullptr}, depthwise_conv_{nullptr}, project_conv_{nullptr};
  nn::BatchNorm2d bn0_{nullptr}, bn1_{nullptr}, bn2_{nullptr};
};
TORCH_MODULE(MBConv);

struct StageSpec {
  int repeats, kernel, stride, expand, in, out;
};

// EfficientNet-Lite0: width and depth multipliers 1, stem and head not scaled.
const StageSpec kLite0[] = {{1, 3, 1, 1, 32, 16},  {2, 3, 2, 6, 16, 24},  {2, 5, 2, 6, 24, 40},   {3, 3, 2, 6, 40, 80},
                            {3, 5, 1, 6, 80, 112}, {4, 5, 2, 6, 112, 192}, {1, 3, 1, 6, 192, 320}};

// Runs the tap on a feature map [B, C, h, w] as tokens [B, h*w, C].
torch::Tensor apply_tap(const FeatureMapTap& tap, const std::string& name, const torch::Tensor& x) {
  if (!tap) return x;
  const int64_t b = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  const torch::Tensor tokens = x.flatten(2).transpose(1, 2);
  const torch::Tensor back = tap(name, tokens, static_cast<int>(h), static_cast<int>(w));
  if (back.sizes() != tokens.sizes()) {
    throw std::logic_error("feature map tap " + name + " returned another shape");
  }
  return back.transpose(1, 2).reshape({b, c, h, w}).to(x.dtype());
}

}  // namespace

EfficientNetLiteImpl::EfficientNetLiteImpl() {
  conv_stem_ = register_module("_conv_stem", conv(3, 32, 3, 2));
  bn0_ = register_module("_bn0", batch_norm(32));
  blocks_ = register_module("_blocks", nn::ModuleList());
  int stage = 0;
  for (const StageSpec& spec : kLite0) {
    ++stage;
    for (int r = 0; r < spec.repeats; ++r) {
      blocks_->push_back(MBConv(r == 0 ? spec.in : spec.out, spec.out, spec.kernel, r == 0 ? spec.stride : 1, spec.expand));
      stage_of_block_.push_back(stage);
    }
  }
  conv_head_ = register_module("_conv_head", conv(320, 1280, 1, 1));
  bn1_ = register_module("_bn1", batch_norm(1280));
  fc_ = register_module("_fc", nn::Linear(1280, 1000));
}

const std::vector<std::string>& EfficientNetLiteImpl::tap_names() {
  static const std::vector<std::string> names = {"stage1", "stage2", "stage3", "stage4",
                                                 "stage5", "stage6", "stage7", "head"};
  return names;
}

int EfficientNetLiteImpl::tap_channels(const std::string& name) {
  for (int s = 0; s < 7; ++s) {
    if (name == tap_names()[static_cast<size_t>(s)]) return kLite0[s].out;
  }
  if (name == "head") return 1280;
  throw_input_error("efficientnet_lite0 has no tap '{}'; taps: stage1 .. stage7, head", name);
}

torch::Tensor EfficientNetLiteImpl::forward(const torch::Tensor& images, const FeatureMapTap& tap) {
  if (images.dim() != 4 || images.size(1) != 3) throw_input_error("efficientnet_lite0: images must be [B, 3, H, W]");
  torch::Tensor x = clamp6(bn0_(conv_stem_(pad_same(images, 3, 2))));
  for (size_t i = 0; i < blocks_->size(); ++i) {
    x = (*blocks_)[i]->as<MBConv>()->forward(x);
    const bool stage_ends = i + 1 == blocks_->size() || stage_of_block_[i + 1] != stage_of_block_[i];
    if (stage_ends) x = apply_tap(tap, tap_names()[static_cast<size_t>(stage_of_block_[i] - 1)], x);
  }
  x = apply_tap(tap, "head", clamp6(bn1_(conv_head_(x))));
  return fc_(x.mean({2, 3}));
}

torch::Tensor efficientnet_normalize(const torch::Tensor& pixels) { return (pixels - 127.0) / 128.0; }

EfficientNetLite load_efficientnet_lite(const std::string& path, torch::Device device) {
  std::map<std::string, torch::Tensor> stored;
  for (auto& [name, tensor] : read_safetensors_all(path)) stored[name] = tensor.values;
  EfficientNetLite model;
  torch::NoGradGuard no_grad;
  auto fill = [&](const std::string& name, torch::Tensor& target) {
    const auto it = stored.find(name);
    if (it == stored.end()) throw_input_error("'{}' is not efficientnet_lite0 weights: no tensor '{}'", path, name);
    if (it->second.sizes() != target.sizes()) {
      throw_input_error("'{}': tensor '{}' has shape {}, efficientnet_lite0 needs {}", path, name,
                        fmt::format("{}", it->second.sizes()), fmt::format("{}", target.sizes()));
    }
    target.copy_(it->second);
  };
  for (auto& item : model->named_parameters()) fill(item.key(), item.value());
  for (auto& item : model->named_buffers()) {
    if (item.key().find("num_batches_tracked") == std::string::npos) fill(item.key(), item.value());
  }
  model->eval();
  model->to(device);
  return model;
}

}  // namespace bcfeat
