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
  options.fusion = GENERATE(std::string("joint"), std::string("decoder"));
  options.fusion_positions = GENERATE(std::string("learned"), std::string("sincos"));
  INFO("fusion " << options.fusion << ", positions " << options.fusion_positions);
  TinyVlm model(options);
  model->eval();
  // Learned fusion positions are a parameter of their own, sincos ones a (fixed) buffer;
  // decoder blocks have a cross-attention on the visual tokens, joint blocks none; the
  // options survive the model description.
  int learned = 0, fixed = 0, cross = 0;
  for (const auto& p : model->named_parameters()) {
    learned += p.key() == "fusion_positions";
    cross += p.key().rfind("fusion.", 0) == 0 && p.key().find(".cross.") != std::string::npos;
  }
  for (const auto& b : model->named_buffers()) fixed += b.key() == "fusion_positions";
  CHECK(learned == (options.fusion_positions == "learned" ? 1 : 0));
  CHECK(fixed == (options.fusion_positions == "sincos" ? 1 : 0));
  CHECK((cross > 0) == (options.fusion == "decoder"));
  CHECK(options_from_json(to_json(options)).fusion_positions == options.fusion_positions);
  CHECK(options_from_json(to_json(options)).fusion == options.fusion);
  // The fusion sees positions: the same token at two places enters the fusion differently.
  const torch::Tensor same = torch::ones({options.tokens(), 1, options.width});
  const torch::Tensor entering = model->fusion_input(same);
  CHECK_FALSE(torch::allclose(entering[0], entering[1], 1e-6, 1e-6));
  nlohmann::json old = to_json(options);
  old.erase("fusion_positions");
  old.erase("fusion");
  CHECK(options_from_json(old).fusion_positions == "none");
  CHECK(options_from_json(old).fusion == "joint");  // files written before the option: joint
  old["fusion_positions"] = true;  // files from before sincos: a boolean
  CHECK(options_from_json(old).fusion_positions == "learned");
  old["fusion_positions"] = false;
  CHECK(options_from_json(old).fusion_positions == "none");
  nlohmann::json bad = to_json(options);
  bad["fusion"] = "sideways";
  CHECK_THROWS_AS(options_from_json(bad), InputError);
  bad = to_json(options);
  bad["fusion_positions"] = "rotary";
  CHECK_THROWS_AS(options_from_json(bad), InputError);
  bad["fusion_positions"] = 3;
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

TEST_CASE("tinyvlm relation pointers: token centres, where a pointer looks, options, answers use it") {
  // Token centres: row-major, x = column and y = row, in [-1, 1].
  const torch::Tensor centres = token_centres(4);
  REQUIRE(centres.sizes() == torch::IntArrayRef({16, 2}));
  CHECK(centres[6][0].item<double>() == Approx(0.25));   // row 1, column 2
  CHECK(centres[6][1].item<double>() == Approx(-0.25));
  CHECK(centres.abs().max().item<double>() == Approx(0.75));
  CHECK(centres.sum().abs().item<double>() < 1e-6);

  torch::manual_seed(4);
  TinyVlmOptions options = tiny_options();
  options.fusion_depth = 1;
  options.fusion = "decoder";
  options.relation = "pointers";
  TinyVlm model(options);
  model->eval();
  CHECK(options_from_json(to_json(options)).relation == "pointers");
  nlohmann::json old = to_json(options);
  old.erase("relation");
  CHECK(options_from_json(old).relation == "none");  // files written before the option
  old["relation"] = "graph";
  CHECK_THROWS_AS(options_from_json(old), InputError);

  torch::NoGradGuard no_grad;
  const Batch batch = make_data(VqaSplit::kTrain, 0, 2, 2);
  const torch::Tensor before = model->forward(batch.images, batch.questions, {}, batch.scene);
  // Make both pointers query channel 0 whatever the question, and the keys the entering
  // tokens themselves: a token with a large channel 0 takes all of a pointer's attention,
  // so the pointer's coordinates are that token's centre.
  for (auto& p : model->named_parameters()) {
    if (p.key() == "pointer_query.weight" || p.key() == "pointer_key.bias") p.value().zero_();
    if (p.key() == "pointer_query.bias") p.value().zero_()[0] = 100.0;
    if (p.key() == "pointer_key.weight") p.value().copy_(torch::eye(options.width));
  }
  const int n = options.tokens(), q = static_cast<int>(batch.questions.size(0));
  const torch::Tensor fused = torch::randn({options.question_length, q, options.width});
  torch::Tensor entering = torch::zeros({n, q, options.width});
  const int target = 2 * (options.image_size / options.patch) + 5;  // row 2, column 5
  entering[target].select(1, 0).fill_(10.0);
  const torch::Tensor c = model->pointer_coordinates(fused, batch.questions, entering);
  REQUIRE(c.sizes() == torch::IntArrayRef({q, 2, 2}));
  const torch::Tensor expected = token_centres(options.image_size / options.patch)[target];
  CHECK((c - expected).abs().max().item<double>() < 1e-4);
  // With every key alike the pointers look everywhere: the mean centre, (0, 0).
  const torch::Tensor flat = model->pointer_coordinates(fused, batch.questions, torch::zeros({n, q, options.width}));
  CHECK(flat.abs().max().item<double>() < 1e-5);
  // The answers read the relation step.
  const torch::Tensor changed = model->forward(batch.images, batch.questions, {}, batch.scene);
  CHECK_FALSE(torch::allclose(before, changed, 1e-4, 1e-4));
  // Without the relation step there are no pointers to ask.
  options.relation = "none";
  TinyVlm plain(options);
  CHECK_THROWS_AS(plain->pointer_coordinates(fused, batch.questions, entering), InputError);
}

TEST_CASE("sincos positions: bounded, distinct, monotone lowest frequency, linearly decodable coordinates") {
  const int grid = 14, width = 192;
  const torch::Tensor p = sincos_positions(grid, width).squeeze(1).to(torch::kDouble);  // [N, E]
  REQUIRE(p.sizes() == torch::IntArrayRef({grid * grid, width}));
  CHECK(p.abs().max().item<double>() <= 1.0);
  // Every token has its own code: the closest pair of distinct tokens is well apart.
  const torch::Tensor d = torch::cdist(p, p) + torch::eye(grid * grid, torch::kDouble) * 1e9;
  CHECK(d.min().item<double>() > 0.5);
  // Channel 0 (sin of x at the lowest frequency) rises along every row and ignores y;
  // channel width/2 does the same for y.
  const torch::Tensor x0 = p.select(1, 0).reshape({grid, grid}), y0 = p.select(1, width / 2).reshape({grid, grid});
  CHECK((x0.slice(1, 1) - x0.slice(1, 0, grid - 1)).min().item<double>() > 0.0);
  CHECK((x0 - x0.slice(0, 0, 1)).abs().max().item<double>() == 0.0);
  CHECK((y0.slice(0, 1) - y0.slice(0, 0, grid - 1)).min().item<double>() > 0.0);
  // A linear read-out of the four lowest-frequency channels alone (sin and cos of x and of y)
  // places every token within half a patch of its column and row.
  const torch::Tensor index = torch::arange(grid * grid, torch::kDouble);
  const torch::Tensor xy = torch::stack({torch::remainder(index, grid), torch::floor(index / grid)}, 1);
  const int f = width / 4;
  const torch::Tensor design = torch::stack({p.select(1, 0), p.select(1, f), p.select(1, 2 * f), p.select(1, 3 * f),
                                             torch::ones({grid * grid}, torch::kDouble)}, 1);
  const torch::Tensor w = std::get<0>(torch::linalg_lstsq(design, xy));
  CHECK((design.matmul(w) - xy).abs().max().item<double>() < 0.5);
  CHECK_THROWS_AS(sincos_positions(grid, 190), InputError);
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
