// shapes_vqa: determinism, disjoint splits, rendering that matches the scene, questions
// whose answers a separate reading of the question text confirms, captions, tokenizer.
#include <cmath>
#include <map>
#include <set>
#include <sstream>

#include "bcfeat/datasets/shapes_vqa.h"
#include "bcfeat/framework/error.h"
#include "catch.h"

using namespace bcfeat;

namespace {

const std::vector<std::string> kColours = {"red", "green", "blue", "yellow", "purple", "cyan"};
const std::vector<std::string> kShapes = {"circle", "square", "triangle"};

int colour_of(const std::string& word) { return static_cast<int>(std::find(kColours.begin(), kColours.end(), word) - kColours.begin()); }
int shape_of(std::string word) {
  if (!word.empty() && word.back() == 's') word.pop_back();
  return static_cast<int>(std::find(kShapes.begin(), kShapes.end(), word) - kShapes.begin());
}

std::vector<std::string> words_of(const std::string& text) {
  std::istringstream stream(text);
  std::vector<std::string> out;
  for (std::string w; stream >> w;) out.push_back(w);
  return out;
}

// The objects a phrase like "red circle", "large square" or "small blue object" denotes.
std::vector<const VqaObject*> matching(const VqaScene& scene, const std::vector<std::string>& phrase) {
  std::vector<const VqaObject*> out;
  for (const auto& o : scene.objects) {
    bool ok = true;
    for (const auto& w : phrase) {
      if (w == "large" || w == "small") ok = ok && (o.large == (w == "large"));
      else if (colour_of(w) < 6) ok = ok && o.colour == colour_of(w);
      else if (shape_of(w) < 3) ok = ok && o.shape == shape_of(w);
    }
    if (ok) out.push_back(&o);
  }
  return out;
}

// Answer recomputed from the question text and the scene, independently of the generator.
std::string expected_answer(const VqaScene& scene, const std::string& text) {
  const auto w = words_of(text);
  auto yes = [](bool v) { return std::string(v ? "yes" : "no"); };
  if (w[0] == "how") {  // how many <phrase...> are there
    std::vector<std::string> phrase(w.begin() + 2, w.end() - 2);
    return std::to_string(matching(scene, phrase).size());
  }
  if (w[0] == "is" && w[1] == "there") return yes(!matching(scene, {w[3], w[4]}).empty());
  if (w[0] == "what") {
    std::vector<std::string> phrase(w.begin() + 4, w.end());
    const auto found = matching(scene, phrase);
    REQUIRE(found.size() == 1);  // the referent is unique
    if (w[1] == "colour") return kColours[found[0]->colour];
    if (w[1] == "shape") return kShapes[found[0]->shape];
    return found[0]->large ? "large" : "small";
  }
  if (w[0] == "are") {  // are there more X than Y
    return yes(matching(scene, {w[3]}).size() > matching(scene, {w[5]}).size());
  }
  // is the C S (left of|above) the C S
  const auto a = matching(scene, {w[2], w[3]});
  const bool left = w[4] == "left";
  const auto b = matching(scene, {w[left ? 7 : 6], w[left ? 8 : 7]});
  REQUIRE(a.size() == 1);
  REQUIRE(b.size() == 1);
  return yes(left ? a[0]->x < b[0]->x : a[0]->y < b[0]->y);
}

}  // namespace

TEST_CASE("shapes_vqa scenes are deterministic and the splits never share one") {
  ShapesVqaOptions options;
  const VqaScene a = make_scene(options, VqaSplit::kTrain, 17), b = make_scene(options, VqaSplit::kTrain, 17);
  REQUIRE(a.objects.size() == b.objects.size());
  CHECK(torch::equal(render_scene(a, options), render_scene(b, options)));
  std::set<std::vector<double>> train;
  auto key = [](const VqaScene& s) {
    std::vector<double> k;
    for (const auto& o : s.objects) k.insert(k.end(), {double(o.shape), double(o.colour), o.x, o.y});
    return k;
  };
  for (int i = 0; i < 300; ++i) train.insert(key(make_scene(options, VqaSplit::kTrain, i)));
  CHECK(train.size() == 300);
  for (VqaSplit split : {VqaSplit::kVal, VqaSplit::kTest}) {
    for (int i = 0; i < 300; ++i) CHECK(train.count(key(make_scene(options, split, i))) == 0);
  }
  options.seed = 1;  // another dataset seed, other scenes
  CHECK(key(make_scene(options, VqaSplit::kTrain, 17)) != key(a));
}

TEST_CASE("shapes_vqa renders each object where the scene says, in its colour") {
  ShapesVqaOptions options;
  options.noise = 0.0;
  const float colours[6][3] = {{0.90f, 0.12f, 0.10f}, {0.12f, 0.72f, 0.22f}, {0.15f, 0.30f, 0.95f},
                               {0.95f, 0.85f, 0.10f}, {0.60f, 0.20f, 0.80f}, {0.10f, 0.85f, 0.85f}};
  for (int index = 0; index < 20; ++index) {
    const VqaScene scene = make_scene(options, VqaSplit::kVal, index);
    REQUIRE(scene.objects.size() >= 1);
    const torch::Tensor image = render_scene(scene, options);
    REQUIRE(image.sizes() == torch::IntArrayRef({3, 224, 224}));
    const auto pixels = image.accessor<float, 3>();
    for (size_t k = 0; k < scene.objects.size(); ++k) {
      const VqaObject& o = scene.objects[k];
      // The centre pixel shows this object unless a later one covers it.
      bool covered = false;
      for (size_t later = k + 1; later < scene.objects.size(); ++later) {
        const auto& p = scene.objects[later];
        covered = covered || std::hypot(p.x - o.x, p.y - o.y) < 1.25 * p.radius + 2;  // square corners reach 1.2 r
      }
      if (covered) continue;
      const int px = static_cast<int>(o.x), py = static_cast<int>(o.y);
      for (int c = 0; c < 3; ++c) CHECK(std::fabs(pixels[c][py][px] - colours[o.colour][c]) < 1e-5);
    }
    CHECK(pixels[0][0][0] == Approx(0.45f));  // objects keep 2 px from the border
  }
}

TEST_CASE("shapes_vqa questions: answers agree with the scene, every type occurs, yes/no balanced") {
  ShapesVqaOptions options;
  std::map<QuestionType, int> types;
  int yes = 0, yes_no = 0;
  for (int index = 0; index < 200; ++index) {
    const VqaScene scene = make_scene(options, VqaSplit::kTrain, index);
    const auto questions = make_questions(scene, options, 8);
    CHECK(questions.size() == 8);
    std::set<std::string> texts;
    for (const auto& q : questions) texts.insert(q.text);
    CHECK(texts.size() == questions.size());  // no question asked twice
    for (const auto& q : questions) {
      INFO(q.text);
      ++types[q.type];
      const std::string& answer = vqa_answers().at(q.answer);
      CHECK(answer == expected_answer(scene, q.text));
      CHECK(tokenize(q.text, 16).size() == 16);
      if (answer == "yes" || answer == "no") {
        ++yes_no;
        yes += answer == "yes";
      }
    }
  }
  CHECK(types.size() == kQuestionTypes);
  for (const auto& [type, count] : types) CHECK(count > 100);
  CHECK(yes > 0.3 * yes_no);
  CHECK(yes < 0.7 * yes_no);
}

TEST_CASE("shapes_vqa question_types: a subset asks only those types about the same scenes") {
  ShapesVqaOptions all, subset, bad;
  subset.question_types = {"spatial", "count"};
  std::map<QuestionType, int> types;
  for (int index = 0; index < 60; ++index) {
    const VqaScene scene = make_scene(all, VqaSplit::kTrain, index);
    const VqaScene same = make_scene(subset, VqaSplit::kTrain, index);
    REQUIRE(scene.objects.size() == same.objects.size());
    CHECK(scene.objects.front().x == same.objects.front().x);
    const auto questions = make_questions(same, subset, 4);
    CHECK_FALSE(questions.empty());
    for (const auto& q : questions) {
      INFO(q.text);
      ++types[q.type];
      CHECK(vqa_answers().at(q.answer) == expected_answer(same, q.text));
    }
  }
  CHECK(types.size() == 2);
  CHECK(types[QuestionType::kSpatial] > 30);
  CHECK(types[QuestionType::kCount] > 30);
  CHECK(question_type_mask(all) == (1u << kQuestionTypes) - 1);
  bad.question_types = {"colour", "weather"};
  CHECK_THROWS_AS(bad.check(), InputError);
  bad.question_types = {};
  CHECK_THROWS_AS(bad.check(), InputError);
}

TEST_CASE("shapes_vqa captions name every object from left to right; the tokenizer rejects unknown words") {
  ShapesVqaOptions options;
  const VqaScene scene = make_scene(options, VqaSplit::kTest, 3);
  const std::string caption = make_caption(scene);
  const auto ids = tokenize(caption, 64);
  CHECK(std::count(ids.begin(), ids.end(), tokenize("a", 1)[0]) == static_cast<long>(scene.objects.size()));
  double previous = -1;
  size_t position = 0;
  std::vector<VqaObject> sorted = scene.objects;
  std::sort(sorted.begin(), sorted.end(), [](const VqaObject& a, const VqaObject& b) { return a.x < b.x; });
  for (const auto& o : sorted) {
    const std::string phrase = kColours[o.colour] + " " + kShapes[o.shape];
    const size_t at = caption.find(phrase, position);
    CHECK(at != std::string::npos);
    position = at + 1;
    CHECK(o.x >= previous);
    previous = o.x;
  }
  CHECK_THROWS_AS(tokenize("what colour is the dog", 8), InputError);
  CHECK_THROWS_AS(tokenize("how many objects are there", 3), InputError);
  ShapesVqaOptions bad;
  bad.min_objects = 5;
  bad.max_objects = 4;
  CHECK_THROWS_AS(make_scene(bad, VqaSplit::kTrain, 0), InputError);
}
