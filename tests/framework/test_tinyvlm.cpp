// tinyvlm: shapes, the visual tap, and a tiny config that learns shapes_vqa on the CPU.
#include <chrono>
#include <map>

#include "bcfeat/datasets/shapes_vqa.h"
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
  const torch::Tensor logits = model->forward(batch.images, batch.questions, [&](int layer, const torch::Tensor& tokens) {
    layers.push_back(layer);
    CHECK(tokens.sizes() == torch::IntArrayRef({36, 2, 64}));
    return tokens;
  });
  CHECK(logits.sizes() == torch::IntArrayRef({2, static_cast<int64_t>(vqa_answers().size())}));
  CHECK(layers == std::vector<int>({1, 2}));
  const torch::Tensor plain = model->forward(batch.images, batch.questions);
  CHECK(torch::allclose(plain, logits));
  const torch::Tensor zeroed =
      model->forward(batch.images, batch.questions, [](int, const torch::Tensor& tokens) { return torch::zeros_like(tokens); });
  CHECK(!torch::allclose(plain, zeroed));
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
        model->forward(train.images.index_select(0, index), train.questions.index_select(0, index)),
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
  const torch::Tensor predicted = model->forward(val.images, val.questions).argmax(1);
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
