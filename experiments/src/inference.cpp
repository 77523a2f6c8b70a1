#include "inference.h"

#include <algorithm>
#include <map>
#include <vector>

#include "bcfeat/framework/error.h"
#include "bcfeat/framework/metrics.h"
#include "bcfeat/framework/params.h"

namespace bcfeat {

std::vector<int> resolve_taps(const std::vector<std::string>& taps, int depth) {
  if (taps.empty()) throw_input_error("taps: at least one block");
  std::vector<int> out;
  for (const auto& tap : taps) {
    int layer = 0;
    if (tap == "last") {
      layer = depth;
    } else {
      try {
        size_t used = 0;
        layer = std::stoi(tap, &used);
        if (used != tap.size()) layer = 0;
      } catch (const std::exception&) {
        layer = 0;
      }
      if (layer < 1 || layer > depth) throw_input_error("taps: '{}' is not a block of this model (1..{} or 'last')", tap, depth);
    }
    out.push_back(layer);
  }
  return out;
}

namespace {

struct LayerScheme {
  std::string name;
  std::string early, middle, late;
};

const std::vector<LayerScheme>& layer_schemes() {
  static const std::vector<LayerScheme> schemes = {
      {"lossless_bc6h_bc1", "lossless", "bc6h_sf16", "bc1"},
      {"bc7_bc6h_bc3", "bc7", "bc6h_sf16", "bc3"},
  };
  return schemes;
}

}  // namespace

const std::vector<std::string>& tap_scheme_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out = {"none"};
    for (const auto& scheme : layer_schemes()) out.push_back(scheme.name);
    return out;
  }();
  return names;
}

TapSettings resolve_tap_settings(const ConfigTree& taps, const CompressionOptions& compression, const std::string& scheme,
                                 int depth) {
  TapSettings out;
  if (taps.contains("")) {
    const ConfigValue& list = taps.at("");
    if (taps.values().size() > 1) {
      throw_input_error("{}: 'taps' is either a list of blocks or a map of block -> compressor, not both", list.origin);
    }
    const auto names = param_detail::Parse<std::vector<std::string>>::get(list.value, list.origin + ": 'taps'");
    for (int layer : resolve_taps(names, depth)) out.taps.push_back({layer, compression});
    if (scheme != "none") {
      const auto& found = *std::find_if(layer_schemes().begin(), layer_schemes().end(),
                                        [&](const LayerScheme& s) { return s.name == scheme; });
      for (auto& tap : out.taps) {
        const std::string& word = tap.layer * 3 <= depth ? found.early : tap.layer * 3 <= 2 * depth ? found.middle : found.late;
        tap.options = named_compression(word, compression, "tap_scheme " + scheme);
      }
      out.one_compressor = false;
    }
  } else {
    if (scheme != "none") throw_input_error("tap_scheme '{}' gives a list of taps its compressors; taps is a map", scheme);
    out.one_compressor = false;
    // Entries by block name: "1" (a word or an empty map) or "1.<key>".
    std::map<std::string, ConfigTree> entries;
    for (const auto& [key, value] : taps.values()) {
      const size_t dot = key.find('.');
      const std::string block = key.substr(0, dot);
      entries[block].set(dot == std::string::npos ? "" : key.substr(dot + 1), value.value, value.origin);
    }
    for (const auto& [block, entry] : entries) {
      const std::string& origin = entry.values().begin()->second.origin;
      int layer = 0;
      try {
        layer = resolve_taps({block}, depth).at(0);
      } catch (const InputError& e) {
        throw_input_error("{}: {}", origin, e.what());
      }
      for (const auto& tap : out.taps) {
        if (tap.layer == layer) throw_input_error("{}: taps.{} is block {}, which another entry names too", origin, block, layer);
      }
      TapSetting setting{layer, compression};
      if (entry.contains("")) {
        const YAML::Node& word = entry.at("").value;
        if (word.IsScalar()) {
          setting.options = named_compression(word.Scalar(), compression, origin + ": taps." + block);
        } else if (!(word.IsMap() && word.size() == 0)) {
          throw_input_error("{}: taps.{} must be a compressor's name or a map of compression keys", origin, block);
        }
      } else {
        ParamSet params;
        setting.options.declare(params, "taps." + block);
        ConfigTree keys;
        for (const auto& [key, value] : entry.values()) keys.set("taps." + block + "." + key, value.value, value.origin);
        params.apply(keys);
      }
      make_compressor(setting.options);  // its own checks, before anything runs
      out.taps.push_back(setting);
    }
    std::sort(out.taps.begin(), out.taps.end(), [](const TapSetting& a, const TapSetting& b) { return a.layer < b.layer; });
  }
  return out;
}

torch::Tensor tapped_features(Model& model, const torch::Tensor& images, int layer, int batch, torch::Device device) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> parts;
  for (int64_t start = 0; start < images.size(0); start += batch) {
    const int64_t end = std::min<int64_t>(images.size(0), start + batch);
    model.encode_image(images.slice(0, start, end).to(device), [&](int l, const torch::Tensor& tokens) {
      if (l == layer) parts.push_back(tokens.permute({1, 0, 2}).to(torch::kCPU, torch::kFloat32).contiguous());
      return tokens;
    });
  }
  return torch::cat(parts);
}

torch::Tensor over_batches(int64_t count, int batch, const VisualBatch& fn) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> parts;
  for (int64_t start = 0; start < count; start += batch) {
    parts.push_back(fn(start, std::min<int64_t>(count, start + batch)).to(torch::kCPU, torch::kFloat32));
  }
  return torch::cat(parts);
}

torch::Tensor embed_images(Clip& model, const torch::Tensor& images, int batch, torch::Device device, const VisualTap& tap) {
  return over_batches(images.size(0), batch, [&](int64_t start, int64_t end) {
    return model->encode_image(images.slice(0, start, end).to(device), tap);
  });
}

torch::Tensor embed_texts(Clip& model, const torch::Tensor& captions, int batch, torch::Device device) {
  return over_batches(captions.size(0), batch, [&](int64_t start, int64_t end) {
    return model->encode_text(captions.slice(0, start, end).to(device));
  });
}

torch::Tensor predict_answers(TinyVlm& model, const VqaTensors& data, int batch, torch::Device device, const VisualTap& tap) {
  return predict_answers(model, data, batch, device, [&](int64_t start, int64_t end) {
    return model->encode_image(data.images.slice(0, start, end).to(device), tap);
  });
}

torch::Tensor predict_answers(TinyVlm& model, const VqaTensors& data, int batch, torch::Device device,
                              const VisualBatch& visual) {
  return answer_logits(model, data, batch, device, visual).argmax(1);
}

torch::Tensor answer_logits(TinyVlm& model, const VqaTensors& data, int batch, torch::Device device,
                            const VisualBatch& visual) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> parts;
  for (int64_t start = 0; start < data.scenes(); start += batch) {
    const int64_t end = std::min<int64_t>(data.scenes(), start + batch);
    std::vector<int64_t> scenes;
    for (int64_t s = start; s < end; ++s) scenes.push_back(s);
    const auto [questions, image_of] = data.questions_of(scenes);
    const torch::Tensor logits =
        model->ask(visual(start, end), data.questions.index_select(0, questions).to(device), image_of.to(device));
    parts.push_back(logits.to(torch::kCPU, torch::kFloat32));
  }
  return torch::cat(parts);
}

nlohmann::json vqa_accuracy_metrics(const VqaTensors& data, const torch::Tensor& reference, const torch::Tensor& compressed,
                                    int bootstrap, uint64_t seed) {
  const torch::Tensor right_reference = reference.eq(data.answers).to(torch::kDouble);
  const torch::Tensor right = compressed.eq(data.answers).to(torch::kDouble);
  nlohmann::json metrics;
  metrics["vqa_accuracy"] = 100.0 * right.mean().item<double>();
  metrics["vqa_accuracy_uncompressed"] = 100.0 * right_reference.mean().item<double>();
  metrics["vqa_accuracy_drop"] = metrics["vqa_accuracy_uncompressed"].get<double>() - metrics["vqa_accuracy"].get<double>();
  const auto ci = paired_bootstrap_ci(right_reference, right, bootstrap, seed);
  metrics["vqa_accuracy_drop_ci95"] = {ci.first, ci.second};
  metrics["questions"] = data.answers.size(0);
  metrics["scenes"] = data.scenes();
  for (const auto& [type, accuracy] : grouped_accuracy(right, data.types, question_type_names())) {  // accuracy_count, ...
    metrics["accuracy_" + type] = 100.0 * accuracy;
  }
  return metrics;
}

nlohmann::json clip_retrieval_metrics(const VqaTensors& data, const torch::Tensor& texts, const torch::Tensor& reference,
                                      const torch::Tensor& compressed, int bootstrap, uint64_t seed) {
  const RetrievalHits before = retrieval_hits(reference, texts, data.captions);
  const RetrievalHits after = retrieval_hits(compressed, texts, data.captions);
  auto percent = [](const torch::Tensor& hits) { return 100.0 * hits.mean().item<double>(); };
  nlohmann::json metrics;
  const std::pair<const char*, const torch::Tensor RetrievalHits::*> recalls[] = {
      {"recall_i2t_1", &RetrievalHits::image_to_text_1},
      {"recall_i2t_5", &RetrievalHits::image_to_text_5},
      {"recall_t2i_1", &RetrievalHits::text_to_image_1},
      {"recall_t2i_5", &RetrievalHits::text_to_image_5}};
  for (const auto& [name, hits] : recalls) {
    metrics[name] = percent(after.*hits);
    metrics[std::string(name) + "_uncompressed"] = percent(before.*hits);
  }
  metrics["recall_i2t_1_drop"] = metrics["recall_i2t_1_uncompressed"].get<double>() - metrics["recall_i2t_1"].get<double>();
  const auto ci = paired_bootstrap_ci(before.image_to_text_1, after.image_to_text_1, bootstrap, seed);
  metrics["recall_i2t_1_drop_ci95"] = {ci.first, ci.second};
  const double cos_before = (reference * texts).sum(1).mean().item<double>();
  const double cos_after = (compressed * texts).sum(1).mean().item<double>();
  metrics["cosine_image_text"] = cos_after;
  metrics["cosine_image_text_uncompressed"] = cos_before;
  metrics["alignment"] = cos_before != 0.0 ? cos_after / cos_before : 0.0;
  metrics["embedding_cosine"] = (compressed * reference).sum(1).mean().item<double>();
  metrics["alignment_accuracy"] = percent(nearest_caption_agreement(reference, compressed, texts, data.captions));
  metrics["scenes"] = data.scenes();
  return metrics;
}

}  // namespace bcfeat
