// Allocation: tiers counted by hand, rate control, the scorers, per-tap byte totals, and the
// model masking pruned tokens.
#include <cmath>

#include "bcfeat/datasets/shapes_vqa.h"
#include "bcfeat/framework/allocation.h"
#include "bcfeat/framework/error.h"
#include "bcfeat/framework/models/feature_tap.h"
#include "bcfeat/framework/models/tinyvlm.h"
#include "catch.h"

using namespace bcfeat;

namespace {

AllocationOptions fraction_options(std::vector<std::string> tiers, std::vector<double> fractions) {
  AllocationOptions options;
  options.importance = "norm";
  options.tiers = std::move(tiers);
  options.fractions = std::move(fractions);
  return options;
}

// Smooth features on an h×w grid: [B, h·w, D].
torch::Tensor smooth_features(int64_t batch, int64_t h, int64_t w, int64_t dim, uint64_t seed) {
  torch::manual_seed(seed);
  const torch::Tensor coarse = torch::randn({batch, dim, (h + 3) / 4, (w + 3) / 4});
  const torch::Tensor fine = torch::nn::functional::interpolate(
      coarse, torch::nn::functional::InterpolateFuncOptions().size(std::vector<int64_t>{h, w}).mode(torch::kBilinear).align_corners(false));
  return (fine + 0.05 * torch::randn({batch, dim, h, w})).flatten(2).permute({0, 2, 1}).contiguous();
}

}  // namespace

TEST_CASE("allocation: mixed tiers count fp16, bc4 blocks with their maps, pruning and the tier map by hand") {
  // 2 images of a 4x4 token grid, D = 8: four 2x2 units an image; scores make unit 3 (tokens
  // 10, 11, 14, 15) the most important, then unit 0, 1, 2.
  const int64_t batch = 2, dim = 8;
  const torch::Tensor features = torch::randn({batch, 16, dim});
  torch::Tensor scores = torch::zeros({batch, 16});
  for (int64_t t : {10, 11, 14, 15}) scores.index_put_({torch::indexing::Slice(), t}, 3.0);
  for (int64_t t : {0, 1, 4, 5}) scores.index_put_({torch::indexing::Slice(), t}, 2.0);
  for (int64_t t : {2, 3, 6, 7}) scores.index_put_({torch::indexing::Slice(), t}, 1.0);
  const CompressionOptions base = compression_options("texture", {"format=bc4_snorm"});
  const TieredCompressor tiers(fraction_options({"fp16", "bc4_snorm", "prune"}, {0.25, 0.5, 0.25}), base, 4, 4, dim);
  CHECK(tiers.units() == 4);
  CHECK(tiers.map_bits() == 2);
  const auto out = tiers.apply(features, scores, /*per_image=*/false);
  // fp16: 2 images x 1 unit x 4 tokens x 8 channels x 2 bytes.
  CHECK(out.tier_tokens == std::vector<int64_t>{8, 16, 8});
  CHECK(out.tier_bytes[0] == 2 * 4 * 8 * 2);
  // bc4 (token_channel): 16 tokens x 8 channel texels = 4 x 2 blocks of 8 bytes, plus the
  // per-channel fp16 (min, max) pairs: 8 x 4 bytes.
  CHECK(out.tier_bytes[1] == 8 * 8 + 8 * 4);
  CHECK(out.tier_side[1] == 8 * 4);
  CHECK(out.tier_bytes[2] == 0);
  // 4 units x 2 bits = 1 byte an image.
  CHECK(out.map_bytes == 2);
  CHECK(out.bytes() == 128 + 96 + 2);
  // Unit 3 restored as fp16; unit 2 (tokens 8, 9, 12, 13: the least important) dropped and zero.
  for (int64_t t : {10, 11, 14, 15}) {
    CHECK(torch::equal(out.restored.select(1, t), features.select(1, t).to(torch::kHalf).to(torch::kFloat32)));
    CHECK_FALSE(out.dropped.select(1, t).any().item<bool>());
  }
  for (int64_t t : {8, 9, 12, 13}) {
    CHECK(out.dropped.select(1, t).all().item<bool>());
    CHECK(out.restored.select(1, t).abs().sum().item<float>() == 0.0f);
  }
  // Per image: the same tiers as streams of their own (each with its own maps).
  const auto own = tiers.apply(features, scores, /*per_image=*/true);
  CHECK(own.tier_bytes[0] == 128);
  CHECK(own.tier_bytes[1] == 2 * (2 * 2 * 8 + 8 * 4));
}

TEST_CASE("allocation: pool stores one fp16 mean a unit, merge a few contextual tokens with their positions") {
  const torch::Tensor features = torch::randn({1, 16, 8});
  const torch::Tensor scores = torch::arange(16, torch::kFloat32).unsqueeze(0);
  const CompressionOptions base = compression_options("fp16");
  const auto pooled = TieredCompressor(fraction_options({"pool"}, {1.0}), base, 4, 4, 8).apply(features, scores, false);
  CHECK(pooled.bytes() == 4 * 8 * 2);  // 4 units, no map for one tier
  const torch::Tensor mean = features.index_select(1, torch::tensor({0, 1, 4, 5})).mean(1).to(torch::kHalf).to(torch::kFloat32);
  CHECK(torch::equal(pooled.restored.select(1, 5), mean));
  AllocationOptions merge = fraction_options({"merge"}, {1.0});
  merge.merge_tokens = 3;
  const auto merged = TieredCompressor(merge, base, 4, 4, 8).apply(features, scores, false);
  CHECK(merged.bytes() == 3 * (8 * 2 + 2));
  CHECK(merged.dropped.sum().item<int64_t>() == 13);
}

TEST_CASE("allocation: rate control meets the target within 1% and never above it") {
  const torch::Tensor features = smooth_features(6, 14, 14, 32, 5);
  const torch::Tensor scores = importance_scores("norm", features, 14, 14, 0);
  const CompressionOptions base = compression_options("texture", {"quality=fast"});
  for (double target : {0.25, 0.5, 1.0, 1.5}) {
    AllocationOptions options;
    options.importance = "norm";
    options.tiers = {"bc7", "bc1", "prune"};
    options.target_bits_per_value = target;
    const auto out = TieredCompressor(options, base, 14, 14, 32).apply(features, scores, false);
    const double bits = 8.0 * static_cast<double>(out.bytes()) / static_cast<double>(features.numel());
    INFO("target " << target << " got " << bits);
    CHECK(bits <= target);
    CHECK(bits >= 0.99 * target);
  }
  // A budget above the most faithful tier's rate keeps every token there.
  AllocationOptions rich;
  rich.importance = "norm";
  rich.tiers = {"bc1", "prune"};
  rich.target_bits_per_value = 8.0;
  const auto all = TieredCompressor(rich, base, 14, 14, 32).apply(features, scores, false);
  CHECK(all.tier_tokens[1] == 0);
}

TEST_CASE("allocation: bad tiers, fractions and rate-control lists are input errors") {
  const CompressionOptions base = compression_options("fp16");
  CHECK_THROWS_AS(TieredCompressor(fraction_options({"fp16", "bcx"}, {0.5, 0.5}), base, 4, 4, 8), InputError);
  CHECK_THROWS_AS(TieredCompressor(fraction_options({"fp16", "prune"}, {0.5, 0.4}), base, 4, 4, 8), InputError);
  CHECK_THROWS_AS(TieredCompressor(fraction_options({"fp16", "prune"}, {1.0}), base, 4, 4, 8), InputError);
  AllocationOptions lossless;
  lossless.importance = "norm";
  lossless.tiers = {"lossless", "prune"};
  lossless.target_bits_per_value = 1.0;
  CHECK_THROWS_AS(TieredCompressor(lossless, base, 4, 4, 8), InputError);
  AllocationOptions upside_down;
  upside_down.importance = "norm";
  upside_down.tiers = {"bc1", "fp16"};
  upside_down.target_bits_per_value = 4.0;
  const TieredCompressor reversed(upside_down, base, 4, 4, 8);
  CHECK_THROWS_AS(reversed.apply(torch::randn({1, 16, 8}), torch::rand({1, 16}), false), InputError);
}

TEST_CASE("allocation: norm ranks the largest token first, uniform spreads the first units, random follows its seed") {
  torch::Tensor tokens = torch::randn({2, 64, 4}) * 0.1;
  tokens.index_put_({1, 37}, torch::full({4}, 5.0));
  const torch::Tensor norm = importance_scores("norm", tokens, 8, 8, 0);
  CHECK(norm[1].argmax().item<int64_t>() == 37);
  const torch::Tensor uniform = importance_scores("uniform", tokens, 8, 8, 0);
  const torch::Tensor top = std::get<1>(uniform[0].topk(4));
  std::vector<int64_t> first(top.data_ptr<int64_t>(), top.data_ptr<int64_t>() + 4);
  std::sort(first.begin(), first.end());
  CHECK(first == std::vector<int64_t>{0, 4, 32, 36});  // (0,0), (4,0), (0,4), (4,4)
  CHECK(torch::equal(importance_scores("random", tokens, 8, 8, 7), importance_scores("random", tokens, 8, 8, 7)));
  CHECK_FALSE(torch::equal(importance_scores("random", tokens, 8, 8, 7), importance_scores("random", tokens, 8, 8, 8)));
}

namespace {

TinyVlmOptions scorer_options() {
  TinyVlmOptions options;
  options.image_size = 32;
  options.patch = 8;  // 16 tokens
  options.width = 16;
  options.depth = 2;
  options.heads = 1;
  options.text_depth = 1;
  options.fusion_depth = 0;  // one cross-attention of the question on the visual tokens
  options.vocabulary = 10;
  options.answers = 4;
  options.question_length = 4;
  return options;
}

torch::Tensor& parameter(torch::nn::Module& module, const std::string& name) {
  for (auto& item : module.named_parameters()) {
    if (item.key() == name) return item.value();
  }
  FAIL("no parameter " << name);
  throw std::logic_error(name);
}

}  // namespace

TEST_CASE("allocation: the token the question attends to exclusively ranks first (query importance)") {
  torch::NoGradGuard no_grad;
  TinyVlm model(scorer_options());
  model->eval();
  // Every query is u; keys are the tokens themselves: the token 10·u takes the attention.
  const torch::Tensor u = torch::randn({16});
  parameter(*model, "cross.q.weight").zero_();
  parameter(*model, "cross.q.bias").copy_(u);
  parameter(*model, "cross.kv.weight").zero_();
  parameter(*model, "cross.kv.weight").slice(0, 0, 16).copy_(torch::eye(16));
  parameter(*model, "cross.kv.bias").zero_();
  torch::Tensor visual = torch::randn({16, 2, 16}) * 0.1;  // [N, B, E]
  visual.index_put_({9, 0}, 10 * u);
  visual.index_put_({3, 1}, 10 * u);
  const torch::Tensor questions = torch::tensor({{1, 2, 0, 0}, {3, 0, 0, 0}, {4, 5, 6, 0}}, torch::kLong);
  const torch::Tensor image_of = torch::tensor({0, 0, 1}, torch::kLong);
  const torch::Tensor scores = model->question_attention(visual, questions, image_of);
  CHECK(scores.sizes() == torch::IntArrayRef({2, 16}));
  CHECK(scores[0].argmax().item<int64_t>() == 9);
  CHECK(scores[1].argmax().item<int64_t>() == 3);
  CHECK(scores[0][9].item<float>() > 0.99f);
  // The same rule for the ViT's own attention: a block whose queries are all u.
  // Gradient saliency at the last tap (only the final norm before the fusion): with a sharper
  // query the answer hangs on the token the question looks at.
  parameter(*model, "cross.q.bias").copy_(3 * u);
  parameter(*model, "cross.kv.weight").slice(0, 16, 32).copy_(torch::eye(16));  // values: the tokens
  const torch::Tensor salient = model->saliency(2, visual, questions, image_of);
  CHECK(salient.sizes() == torch::IntArrayRef({2, 16}));
  CHECK(salient[0].argmax().item<int64_t>() == 9);
  CHECK(salient[1].argmax().item<int64_t>() == 3);
  // Block 2 reads block 1's tokens; its keys are u times the token's first channel (after the
  // block's LayerNorm) x 100.
  const std::string prefix = "vit.blocks.1.attention.";
  parameter(*model, prefix + "q.weight").zero_();
  parameter(*model, prefix + "q.bias").copy_(u);
  parameter(*model, prefix + "kv.weight").zero_();
  parameter(*model, prefix + "kv.bias").zero_();
  parameter(*model, prefix + "kv.weight").slice(0, 0, 16).copy_(torch::outer(u, torch::eye(16)[0]) * 100);
  torch::Tensor tokens = torch::zeros({16, 2, 16});
  tokens.select(2, 0).fill_(-1.0);
  tokens.select(2, 1).fill_(1.0);
  tokens.index_put_({12, 0, 0}, 1.0);  // token 12 of image 0: the largest first channel after the norm
  tokens.index_put_({12, 0, 1}, -1.0);
  const torch::Tensor received = model->vit()->attention_received(1, tokens);
  CHECK(received[0].argmax().item<int64_t>() == 12);
}

TEST_CASE("allocation: a dropped token changes nothing the model answers; a kept one does") {
  torch::NoGradGuard no_grad;
  TinyVlmOptions options = scorer_options();
  options.fusion_depth = 1;
  options.fusion = "decoder";
  TinyVlm model(options);
  model->eval();
  const torch::Tensor images = torch::rand({2, 3, 32, 32});
  const torch::Tensor questions = torch::tensor({{1, 2, 0, 0}, {3, 0, 0, 0}}, torch::kLong);
  const torch::Tensor direction = torch::randn({16});  // not constant: a LayerNorm would erase that
  torch::Tensor dropped = torch::zeros({2, 16}, torch::kBool);
  dropped.index_put_({0, 5}, true);
  auto answer = [&](double value, int64_t token) {
    const torch::Tensor visual = model->encode_image(images, [&](int layer, const torch::Tensor& x) {
      if (layer != 1) return x;
      torch::Tensor y = x.clone();
      y.index_put_({token, 0}, value * direction);
      model->vit()->drop_tokens(dropped);
      return y;
    });
    return model->ask(visual, questions);
  };
  CHECK(torch::allclose(answer(0.0, 5), answer(7.0, 5), 1e-5, 1e-5));
  CHECK_FALSE(torch::allclose(answer(0.0, 6), answer(7.0, 6), 1e-5, 1e-5));
}

TEST_CASE("feature tap: with a compressor a tap, the taps' bytes add up to the total") {
  const torch::Tensor tokens = smooth_features(2, 4, 4, 8, 3).permute({1, 0, 2}).contiguous();  // [N, B, E]
  std::vector<TapCompressor> taps = {{1, make_compressor(compression_options("fp16")), "fp16"},
                                     {2, make_compressor(compression_options("texture", {"format=bc1"})), "bc1"}};
  FeatureTap tap(taps);
  const VisualTap visual = tap.tap();
  visual(1, tokens);
  visual(2, tokens);
  const nlohmann::json metrics = tap.metrics(2);
  const nlohmann::json& per_tap = metrics.at("per_tap");
  CHECK(per_tap.at("1").at("bytes").get<int64_t>() == 2 * 16 * 8 * 2);
  CHECK(per_tap.at("1").at("bytes").get<int64_t>() + per_tap.at("2").at("bytes").get<int64_t>() ==
        metrics.at("bytes").get<int64_t>());
  CHECK(per_tap.at("2").at("compressor") == "bc1");
  CHECK(per_tap.at("2").at("bits_per_value").get<double>() < per_tap.at("1").at("bits_per_value").get<double>());
}
