// tinyvlm: shapes, the visual tap, and a tiny config that learns shapes_vqa on the CPU.
#include <chrono>
#include <map>

#include "bcfeat/datasets/shapes_vqa.h"
#include "bcfeat/framework/error.h"
#include "bcfeat/framework/models/tinyvlm.h"
#include "catch.h"

using namespace bcfeat;

namespace {

TinyVlmOptions tiny_options() {
  TinyVlmOptions options;
  options.image_size = 48;
  options.patch = 8;
  options.width = 64;
  options.depth = 2;
  options.heads = 2;
  options.text_depth = 1;
  options.vocabulary = static_cast<int>(vqa_words().size());
  options.answers = static_cast<int>(vqa_answers().size());
  return options;
}

using Batch = VqaTensors;

// Every question of scenes [first, first + count) of the small test scenes.
Batch make_data(VqaSplit split, int first, int count, int questions_per_scene) {
  ShapesVqaOptions data;
  data.image_size = 48;
  data.min_objects = 2;
  data.max_objects = 4;
  return vqa_tensors(data, split, first, count, questions_per_scene, 16);
}

}  // namespace

TEST_CASE("tinyvlm: output shape, and the tap sees and replaces every block's visual tokens") {
  torch::manual_seed(0);
  TinyVlm model(tiny_options());
  const Batch batch = make_data(VqaSplit::kTrain, 0, 1, 2);
  std::vector<int> layers;
  REQUIRE(batch.images.size(0) == 1);
  REQUIRE(batch.questions.size(0) == 2);
  const torch::Tensor logits = model->forward(batch.images, batch.questions, [&](int layer, const torch::Tensor& tokens) {
    layers.push_back(layer);
    CHECK(tokens.sizes() == torch::IntArrayRef({36, 1, 64}));  // one image for both questions
    return tokens;
  }, batch.scene);
  CHECK(logits.sizes() == torch::IntArrayRef({2, static_cast<int64_t>(vqa_answers().size())}));
  CHECK(layers == std::vector<int>({1, 2}));
  const torch::Tensor plain = model->forward(batch.images, batch.questions, {}, batch.scene);
  CHECK(torch::allclose(plain, logits));
  const torch::Tensor zeroed = model->forward(
      batch.images, batch.questions, [](int, const torch::Tensor& tokens) { return torch::zeros_like(tokens); }, batch.scene);
  CHECK(!torch::allclose(plain, zeroed));
  // Encoding the image once per question gives the same answers as sharing it.
  const torch::Tensor repeated = model->forward(batch.images.expand({2, -1, -1, -1}), batch.questions);
  CHECK(torch::allclose(plain, repeated, 1e-5, 1e-5));
}

TEST_CASE("tinyvlm: a tiny config learns shapes_vqa on the CPU (loss falls, accuracy beats the majority answer)") {
  torch::manual_seed(1);
  torch::set_num_threads(2);  // (CTest runs this with OPENBLAS_NUM_THREADS=1: no oversubscription)
  TinyVlm model(tiny_options());
  const Batch train = make_data(VqaSplit::kTrain, 0, 600, 6);
  const Batch val = make_data(VqaSplit::kVal, 0, 150, 6);
  torch::optim::AdamW optimizer(model->parameters(), torch::optim::AdamWOptions(2e-3).weight_decay(0.01));
  const int64_t n = train.answers.size(0), batch = 32;
  double first_loss = 0, last_loss = 0;
  const int steps = 300;
  const auto start = std::chrono::steady_clock::now();
  for (int step = 0; step < steps; ++step) {
    const torch::Tensor index = torch::randint(n, {batch}, torch::kLong);
    const torch::Tensor loss = torch::nn::functional::cross_entropy(
        model->forward(train.images.index_select(0, train.scene.index_select(0, index)), train.questions.index_select(0, index)),
        train.answers.index_select(0, index));
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
    if (step < 20) first_loss += loss.item<double>() / 20;
    if (step >= steps - 50) last_loss += loss.item<double>() / 50;
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  torch::NoGradGuard no_grad;
  model->eval();
  const torch::Tensor predicted = model->forward(val.images, val.questions, {}, val.scene).argmax(1);
  const double accuracy = predicted.eq(val.answers).to(torch::kDouble).mean().item<double>();
  std::map<int64_t, int> counts;
  for (int64_t i = 0; i < val.answers.size(0); ++i) ++counts[val.answers[i].item<int64_t>()];
  int majority = 0;
  for (const auto& [answer, count] : counts) majority = std::max(majority, count);
  const double baseline = static_cast<double>(majority) / static_cast<double>(val.answers.size(0));
  INFO("loss " << first_loss << " -> " << last_loss << ", val accuracy " << accuracy << " vs majority " << baseline
               << ", " << seconds << " s");
  CHECK(last_loss < 0.6 * first_loss);
  CHECK(accuracy > baseline + 0.15);
}

TEST_CASE("tinyvlm with joint or decoder fusion blocks: shapes, options, padding ignored, tap") {
  torch::manual_seed(2);
  TinyVlmOptions options = tiny_options();
  options.fusion_depth = 2;
  options.fusion_positions = true;
  options.fusion = GENERATE(std::string("joint"), std::string("decoder"));
  INFO("fusion " << options.fusion);
  TinyVlm model(options);
  model->eval();
  // The fusion positions are a parameter of their own; decoder blocks have a cross-attention
  // on the visual tokens, joint blocks none; the options survive the model description.
  int fusion_positions = 0, cross = 0;
  for (const auto& p : model->named_parameters()) {
    fusion_positions += p.key() == "fusion_positions";
    cross += p.key().rfind("fusion.", 0) == 0 && p.key().find(".cross.") != std::string::npos;
  }
  CHECK(fusion_positions == 1);
  CHECK((cross > 0) == (options.fusion == "decoder"));
  CHECK(options_from_json(to_json(options)).fusion_positions);
  CHECK(options_from_json(to_json(options)).fusion == options.fusion);
  nlohmann::json old = to_json(options);
  old.erase("fusion_positions");
  old.erase("fusion");
  CHECK_FALSE(options_from_json(old).fusion_positions);
  CHECK(options_from_json(old).fusion == "joint");  // files written before the option: joint
  nlohmann::json bad = to_json(options);
  bad["fusion"] = "sideways";
  CHECK_THROWS_AS(options_from_json(bad), InputError);
  const Batch batch = make_data(VqaSplit::kTrain, 0, 3, 3);
  int taps = 0;
  const torch::Tensor logits = model->forward(batch.images, batch.questions, [&](int, const torch::Tensor& t) {
    ++taps;
    return t;
  }, batch.scene);
  CHECK(taps == 2);
  CHECK(logits.sizes() == torch::IntArrayRef({batch.questions.size(0), static_cast<int64_t>(vqa_answers().size())}));
  // The answers depend on the visual tokens.
  const torch::Tensor blind = model->forward(
      batch.images, batch.questions, [](int, const torch::Tensor& t) { return torch::zeros_like(t); }, batch.scene);
  CHECK_FALSE(torch::allclose(logits, blind, 1e-4, 1e-4));
  // Padding words are masked: changing what a pad position would embed to changes nothing.
  torch::NoGradGuard no_grad;
  const torch::Tensor one = model->forward(batch.images, batch.questions.slice(0, 0, 1), {}, batch.scene.slice(0, 0, 1));
  for (auto& p : model->named_parameters()) {
    if (p.key() == "text.words.weight") p.value()[0].fill_(3.0);
  }
  const torch::Tensor again = model->forward(batch.images, batch.questions.slice(0, 0, 1), {}, batch.scene.slice(0, 0, 1));
  CHECK(torch::allclose(one, again, 1e-5, 1e-5));
}

TEST_CASE("clip: unit-length embeddings, captions for every scene, and the contrastive loss falls") {
  torch::manual_seed(3);
  TinyVlmOptions options = tiny_options();
  options.question_length = kCaptionLength;
  options.embed = 32;
  Clip model(options);
  const Batch data = make_data(VqaSplit::kTrain, 0, 48, 1);
  REQUIRE(data.captions.sizes() == torch::IntArrayRef({48, kCaptionLength}));
  CHECK(data.captions.select(1, 0).ne(0).all().item<bool>());  // every caption has words
  const torch::Tensor images = model->encode_image(data.images), texts = model->encode_text(data.captions);
  CHECK(images.sizes() == torch::IntArrayRef({48, 32}));
  CHECK(torch::allclose(images.norm(2, 1), torch::ones({48}), 1e-5, 1e-5));
  CHECK(torch::allclose(texts.norm(2, 1), torch::ones({48}), 1e-5, 1e-5));
  torch::optim::AdamW optimizer(model->parameters(), torch::optim::AdamWOptions(3e-4));
  double first = 0, last = 0;
  for (int step = 0; step < 200; ++step) {
    const torch::Tensor index = torch::randperm(48, torch::kLong).slice(0, 0, 16);
    const torch::Tensor loss = model->loss(model->encode_image(data.images.index_select(0, index)),
                                           model->encode_text(data.captions.index_select(0, index)));
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
    if (step < 5) first += loss.item<double>() / 5;
    if (step >= 195) last += loss.item<double>() / 5;
  }
  INFO("contrastive loss " << first << " -> " << last << " (chance " << std::log(16.0) << ")");
  // Well below chance: a model that collapses to one embedding stays at log(16).
  CHECK(last < 0.75 * std::log(16.0));
}
