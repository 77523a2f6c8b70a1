// vqa_eval and clip_eval: what compressing the visual features of a trained model costs.
//
// Both load a model file written by the train experiment (model.pt or checkpoint.pt; the
// model and its data distribution come from the file) and score a split twice: uncompressed,
// and with the visual tokens after each `taps` block compressed by the configured compressor
// and decompressed (the forward pass continues from the reconstruction). With
// eval.calibration_scenes = k > 0 the compressor first fits its shared state (codebooks,
// per_dataset maps) on the tapped features of train scenes [0, k); that state is counted once.
//
// vqa_eval (tinyvlm)  vqa_accuracy, vqa_accuracy_uncompressed, vqa_accuracy_drop with a 95%
//                     paired-bootstrap interval over questions, accuracy_<type> per question type.
// clip_eval (clip)    image→text and text→image recall@1/@5 (compressed and uncompressed),
//                     recall_i2t_1_drop with its paired-bootstrap interval over scenes, and
//                     alignment = mean cosine(compressed image, caption) / the same uncompressed,
//                     alignment_accuracy = % of images whose nearest caption is unchanged.
// Both: the rate/distortion of the tapped features (bits_per_value over every tapped value,
// every side byte), memory per image beside fp16, encode/decode time.
//
// eval.compress_per: image makes each image's tokens one stream, as a feature cache stores
// them. With features.cache (written by `bcfeat cache build` from the same config) the
// compressed pass reads the cache's records instead of running the image encoder up to the
// tap, and reports the same numbers as compressing per image on the fly, plus the cache's
// bytes beside an fp16 cache and the time to serve a batch from it. The uncompressed pass
// still runs the encoder: it is the reference of the drop and of the distortion.
#include <chrono>
#include <filesystem>

#include "bcfeat/datasets/feature_cache.h"
#include "bcfeat/experiments/experiment.h"
#include "bcfeat/framework/error.h"
#include "bcfeat/framework/device.h"
#include "bcfeat/framework/metrics.h"
#include "bcfeat/framework/models/feature_tap.h"
#include "bcfeat/framework/models/model_file.h"
#include "bcfeat/framework/provenance.h"
#include "inference.h"
#include "model_params.h"

namespace bcfeat {

namespace {

namespace fs = std::filesystem;

// What both evaluations share: the model file, the split, taps and the compressor.
class VlmEval : public Experiment {
 public:
  explicit VlmEval(std::string kind) : kind_(std::move(kind)) {}

  void declare(ParamSet& params) override {
    compression_.declare(params);
    allocation_.declare(params);
    params.add("model_file", &model_file_, "model.pt (or checkpoint.pt) written by a train run");
    params.add("eval.split", &split_, "scenes of this split (train: the first scenes a train run saw, to measure memorisation)")
        .one_of({"train", "val", "test"});
    params.add("eval.scenes", &scenes_, "scenes evaluated (indices [0, n) of the split)").range(2, 1000000);
    if (kind_ == "tinyvlm") {
      params.add("eval.questions_per_scene", &per_scene_, "questions asked about each scene").range(1, 64);
    }
    params.add("eval.batch", &batch_, "images per forward pass").range(1, 65536);
    params.add("eval.bootstrap", &bootstrap_, "bootstrap resamples for the drop's interval").range(100, 1000000);
    params.add("eval.calibration_scenes", &calibration_scenes_,
               "train scenes [0, k) whose tapped features fit the compressor's shared state (0 = none)")
        .range(0, 1000000);
    params.add("eval.device", &device_, "cpu, cuda or auto").one_of({"auto", "cpu", "cuda"});
    params.add_tree("taps", &taps_, "list or map",
                    "ViT blocks after which the visual tokens are compressed: a list of numbers 1..depth or 'last' "
                    "(each by the compression block), or a map of block -> compressor: compression keys over the "
                    "compression block ({1: {method: lossless}, last: {format: bc1}}) or one word (a method, int2..int8, "
                    "a block format)");
    params.add("tap_scheme", &tap_scheme_,
               "per-layer compressors for a list of taps by depth (first third early, then middle, late): "
               "lossless_bc6h_bc1 or bc7_bc6h_bc3 (early, middle, late); none = the compression block everywhere")
        .one_of(tap_scheme_names());
    params.add("eval.compress_per", &compress_per_,
               "batch (a batch's tapped tokens are one stream) or image (one stream per image, as a feature cache "
               "stores them)")
        .one_of({"batch", "image"});
    params.add("features.cache", &cache_,
               "feature cache (bcfeat cache build) of this config's compressed features: the compressed pass reads "
               "it instead of running the image encoder; one tap, eval.compress_per image (empty: none)");
  }

  void validate() const override {
    validate_inputs();
    if (!compression_.state.empty() && calibration_scenes_ > 0) {
      throw_input_error("compression.state gives the compressor's shared state; eval.calibration_scenes = {} would "
                        "refit it (set it to 0)",
                        calibration_scenes_);
    }
    if (allocation_.enabled()) {
      if (!cache_.empty()) throw_input_error("features.cache holds one stream per image; allocation writes one per tier");
    }
    if (cache_.empty()) return;
    if (compress_per_ != "image") {
      throw_input_error("features.cache holds one stream per image: set eval.compress_per: image");
    }
    if (!fs::exists(cache_) && !fs::exists(cache_ + ".building")) {
      throw_input_error("features.cache '{}' does not exist; build it with: bcfeat cache build CONFIG", cache_);
    }
    const FeatureCache cache(cache_);
    check_cache(cache, /*verify_records=*/true);
  }

  bool build_feature_cache(const std::string& output, std::ostream& log) override {
    validate_inputs();
    const std::string path = output.empty() ? cache_ : output;
    if (path.empty()) throw_input_error("cache build: name the file with --output FILE or features.cache in the config");
    const int layer = cache_tap();
    if (fs::exists(path)) {
      const FeatureCache existing(path);
      check_cache(existing, /*verify_records=*/true);
      log << fmt::format("'{}' is complete ({} images); nothing to do\n", path, existing.records());
      return true;
    }
    Setup s = prepare(log, /*use_cache=*/false);
    FeatureCacheWriter writer(path, cache_description(s.model.meta), s.compressor->shared_state());
    if (writer.records() > 0) log << fmt::format("resuming '{}' at image {}\n", path, writer.records());
    torch::NoGradGuard no_grad;
    int64_t stored = 0;
    for (int64_t start = writer.records(); start < scenes_; start += batch_) {
      const int64_t end = std::min<int64_t>(scenes_, start + batch_);
      torch::Tensor features;
      s.model.encode_image(s.split.images.slice(0, start, end).to(s.device), [&](int l, const torch::Tensor& tokens) {
        if (l == layer) features = tokens.permute({1, 0, 2}).to(torch::kFloat32).contiguous();
        return tokens;
      });
      for (int64_t i = 0; i < features.size(0); ++i) {
        const Compressed record = s.compressor->compress(features.slice(0, i, i + 1).contiguous());
        stored += record.size();
        writer.append(start + i, record);
      }
    }
    writer.finish();
    const FeatureCache done(path);
    const double fp16 = 2.0 * static_cast<double>(done.records() * s.taps_tokens * s.model.options.width);
    log << fmt::format("'{}': {} images, {} bytes ({} in this build; an fp16 cache holds {:.0f}, {:.2f}x more)\n", path,
                       done.records(), done.file_bytes(), stored, fp16, fp16 / static_cast<double>(done.file_bytes()));
    return true;
  }

 protected:
  void validate_inputs() const {
    if (model_file_.empty()) {
      throw_input_error("{}: 'model_file' is required (a train run's model.pt, e.g. from bcfeat run configs/train_tiny.yaml)",
                        kind_ == "clip" ? "clip_eval" : "vqa_eval");
    }
    const nlohmann::json meta = read_meta(model_file_);
    if (meta.value("kind", "") != kind_) {
      throw_input_error("model_file '{}' holds a {} model; {} needs a {} model", model_file_, meta.value("kind", "?"),
                        kind_ == "clip" ? "clip_eval" : "vqa_eval", kind_);
    }
    const TapSettings taps = tap_settings(meta.at("model").at("depth").get<int>());
    make_compressor(compression_);
    if (allocation_.enabled()) {
      if (taps.taps.size() != 1) {
        throw_input_error("allocation tiers the tokens of one tap; taps names {}", taps.taps.size());
      }
      if (kind_ == "clip" && (allocation_.importance == "query" || allocation_.importance == "gradient")) {
        throw_input_error("allocation.importance {} needs the questions of vqa_eval; clip_eval takes attention, norm, "
                          "random or uniform",
                          allocation_.importance);
      }
      const TinyVlmOptions options = options_from_json(meta.at("model"));
      const int64_t grid = options.image_size / options.patch;
      TieredCompressor(allocation_, taps.taps[0].options, grid, grid, options.width);
    }
  }

  TapSettings tap_settings(int depth) const { return resolve_tap_settings(taps_, compression_, tap_scheme_, depth); }

  // The compressor of a cache's one tap.
  CompressionOptions cache_compression() const {
    return tap_settings(read_meta(model_file_).at("model").at("depth").get<int>()).taps.at(0).options;
  }

  // A cache holds one tap.
  int cache_tap() const {
    const TapSettings taps = tap_settings(read_meta(model_file_).at("model").at("depth").get<int>());
    if (taps.taps.size() != 1) throw_input_error("a feature cache holds the tokens of one tap; taps names {}", taps.taps.size());
    return taps.taps[0].layer;
  }

  // What a cache made from this config records, and what an evaluation checks against it.
  nlohmann::json cache_description(const nlohmann::json& meta) const {
    const TinyVlmOptions options = options_from_json(meta.at("model"));
    const int64_t tokens = static_cast<int64_t>(options.image_size / options.patch) * (options.image_size / options.patch);
    return {{"bcfeat", bcfeat_version()},
            {"experiment", kind_ == "clip" ? "clip_eval" : "vqa_eval"},
            {"model_file", model_file_},
            {"model", file_fingerprint(model_file_)},
            {"split", split_},
            {"tap", cache_tap()},
            {"shape", {1, tokens, options.width}},
            {"compression", cache_compression().stream_keys()},
            {"state", cache_compression().state.empty() ? nlohmann::json() : file_fingerprint(cache_compression().state)},
            {"calibration_scenes", calibration_scenes_}};
  }

  // Throws InputError naming the file and the first thing that differs from this config (or
  // the first record that fails its CRC).
  void check_cache(const FeatureCache& cache, bool verify_records) const {
    const nlohmann::json expected = cache_description(read_meta(model_file_));
    const nlohmann::json& found = cache.description();
    for (const char* key : {"experiment", "model", "split", "tap", "shape", "compression", "state", "calibration_scenes"}) {
      const nlohmann::json value = found.contains(key) ? found.at(key) : nlohmann::json();
      if (value == expected.at(key)) continue;
      if (std::string(key) == "model") {
        throw_input_error("feature cache '{}' was built from another model file ('{}', {}); model_file '{}' is {}",
                          cache.path(), found.value("model_file", "?"), value.dump(), model_file_,
                          expected.at(key).dump());
      }
      throw_input_error("feature cache '{}' was built with {} = {}; this config has {}", cache.path(), key, value.dump(),
                        expected.at(key).dump());
    }
    if (cache.records() < scenes_) {
      throw_input_error("feature cache '{}' holds {} images of the {} split; eval.scenes is {}", cache.path(),
                        cache.records(), split_, scenes_);
    }
    if (!verify_records) return;
    for (int64_t i = 0; i < scenes_; ++i) {
      if (cache.image(i) != i) throw_input_error("'{}': record {}: holds image {}", cache.path(), i, cache.image(i));
    }
  }

  // The model, the split's tensors, and a tap whose compressor is fitted when asked (or given
  // the cache's shared state).
  struct Setup {
    Model model;
    ShapesVqaOptions data;
    VqaTensors split;
    torch::Device device = torch::kCPU;
    std::shared_ptr<Compressor> compressor;  // the first tap's (a cache's one tap)
    std::vector<TapCompressor> tap_compressors;
    std::vector<int> taps;
    int64_t taps_tokens = 0;  // visual tokens per image
    std::shared_ptr<FeatureCache> cache;
  };
  Setup prepare(std::ostream& log, bool use_cache = true) const {
    Setup s;
    s.device = pick_device(device_);
    s.model = load_model(model_file_, s.device);
    s.data = shapes_vqa_from_meta(s.model.meta);
    s.split = vqa_tensors(s.data, split_from_name(split_), 0, scenes_, per_scene_, s.model.options.question_length);
    const TapSettings settings = tap_settings(s.model.options.depth);
    s.taps_tokens = static_cast<int64_t>(s.model.options.image_size / s.model.options.patch) *
                    (s.model.options.image_size / s.model.options.patch);
    for (const auto& tap : settings.taps) {
      s.taps.push_back(tap.layer);
      std::shared_ptr<Compressor> compressor = settings.one_compressor && !s.tap_compressors.empty()
                                                   ? s.tap_compressors.front().compressor
                                                   : std::shared_ptr<Compressor>(make_compressor(tap.options));
      s.tap_compressors.push_back({tap.layer, compressor, compression_label(tap.options)});
    }
    s.compressor = s.tap_compressors.front().compressor;
    if (use_cache && !cache_.empty()) {
      s.cache = std::make_shared<FeatureCache>(cache_);
      check_cache(*s.cache, /*verify_records=*/false);
      s.compressor->load_shared_state(s.cache->shared_state(), s.model.options.width);
      log << fmt::format("compressed features from '{}' ({} images, {} bytes)\n", cache_, s.cache->records(),
                         s.cache->file_bytes());
    } else if (calibration_scenes_ > 0 && !allocation_.enabled()) {
      const VqaTensors calibration = vqa_tensors(s.data, VqaSplit::kTrain, 0, calibration_scenes_, 1, 16);
      std::vector<torch::Tensor> features;
      for (int layer : s.taps) features.push_back(tapped_features(s.model, calibration.images, layer, batch_, s.device));
      if (settings.one_compressor) {
        s.compressor->fit(torch::cat(features));
      } else {
        for (size_t i = 0; i < features.size(); ++i) s.tap_compressors[i].compressor->fit(features[i]);
      }
      int64_t shared = 0;
      for (size_t i = 0; i < s.tap_compressors.size(); ++i) {
        if (i == 0 || !settings.one_compressor) shared += s.tap_compressors[i].compressor->shared_bytes();
      }
      log << fmt::format("compressors fitted on the tapped features of {} train scenes ({} shared bytes)\n",
                         calibration_scenes_, shared);
    }
    return s;
  }

  // The reference pass's tap: with a cache, it keeps the tapped tokens (the originals the
  // distortion is measured against) and changes nothing.
  VisualTap recording_tap(const Setup& s, std::vector<torch::Tensor>& originals) const {
    if (!s.cache) return {};
    const int layer = s.taps.at(0);
    return [layer, &originals](int l, const torch::Tensor& tokens) {
      if (l == layer) originals.push_back(tokens.permute({1, 0, 2}).to(torch::kCPU, torch::kFloat32).contiguous());
      return tokens;
    };
  }

  // The compressed pass's input: decoded cache records, continued through the model from the
  // tap (visual tokens for tinyvlm, embeddings for clip) on the model's device.
  VisualBatch cached_batches(Setup& s, FeatureTap& tap, const torch::Tensor& originals) const {
    return [&s, &tap, originals](int64_t start, int64_t end) {
      std::vector<Compressed> streams;
      for (int64_t i = start; i < end; ++i) streams.push_back(s.cache->record(i));
      const torch::Tensor restored = tap.decode(streams, originals.slice(0, start, end), s.device);
      return s.model.encode_from(s.taps.at(0), restored.permute({1, 0, 2}));
    };
  }

  // The compressed pass's tap: the feature tap, with allocation when configured (scores from
  // the model for the images [batch.first, batch.second) of `data`), its dropped tokens handed
  // to the model.
  VisualTap compressed_tap(Setup& s, FeatureTap& tap, const VqaTensors& data, const std::pair<int64_t, int64_t>& batch,
                           uint64_t seed) const {
    if (allocation_.enabled()) {
      const int64_t grid = s.model.options.image_size / s.model.options.patch;
      auto tiers = std::make_shared<TieredCompressor>(allocation_, tap_settings(s.model.options.depth).taps[0].options,
                                                      grid, grid, s.model.options.width);
      const std::string kind = allocation_.importance;
      auto calls = std::make_shared<uint64_t>(0);
      tap.allocate(0, tiers, [this, &s, &data, &batch, kind, grid, seed, calls](int layer, const torch::Tensor& tokens) {
        return importance(s, data, batch, kind, layer, tokens, grid, seed ^ (0x5C0BE5ull * ++*calls));
      });
    }
    VisualTap inner = tap.tap();
    return [&s, &tap, inner](int layer, const torch::Tensor& tokens) {
      torch::Tensor out = inner(layer, tokens);
      if (tap.dropped().defined()) {
        (s.model.kind == "clip" ? s.model.clip->vit() : s.model.vqa->vit())->drop_tokens(tap.dropped());
      }
      return out;
    };
  }

  // Importance [B, N] of the tapped tokens [B, N, D] of images [batch.first, batch.second).
  torch::Tensor importance(Setup& s, const VqaTensors& data, const std::pair<int64_t, int64_t>& batch,
                           const std::string& kind, int layer, const torch::Tensor& tokens, int64_t grid,
                           uint64_t seed) const {
    if (builtin_importance(kind)) return importance_scores(kind, tokens, grid, grid, seed);
    const torch::Tensor x = tokens.permute({1, 0, 2}).contiguous();  // [N, B, E]
    if (kind == "attention") {
      if (s.model.kind == "clip") return s.model.clip->pooled_attention(s.model.clip->vit()->forward_from(layer, x));
      return s.model.vqa->vit()->attention_received(layer, x);
    }
    std::vector<int64_t> scenes;
    for (int64_t i = batch.first; i < batch.second; ++i) scenes.push_back(i);
    const auto [rows, image_of] = data.questions_of(scenes);
    const torch::Tensor questions = data.questions.index_select(0, rows).to(s.device);
    const torch::Tensor owner = image_of.to(s.device);
    if (kind == "query") {
      return s.model.vqa->question_attention(s.model.vqa->encode_from(layer, x), questions, owner);
    }
    return s.model.vqa->saliency(layer, x, questions, owner);
  }

  // The compressed pass over `data`, a batch at a time (answers for tinyvlm, image embeddings
  // for clip), through compressed_tap.
  VisualBatch compressed_batches(Setup& s, FeatureTap& tap, const VqaTensors& data, uint64_t seed,
                                 std::shared_ptr<std::pair<int64_t, int64_t>> batch) const {
    VisualTap visual_tap = compressed_tap(s, tap, data, *batch, seed);
    return [&s, &data, batch, visual_tap](int64_t start, int64_t end) {
      *batch = {start, end};
      return s.model.encode_image(data.images.slice(0, start, end).to(s.device), visual_tap);
    };
  }

  // What a cached evaluation adds to the tap's metrics.
  void cache_metrics(const Setup& s, nlohmann::json& metrics) const {
    if (!s.cache) return;
    const int64_t batches = (scenes_ + batch_ - 1) / batch_;
    metrics["cache_bytes"] = s.cache->file_bytes();
    metrics["cache_fp16_bytes"] = 2 * s.cache->records() * s.taps_tokens * s.model.options.width;
    metrics["cache_serve_ms_per_batch"] =
        (metrics.value("transfer_ms", 0.0) + metrics.value("decode_ms", 0.0)) / static_cast<double>(batches);
  }

  std::string kind_;
  CompressionOptions compression_;
  AllocationOptions allocation_;
  std::string model_file_, split_ = "test", device_ = "auto", compress_per_ = "batch", cache_;
  int scenes_ = 300, per_scene_ = 8, batch_ = 64, bootstrap_ = 1000, calibration_scenes_ = 0;
  ConfigTree taps_ = [] {
    ConfigTree tree;
    tree.set("", YAML::Load("[last]"), "default");
    return tree;
  }();
  std::string tap_scheme_ = "none";
};

class VqaEval : public VlmEval {
 public:
  VqaEval() : VlmEval("tinyvlm") {}

  nlohmann::json run(uint64_t seed, RunContext& context) override {
    Setup s = prepare(context.log);
    const VqaTensors& data = s.split;
    std::vector<torch::Tensor> originals;
    const torch::Tensor reference = predict_answers(s.model.vqa, data, batch_, s.device, recording_tap(s, originals));
    FeatureTap tap(s.tap_compressors, compress_per_ == "image");
    auto batch = std::make_shared<std::pair<int64_t, int64_t>>();
    const torch::Tensor compressed =
        s.cache ? predict_answers(s.model.vqa, data, batch_, s.device, cached_batches(s, tap, torch::cat(originals)))
                : predict_answers(s.model.vqa, data, batch_, s.device, compressed_batches(s, tap, data, seed, batch));
    nlohmann::json metrics = tap.metrics(data.scenes());
    cache_metrics(s, metrics);
    metrics.update(vqa_accuracy_metrics(data, reference, compressed, bootstrap_, seed ^ 0xB0075724Bull));
    context.log << fmt::format("accuracy {:.2f}% (uncompressed {:.2f}%), {:.3f} bits/value\n",
                               metrics["vqa_accuracy"].get<double>(), metrics["vqa_accuracy_uncompressed"].get<double>(),
                               metrics["bits_per_value"].get<double>());
    return metrics;
  }
};

class ClipEval : public VlmEval {
 public:
  ClipEval() : VlmEval("clip") {}

  nlohmann::json run(uint64_t seed, RunContext& context) override {
    Setup s = prepare(context.log);
    const VqaTensors& data = s.split;
    const torch::Tensor texts = embed_texts(s.model.clip, data.captions, batch_, s.device);
    std::vector<torch::Tensor> originals;
    const torch::Tensor reference = embed_images(s.model.clip, data.images, batch_, s.device, recording_tap(s, originals));
    FeatureTap tap(s.tap_compressors, compress_per_ == "image");
    auto batch = std::make_shared<std::pair<int64_t, int64_t>>();
    const torch::Tensor compressed =
        s.cache ? over_batches(data.scenes(), batch_, cached_batches(s, tap, torch::cat(originals)))
                : over_batches(data.scenes(), batch_, compressed_batches(s, tap, data, seed, batch));
    nlohmann::json metrics = tap.metrics(data.scenes());
    cache_metrics(s, metrics);
    metrics.update(clip_retrieval_metrics(data, texts, reference, compressed, bootstrap_, seed ^ 0xC11Bull));
    context.log << fmt::format("recall@1 i2t {:.2f}% (uncompressed {:.2f}%), alignment {:.4f}, {:.3f} bits/value\n",
                               metrics["recall_i2t_1"].get<double>(), metrics["recall_i2t_1_uncompressed"].get<double>(),
                               metrics["alignment"].get<double>(), metrics["bits_per_value"].get<double>());
    return metrics;
  }
};

}  // namespace

ExperimentEntry vqa_eval_entry() {
  return {"vqa_eval", "VQA accuracy of a tinyvlm model with its visual tokens compressed at chosen blocks (bootstrap CI)",
          [] { return std::make_unique<VqaEval>(); }};
}

ExperimentEntry clip_eval_entry() {
  return {"clip_eval", "recall@1/5 and image-text alignment of a clip model with compressed visual tokens",
          [] { return std::make_unique<ClipEval>(); }};
}

}  // namespace bcfeat
