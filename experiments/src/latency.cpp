// latency: what compressed visual features cost and save inside an inference pass, stage by
// stage. One run is one compressor (a row of the table; sweep compression.* for the rows).
//
// latency.scale features  the features.* source (default: synthetic, batch 32 of 24x24 = 576
//                         tokens x 1024 channels, LLaVA-1.5's visual tokens) consumed by a
//                         VisualConsumer (consumer.*: a projector to the consumer's width, then
//                         decoder blocks whose text queries attend to the visual tokens).
// latency.scale tinyvlm   model_file's visual tokens after its tap, latency.batch test images,
//                         consumed by the rest of the model (the ViT blocks after the tap, then
//                         the fusion and answer head, or CLIP's pooling and projection).
//
// The batch's features are compressed once into one stream. With latency.source cache (the
// default) the stream waits in pinned host memory, as a feature cache serves it; with source
// encoder (tinyvlm) each pass starts from the images. Stages, each timed alone over
// latency.repetitions calls after latency.warmup (CUDA events on a GPU; the host clock on the
// CPU, where the times say "cpu" and the model runs in fp32):
//   transfer  host -> device: the stream (cache) or the images (encoder)
//   encoder   images -> the tokens at the tap (encoder)
//   encode    those tokens compressed on the device (encoder)
//   decode    the stream into the consumer's [B, N, D] tensor in latency.dtype
//   consumer  the consumer on the decoded tensor
//   total     all of them in one call
// Metrics: <stage>_ms_median and _p90, the caching allocator's peak during the total passes,
// the stream's bytes per batch beside fp16's (memory_saving), bits_per_value, and, for a tinyvlm
// with eval.scenes > 0, the VQA accuracy of the same compressor (fp32 model, batches of
// latency.batch, as vqa_eval computes it) with its paired-bootstrap interval.
#include <chrono>
#include <cstring>
#include <functional>

#include <fmt/format.h>

#include "bcfeat/datasets/features.h"
#include "bcfeat/experiments/experiment.h"
#include "bcfeat/framework/device.h"
#include "bcfeat/framework/error.h"
#include "bcfeat/framework/metrics.h"
#include "bcfeat/framework/models/consumer.h"
#include "bcfeat/framework/models/feature_tap.h"
#include "bcfeat/framework/models/model_file.h"
#include "bcfeat/kernels/cuda_device.h"
#include "inference.h"

namespace bcfeat {

namespace {

// Milliseconds of each of `repetitions` calls after `warmup` untimed ones.
std::vector<double> time_stage(bool cuda, const std::function<void()>& body, int warmup, int repetitions) {
  if (cuda) return time_cuda_calls(body, warmup, repetitions);
  for (int i = 0; i < warmup; ++i) body();
  std::vector<double> out;
  for (int i = 0; i < repetitions; ++i) {
    const auto start = std::chrono::steady_clock::now();
    body();
    out.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  return out;
}

torch::ScalarType dtype_named(const std::string& name) {
  if (name == "fp16") return torch::kFloat16;
  if (name == "bf16") return torch::kBFloat16;
  return torch::kFloat32;
}

const char* dtype_name(torch::ScalarType dtype) {
  return dtype == torch::kFloat16 ? "fp16" : dtype == torch::kBFloat16 ? "bf16" : "fp32";
}

int64_t parameter_bytes(const torch::nn::Module& module) {
  int64_t bytes = 0;
  for (const auto& p : module.parameters()) bytes += p.numel() * static_cast<int64_t>(p.element_size());
  return bytes;
}

class Latency : public Experiment {
 public:
  Latency() {
    features_.batch = 32;
    features_.tokens_hw = {24, 24};
    features_.dim = 1024;
  }

  void declare(ParamSet& params) override {
    compression_.declare(params);
    params.add("latency.scale", &scale_,
               "features (the features.* tokens consumed by consumer.*) or tinyvlm (model_file's tokens at its "
               "tap, consumed by the rest of the model)")
        .one_of({"features", "tinyvlm"});
    params.add("latency.source", &source_,
               "cache (the compressed batch waits in pinned host memory) or encoder (tinyvlm: each pass starts from "
               "the images)")
        .one_of({"cache", "encoder"});
    params.add("latency.batch", &batch_, "tinyvlm: images per batch (features: the features' batch)").range(1, 65536);
    params.add("latency.dtype", &dtype_, "the model's and the decoded features' dtype on a GPU (the CPU runs fp32)")
        .one_of({"fp16", "bf16", "fp32"});
    params.add("latency.device", &device_, "cpu, cuda or auto").one_of({"auto", "cpu", "cuda"});
    params.add("latency.repetitions", &repetitions_, "timed calls of each stage").range(1, 100000);
    params.add("latency.warmup", &warmup_, "untimed calls before them").range(0, 100000);
    features_.declare(params);
    params.add("consumer.width", &consumer_.width, "features: the consumer's width (the projector maps D to it)")
        .range(8, 65536);
    params.add("consumer.depth", &consumer_.depth, "features: decoder blocks").range(0, 256);
    params.add("consumer.heads", &consumer_.heads, "features: attention heads (divide the width)").range(1, 1024);
    params.add("consumer.queries", &consumer_.queries, "features: text tokens per image").range(1, 65536);
    params.add("consumer.mlp_ratio", &consumer_.mlp_ratio, "features: MLP width / width").range(1, 16);
    params.add("model_file", &model_file_, "tinyvlm: model.pt (or checkpoint.pt) written by a train run");
    params.add("taps", &taps_, "tinyvlm: the one ViT block after which the tokens are compressed (1..depth or 'last')");
    params.add("eval.scenes", &scenes_, "tinyvlm: test scenes whose VQA accuracy is measured with this compressor (0 = none)")
        .range(0, 1000000);
    params.add("eval.questions_per_scene", &per_scene_, "tinyvlm: questions asked about each scene").range(1, 64);
    params.add("eval.bootstrap", &bootstrap_, "bootstrap resamples for the drop's interval").range(100, 1000000);
  }

  void validate() const override {
    make_compressor(compression_);
    if (scale_ == "features") {
      check_feature_source(features_);
      if (consumer_.width % consumer_.heads != 0) {
        throw_input_error("consumer.width {} is not a multiple of consumer.heads {}", consumer_.width, consumer_.heads);
      }
      if (source_ == "encoder") throw_input_error("latency.source encoder needs latency.scale tinyvlm (features have no encoder)");
      if (scenes_ > 0) throw_input_error("eval.scenes: VQA accuracy needs latency.scale tinyvlm");
      return;
    }
    if (model_file_.empty()) throw_input_error("latency.scale tinyvlm: 'model_file' is required (a train run's model.pt)");
    const nlohmann::json meta = read_meta(model_file_);
    tap_layer(meta.at("model").at("depth").get<int>());
    if (scenes_ > 0 && meta.value("kind", "") != "tinyvlm") {
      throw_input_error("eval.scenes: VQA accuracy needs a tinyvlm model; '{}' holds a {} model", model_file_,
                        meta.value("kind", "?"));
    }
  }

  nlohmann::json run(uint64_t seed, RunContext& context) override {
    const torch::Device device = pick_device(device_);
    const bool cuda = device.is_cuda();
    const torch::ScalarType dtype = cuda ? dtype_named(dtype_) : torch::kFloat32;
    const std::shared_ptr<Compressor> compressor = make_compressor(compression_);
    torch::NoGradGuard no_grad;
    nlohmann::json metrics;

    // The features of one batch (float32 on the CPU), how each pass consumes them, and (source
    // encoder) how it makes them from images.
    torch::Tensor features, images;
    std::function<torch::Tensor(const torch::Tensor&)> consume;  // [B, N, D] on the device
    std::function<torch::Tensor(const torch::Tensor&)> encode_images;  // images on the device -> [B, N, D]
    std::shared_ptr<torch::nn::Module> module;
    Model model;
    VisualConsumer consumer{nullptr};
    torch::Tensor questions, image_of;
    if (scale_ == "features") {
      features = load_features(features_, seed);
      ConsumerOptions options = consumer_;
      options.dim = static_cast<int>(features.size(2));
      torch::manual_seed(seed);
      consumer = VisualConsumer(options);
      consumer->eval();
      consumer->to(device, dtype);
      module = consumer.ptr();
      consume = [&](const torch::Tensor& x) { return consumer->forward(x); };
    } else {
      model = load_model(model_file_, device);
      const int layer = tap_layer(model.options.depth);
      const ShapesVqaOptions data_options = shapes_vqa_from_meta(model.meta);
      if (scenes_ > 0) metrics.update(accuracy(model, data_options, layer, compressor, device, seed, context));
      const VqaTensors batch = vqa_tensors(data_options, VqaSplit::kTest, 0, batch_, per_scene_, model.options.question_length);
      model.module()->to(dtype);
      images = batch.images;
      encode_images = [&model, layer, dtype](const torch::Tensor& x) {
        return model.encode_to(x.to(dtype), layer).permute({1, 0, 2});
      };
      features = encode_images(images.to(device)).to(torch::kCPU, torch::kFloat32).contiguous();
      if (model.vqa) {
        std::vector<int64_t> scenes(static_cast<size_t>(batch.scenes()));
        for (size_t i = 0; i < scenes.size(); ++i) scenes[i] = static_cast<int64_t>(i);
        const auto asked = batch.questions_of(scenes);
        questions = batch.questions.index_select(0, asked.first).to(device);
        image_of = asked.second.to(device);
        consume = [&model, &questions, &image_of, layer](const torch::Tensor& x) {
          return model.vqa->ask(model.encode_from(layer, x.permute({1, 0, 2})), questions, image_of);
        };
      } else {
        consume = [&model, layer](const torch::Tensor& x) { return model.encode_from(layer, x.permute({1, 0, 2})); };
      }
      module = model.module();
    }

    // The batch's stream, on the host (pinned on a GPU) and in a device buffer it is copied to.
    const Compressed host = compressor->compress(cuda ? features.to(device) : features).to_host();
    const auto stream_bytes = static_cast<int64_t>(host.bytes.size());
    const auto pinned_options = torch::dtype(torch::kUInt8).pinned_memory(cuda);
    torch::Tensor pinned = torch::empty({std::max<int64_t>(stream_bytes, 1)}, pinned_options);
    std::memcpy(pinned.data_ptr<uint8_t>(), host.bytes.data(), host.bytes.size());
    torch::Tensor landing = torch::empty_like(pinned, torch::dtype(torch::kUInt8).device(device));
    Compressed landed = host;
    if (cuda) {
      landed.bytes.clear();
      landed.device_bytes = landing.narrow(0, 0, stream_bytes);
    }
    const torch::Tensor pinned_images =
        images.defined() ? (cuda ? images.pin_memory() : images.clone()) : torch::Tensor();
    torch::Tensor images_on_device = images.defined() ? images.to(device) : torch::Tensor();

    // The stages.
    auto transfer = [&] {
      if (source_ == "encoder") {
        images_on_device.copy_(pinned_images, /*non_blocking=*/true);
      } else if (cuda) {
        landing.copy_(pinned, /*non_blocking=*/true);
      } else {
        landed.bytes.assign(pinned.data_ptr<uint8_t>(), pinned.data_ptr<uint8_t>() + stream_bytes);
      }
    };
    auto decode = [&](const Compressed& stream) { return compressor->decompress(stream, dtype); };
    const torch::Tensor decoded = decode(landed);
    const torch::Tensor tokens_on_device = features.to(device);
    struct Stage {
      std::string name;
      std::function<void()> body;
    };
    std::vector<Stage> stages = {{"transfer", transfer}};
    if (source_ == "encoder") {
      stages.push_back({"encoder", [&] { (void)encode_images(images_on_device); }});
      stages.push_back({"encode", [&] { (void)compressor->compress(tokens_on_device); }});
    }
    stages.push_back({"decode", [&] { (void)decode(landed); }});
    stages.push_back({"consumer", [&] { (void)consume(decoded); }});
    stages.push_back({"total", [&] {
                        transfer();
                        if (source_ == "encoder") {
                          const torch::Tensor tokens = encode_images(images_on_device).to(torch::kFloat32).contiguous();
                          (void)consume(decode(compressor->compress(tokens)));
                        } else {
                          (void)consume(decode(landed));
                        }
                      }});
    for (const auto& stage : stages) {
      if (stage.name == "total") reset_gpu_memory_peak();
      const std::vector<double> ms = time_stage(cuda, stage.body, warmup_, repetitions_);
      metrics[stage.name + "_ms_median"] = quantile(ms, 0.5);
      metrics[stage.name + "_ms_p90"] = quantile(ms, 0.9);
    }
    if (cuda) metrics["peak_memory_bytes"] = gpu_memory_peak_bytes();

    metrics.update(rate_metrics(stream_bytes, host.side_bytes, features.numel()));
    metrics["feature_bytes_per_batch"] = stream_bytes;
    metrics["feature_fp16_bytes_per_batch"] = 2 * features.numel();
    metrics["memory_saving"] = 2.0 * static_cast<double>(features.numel()) / static_cast<double>(stream_bytes);
    metrics["decoded_bytes_per_batch"] = decoded.numel() * static_cast<int64_t>(decoded.element_size());
    metrics["model_parameter_bytes"] = parameter_bytes(*module);
    metrics["batch"] = features.size(0);
    metrics["tokens"] = features.size(1);
    metrics["dim"] = features.size(2);
    metrics["dtype"] = dtype_name(dtype);
    metrics["timing"] = cuda ? "cuda events: " + cuda_device_name(0) : "cpu (host clock)";
    metrics["decode_device"] = compressor->timing_device();
    context.log << fmt::format("{} x {} x {} {}: decode {:.3f} ms, consumer {:.3f} ms, total {:.3f} ms ({}); {} bytes per batch\n",
                               features.size(0), features.size(1), features.size(2), dtype_name(dtype),
                               metrics["decode_ms_median"].get<double>(), metrics["consumer_ms_median"].get<double>(),
                               metrics["total_ms_median"].get<double>(), metrics["timing"].get<std::string>(),
                               stream_bytes);
    return metrics;
  }

 private:
  int tap_layer(int depth) const {
    const std::vector<int> layers = resolve_taps(taps_, depth);
    if (layers.size() != 1) throw_input_error("taps: latency compresses the tokens of one tap, got {}", layers.size());
    return layers[0];
  }

  // The VQA accuracy of this compressor at this tap, as vqa_eval measures it (fp32 model,
  // batches of latency.batch, one stream per batch).
  nlohmann::json accuracy(Model& model, const ShapesVqaOptions& data_options, int layer,
                          const std::shared_ptr<Compressor>& compressor, torch::Device device, uint64_t seed,
                          RunContext& context) const {
    const VqaTensors data = vqa_tensors(data_options, VqaSplit::kTest, 0, scenes_, per_scene_, model.options.question_length);
    const torch::Tensor reference = predict_answers(model.vqa, data, batch_, device);
    FeatureTap tap(compressor, {layer});
    const torch::Tensor compressed = predict_answers(model.vqa, data, batch_, device, tap.tap());
    nlohmann::json metrics = vqa_accuracy_metrics(data, reference, compressed, bootstrap_, seed ^ 0xB0075724Bull);
    context.log << fmt::format("accuracy {:.2f}% (uncompressed {:.2f}%) on {} questions\n",
                               metrics["vqa_accuracy"].get<double>(), metrics["vqa_accuracy_uncompressed"].get<double>(),
                               metrics["questions"].get<int64_t>());
    return metrics;
  }

  CompressionOptions compression_;
  FeatureOptions features_;
  ConsumerOptions consumer_;
  std::string scale_ = "features", source_ = "cache", dtype_ = "fp16", device_ = "auto", model_file_;
  std::vector<std::string> taps_ = {"last"};
  int batch_ = 32, repetitions_ = 30, warmup_ = 5, scenes_ = 0, per_scene_ = 8, bootstrap_ = 1000;
};

}  // namespace

ExperimentEntry latency_entry() {
  return {"latency",
          "per-stage latency (transfer, encoder, encode, decode, consumer, total), peak GPU memory and bytes per "
          "batch of one compressor, at paper scale or on a tinyvlm",
          [] { return std::make_unique<Latency>(); }};
}

}  // namespace bcfeat
