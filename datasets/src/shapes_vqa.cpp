#include "bcfeat/datasets/shapes_vqa.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>

#include "bcfeat/datasets/features.h"
#include "bcfeat/framework/error.h"

namespace bcfeat {

namespace {

const char* const kShapeNames[kVqaShapes] = {"circle", "square", "triangle"};
const char* const kColourNames[kVqaColours] = {"red", "green", "blue", "yellow", "purple", "cyan"};
const float kColourRgb[kVqaColours][3] = {{0.90f, 0.12f, 0.10f}, {0.12f, 0.72f, 0.22f}, {0.15f, 0.30f, 0.95f},
                                          {0.95f, 0.85f, 0.10f}, {0.60f, 0.20f, 0.80f}, {0.10f, 0.85f, 0.85f}};
constexpr float kBackground = 0.45f;

std::string plural(int shape) { return std::string(kShapeNames[shape]) + "s"; }
const char* size_name(bool large) { return large ? "large" : "small"; }

// Whether (px, py) lies inside object `o`.
bool inside(const VqaObject& o, double px, double py) {
  const double dx = px - o.x, dy = py - o.y, r = o.radius;
  switch (static_cast<VqaShape>(o.shape)) {
    case VqaShape::kCircle:
      return dx * dx + dy * dy <= r * r;
    case VqaShape::kSquare:
      return std::fabs(dx) <= 0.85 * r && std::fabs(dy) <= 0.85 * r;
    case VqaShape::kTriangle: {
      // Apex up: (0, −r), (−0.95r, 0.75r), (0.95r, 0.75r); inside when on the inner side of all edges.
      const double ax = 0, ay = -r, bx = -0.95 * r, by = 0.75 * r, cx = 0.95 * r, cy = 0.75 * r;
      const double e0 = (bx - ax) * (dy - ay) - (by - ay) * (dx - ax);
      const double e1 = (cx - bx) * (dy - by) - (cy - by) * (dx - bx);
      const double e2 = (ax - cx) * (dy - cy) - (ay - cy) * (dx - cx);
      return (e0 <= 0 && e1 <= 0 && e2 <= 0) || (e0 >= 0 && e1 >= 0 && e2 >= 0);
    }
  }
  return false;
}

template <class Match>
int count_if_objects(const VqaScene& scene, Match match) {
  return static_cast<int>(std::count_if(scene.objects.begin(), scene.objects.end(), match));
}

// A random element of `candidates` (indices), or −1 when empty.
int pick(const std::vector<int>& candidates, SeededRandom& random) {
  if (candidates.empty()) return -1;
  return candidates[random.next() % candidates.size()];
}

}  // namespace

void ShapesVqaOptions::declare(ParamSet& params, const std::string& prefix) {
  params.add(prefix + ".image_size", &image_size, "shapes_vqa: image side in pixels").range(32, 1024);
  params.add(prefix + ".min_objects", &min_objects, "shapes_vqa: fewest objects per scene").range(1, 9);
  params.add(prefix + ".max_objects", &max_objects, "shapes_vqa: most objects per scene").range(1, 9);
  params.add(prefix + ".overlap", &overlap,
             "shapes_vqa: least centre distance as a fraction of the two radii's sum (< 1 lets shapes occlude)")
      .range(0.3, 3.0);
  params.add(prefix + ".noise", &noise, "shapes_vqa: std of the per-pixel grey noise").range(0.0, 0.5);
  params.add(prefix + ".seed", &seed, "shapes_vqa: dataset seed (scenes follow from it, the split and the index)")
      .range(0, 9.007199254740992e15);
  params.add(prefix + ".question_types", &question_types,
             "shapes_vqa: question types asked (a subset leaves the scenes as they are)")
      .one_of(question_type_names());
}

void ShapesVqaOptions::check() const {
  if (min_objects < 1 || max_objects > 9 || min_objects > max_objects) {
    throw_input_error("shapes_vqa: need 1 <= min_objects ({}) <= max_objects ({}) <= 9", min_objects, max_objects);
  }
  if (image_size < 32) throw_input_error("shapes_vqa: image_size {} is below 32", image_size);
  if (question_types.empty()) throw_input_error("shapes_vqa: question_types is empty");
  question_type_mask(*this);  // throws on an unknown name
}

unsigned question_type_mask(const ShapesVqaOptions& options) {
  const auto& names = question_type_names();
  unsigned mask = 0;
  for (const std::string& name : options.question_types) {
    const auto it = std::find(names.begin(), names.end(), name);
    if (it == names.end()) throw_input_error("shapes_vqa: unknown question type '{}'; valid: {}", name, fmt::join(names, ", "));
    mask |= 1u << (it - names.begin());
  }
  return mask;
}

VqaSplit split_from_name(const std::string& name) {
  for (VqaSplit split : {VqaSplit::kTrain, VqaSplit::kVal, VqaSplit::kTest}) {
    if (name == split_name(split)) return split;
  }
  throw_input_error("shapes_vqa: split must be train, val or test, not '{}'", name);
}

const char* split_name(VqaSplit split) {
  switch (split) {
    case VqaSplit::kTrain: return "train";
    case VqaSplit::kVal: return "val";
    case VqaSplit::kTest: return "test";
  }
  return "?";
}

const std::vector<std::string>& question_type_names() {
  static const std::vector<std::string> names = {"count", "exist", "colour", "shape", "size", "compare", "spatial"};
  return names;
}

const char* question_type_name(QuestionType type) { return question_type_names()[static_cast<int>(type)].c_str(); }

VqaScene make_scene(const ShapesVqaOptions& options, VqaSplit split, int64_t index) {
  options.check();
  if (index < 0 || index >= (int64_t{1} << 56)) throw_input_error("shapes_vqa: scene index {} out of range", index);
  VqaScene scene;
  scene.seed = static_cast<uint64_t>(options.seed) * 0x9E3779B97F4A7C15ull ^
               (static_cast<uint64_t>(split) + 1) << 56 ^ static_cast<uint64_t>(index);
  SeededRandom random(scene.seed);
  const int count = options.min_objects + static_cast<int>(random.next() % (options.max_objects - options.min_objects + 1));
  const double size = options.image_size;
  for (int k = 0; k < count; ++k) {
    VqaObject object;
    object.shape = static_cast<int>(random.next() % kVqaShapes);
    object.colour = static_cast<int>(random.next() % kVqaColours);
    object.large = random.uniform() < 0.5;
    object.radius = size * (object.large ? 0.075 : 0.036);
    const double margin = object.radius + 2.0;
    bool placed = false;
    for (int attempt = 0; attempt < 200 && !placed; ++attempt) {
      object.x = margin + random.uniform() * (size - 2 * margin);
      object.y = margin + random.uniform() * (size - 2 * margin);
      placed = std::all_of(scene.objects.begin(), scene.objects.end(), [&](const VqaObject& other) {
        return std::hypot(object.x - other.x, object.y - other.y) >= options.overlap * (object.radius + other.radius);
      });
    }
    if (placed) scene.objects.push_back(object);
  }
  return scene;
}

torch::Tensor render_scene(const VqaScene& scene, const ShapesVqaOptions& options) {
  torch::Tensor image = torch::empty({3, options.image_size, options.image_size}, torch::kFloat32);
  render_scene_into(scene, options, image.data_ptr<float>());
  return image;
}

void render_scene_into(const VqaScene& scene, const ShapesVqaOptions& options, float* pixels) {
  const int size = options.image_size;
  const int64_t plane = static_cast<int64_t>(size) * size;
  for (int64_t i = 0; i < 3 * plane; ++i) pixels[i] = kBackground;
  // Objects in drawing order, each blended by its coverage of 4×4 samples per pixel.
  for (const VqaObject& o : scene.objects) {
    const int x0 = std::max(0, static_cast<int>(std::floor(o.x - o.radius)) - 1);
    const int x1 = std::min(size - 1, static_cast<int>(std::ceil(o.x + o.radius)) + 1);
    const int y0 = std::max(0, static_cast<int>(std::floor(o.y - o.radius)) - 1);
    const int y1 = std::min(size - 1, static_cast<int>(std::ceil(o.y + o.radius)) + 1);
    for (int py = y0; py <= y1; ++py) {
      for (int px = x0; px <= x1; ++px) {
        int covered = 0;
        for (int sy = 0; sy < 4; ++sy) {
          for (int sx = 0; sx < 4; ++sx) covered += inside(o, px + (sx + 0.5) / 4.0, py + (sy + 0.5) / 4.0);
        }
        if (covered == 0) continue;
        const float alpha = static_cast<float>(covered) / 16.0f;
        for (int c = 0; c < 3; ++c) {
          float& value = pixels[c * plane + static_cast<int64_t>(py) * size + px];
          value = (1.0f - alpha) * value + alpha * kColourRgb[o.colour][c];
        }
      }
    }
  }
  if (options.noise > 0.0) {
    SeededRandom random(scene.seed ^ 0xA5A5A5A5A5A5A5A5ull);
    for (int64_t i = 0; i < plane; ++i) {
      const float n = static_cast<float>(options.noise * random.normal());
      for (int c = 0; c < 3; ++c) pixels[c * plane + i] = std::min(1.0f, std::max(0.0f, pixels[c * plane + i] + n));
    }
  }
}

std::vector<VqaQuestion> make_questions(const VqaScene& scene, const ShapesVqaOptions& options, int count) {
  SeededRandom random(scene.seed ^ 0x5EED5EED5EED5EEDull);
  const auto& objects = scene.objects;
  const int n = static_cast<int>(objects.size());
  auto unique_by = [&](auto key) {  // objects whose key no other object shares
    std::vector<int> out;
    for (int i = 0; i < n; ++i) {
      if (count_if_objects(scene, [&](const VqaObject& o) { return key(o) == key(objects[i]); }) == 1) out.push_back(i);
    }
    return out;
  };
  auto colour_shape = [](const VqaObject& o) { return o.colour * 8 + o.shape; };
  auto yes_no = [](bool value) { return answer_index(value ? "yes" : "no"); };

  auto generate = [&](QuestionType type, VqaQuestion& q) -> bool {
    q.type = type;
    std::ostringstream text;
    switch (type) {
      case QuestionType::kCount: {
        const int form = static_cast<int>(random.next() % 3);
        const int shape = static_cast<int>(random.next() % kVqaShapes);
        const int colour = static_cast<int>(random.next() % kVqaColours);
        int answer;
        if (form == 0) {
          text << "how many " << plural(shape) << " are there";
          answer = count_if_objects(scene, [&](const VqaObject& o) { return o.shape == shape; });
        } else if (form == 1) {
          text << "how many " << kColourNames[colour] << " objects are there";
          answer = count_if_objects(scene, [&](const VqaObject& o) { return o.colour == colour; });
        } else {
          text << "how many objects are there";
          answer = n;
        }
        q.answer = answer_index(std::to_string(answer));
        break;
      }
      case QuestionType::kExist: {
        int colour, shape;
        const bool want_yes = random.uniform() < 0.5;
        if (want_yes && n > 0) {
          const VqaObject& o = objects[random.next() % n];
          colour = o.colour;
          shape = o.shape;
        } else {
          std::vector<int> absent;
          for (int c = 0; c < kVqaColours; ++c) {
            for (int s = 0; s < kVqaShapes; ++s) {
              if (count_if_objects(scene, [&](const VqaObject& o) { return o.colour == c && o.shape == s; }) == 0) {
                absent.push_back(c * 8 + s);
              }
            }
          }
          const int chosen = pick(absent, random);
          if (chosen < 0) return false;
          colour = chosen / 8;
          shape = chosen % 8;
        }
        text << "is there a " << kColourNames[colour] << " " << kShapeNames[shape];
        q.answer = yes_no(count_if_objects(scene, [&](const VqaObject& o) { return o.colour == colour && o.shape == shape; }) > 0);
        break;
      }
      case QuestionType::kColour: {
        const int i = pick(unique_by([](const VqaObject& o) { return o.large * 8 + o.shape; }), random);
        if (i < 0) return false;
        text << "what colour is the " << size_name(objects[i].large) << " " << kShapeNames[objects[i].shape];
        q.answer = answer_index(kColourNames[objects[i].colour]);
        break;
      }
      case QuestionType::kShape: {
        const int i = pick(unique_by([](const VqaObject& o) { return o.large * 8 + o.colour; }), random);
        if (i < 0) return false;
        text << "what shape is the " << size_name(objects[i].large) << " " << kColourNames[objects[i].colour] << " object";
        q.answer = answer_index(kShapeNames[objects[i].shape]);
        break;
      }
      case QuestionType::kSize: {
        const int i = pick(unique_by(colour_shape), random);
        if (i < 0) return false;
        text << "what size is the " << kColourNames[objects[i].colour] << " " << kShapeNames[objects[i].shape];
        q.answer = answer_index(size_name(objects[i].large));
        break;
      }
      case QuestionType::kCompare: {
        const int a = static_cast<int>(random.next() % kVqaShapes);
        const int b = (a + 1 + static_cast<int>(random.next() % (kVqaShapes - 1))) % kVqaShapes;
        text << "are there more " << plural(a) << " than " << plural(b);
        q.answer = yes_no(count_if_objects(scene, [&](const VqaObject& o) { return o.shape == a; }) >
                          count_if_objects(scene, [&](const VqaObject& o) { return o.shape == b; }));
        break;
      }
      case QuestionType::kSpatial: {
        const std::vector<int> unique = unique_by(colour_shape);
        const bool horizontal = random.uniform() < 0.5;
        std::vector<int> pairs;  // i * 16 + j with centres clearly apart along the axis
        for (int i : unique) {
          for (int j : unique) {
            if (i == j) continue;
            const double gap = horizontal ? objects[j].x - objects[i].x : objects[j].y - objects[i].y;
            if (std::fabs(gap) > objects[i].radius + objects[j].radius) pairs.push_back(i * 16 + j);
          }
        }
        const int chosen = pick(pairs, random);
        if (chosen < 0) return false;
        const VqaObject& a = objects[chosen / 16];
        const VqaObject& b = objects[chosen % 16];
        text << "is the " << kColourNames[a.colour] << " " << kShapeNames[a.shape] << (horizontal ? " left of the " : " above the ")
             << kColourNames[b.colour] << " " << kShapeNames[b.shape];
        q.answer = yes_no(horizontal ? a.x < b.x : a.y < b.y);
        break;
      }
    }
    q.text = text.str();
    return true;
  };

  std::vector<VqaQuestion> out;
  const unsigned allowed = question_type_mask(options);
  const int types = __builtin_popcount(allowed);
  const int first = static_cast<int>(random.next() % kQuestionTypes);
  int misses = 0;
  for (int k = 0; static_cast<int>(out.size()) < count && misses < types; ++k) {
    const int type = (first + k) % kQuestionTypes;
    if (!(allowed >> type & 1u)) continue;  // (all types allowed: the same questions as before the option)
    VqaQuestion q;
    const bool made = generate(static_cast<QuestionType>(type), q);
    if (made && std::none_of(out.begin(), out.end(), [&](const VqaQuestion& other) { return other.text == q.text; })) {
      out.push_back(q);
      misses = 0;
    } else {
      ++misses;
    }
  }
  return out;
}

std::string make_caption(const VqaScene& scene) {
  std::vector<VqaObject> objects = scene.objects;
  std::stable_sort(objects.begin(), objects.end(), [](const VqaObject& a, const VqaObject& b) { return a.x < b.x; });
  std::string out;
  for (size_t i = 0; i < objects.size(); ++i) {
    if (i > 0) out += i + 1 == objects.size() ? " and " : ", ";
    out += std::string("a ") + size_name(objects[i].large) + " " + kColourNames[objects[i].colour] + " " +
           kShapeNames[objects[i].shape];
  }
  return out;
}

VqaTensors vqa_tensors(const ShapesVqaOptions& options, VqaSplit split, int64_t first, int64_t count,
                       int questions_per_scene, int length) {
  if (count < 1) throw_input_error("shapes_vqa: no scenes requested");
  VqaTensors out;
  out.images = torch::empty({count, 3, options.image_size, options.image_size}, torch::kFloat32);
  const int64_t pixels = 3 * static_cast<int64_t>(options.image_size) * options.image_size;
  float* images = out.images.data_ptr<float>();
  // Scenes are independent (each from its own seed): built in parallel, gathered in order.
  std::vector<std::vector<VqaQuestion>> questions(count);
  std::vector<std::string> captions(count);
  at::parallel_for(0, count, 16, [&](int64_t begin, int64_t end) {
    for (int64_t s = begin; s < end; ++s) {
      const VqaScene scene = make_scene(options, split, first + s);
      render_scene_into(scene, options, images + s * pixels);
      captions[s] = make_caption(scene);
      questions[s] = make_questions(scene, options, questions_per_scene);
    }
  });
  std::vector<int64_t> ids, answers, types, scenes, caption_ids;
  out.first_question.push_back(0);
  for (int64_t s = 0; s < count; ++s) {
    const auto caption = tokenize(captions[s], kCaptionLength);
    caption_ids.insert(caption_ids.end(), caption.begin(), caption.end());
    for (const auto& q : questions[s]) {
      const auto tokens = tokenize(q.text, length);
      ids.insert(ids.end(), tokens.begin(), tokens.end());
      answers.push_back(q.answer);
      types.push_back(static_cast<int64_t>(q.type));
      scenes.push_back(s);
    }
    out.first_question.push_back(static_cast<int64_t>(answers.size()));
  }
  const auto n = static_cast<int64_t>(answers.size());
  out.captions = torch::tensor(caption_ids).reshape({count, kCaptionLength});
  out.questions = torch::tensor(ids).reshape({n, length});
  out.answers = torch::tensor(answers);
  out.types = torch::tensor(types);
  out.scene = torch::tensor(scenes);
  return out;
}

std::pair<torch::Tensor, torch::Tensor> VqaTensors::questions_of(const std::vector<int64_t>& scene_ids) const {
  std::vector<int64_t> index, position;
  for (size_t k = 0; k < scene_ids.size(); ++k) {
    for (int64_t q = first_question.at(scene_ids[k]); q < first_question.at(scene_ids[k] + 1); ++q) {
      index.push_back(q);
      position.push_back(static_cast<int64_t>(k));
    }
  }
  return {torch::tensor(index, torch::kLong), torch::tensor(position, torch::kLong)};
}

const std::vector<std::string>& vqa_answers() {
  static const std::vector<std::string> answers = [] {
    std::vector<std::string> out = {"yes", "no"};
    for (int k = 0; k <= 9; ++k) out.push_back(std::to_string(k));
    for (const char* c : kColourNames) out.push_back(c);
    for (const char* s : kShapeNames) out.push_back(s);
    out.push_back("small");
    out.push_back("large");
    return out;
  }();
  return answers;
}

const std::vector<std::string>& vqa_words() {
  static const std::vector<std::string> words = [] {
    std::vector<std::string> out = {"<pad>", "how", "many", "are",   "there", "is",   "a",    "what", "colour",
                                    "shape", "size", "the", "object", "objects", "more", "than", "left", "of",
                                    "above", "and",  "small", "large"};
    for (const char* c : kColourNames) out.push_back(c);
    for (int s = 0; s < kVqaShapes; ++s) {
      out.push_back(kShapeNames[s]);
      out.push_back(plural(s));
    }
    return out;
  }();
  return words;
}

int answer_index(const std::string& answer) {
  const auto& answers = vqa_answers();
  const auto it = std::find(answers.begin(), answers.end(), answer);
  if (it == answers.end()) throw std::out_of_range("shapes_vqa: '" + answer + "' is not an answer");
  return static_cast<int>(it - answers.begin());
}

std::vector<int64_t> tokenize(const std::string& text, int length) {
  std::string cleaned;
  for (char c : text) {
    if (c != '?' && c != ',') cleaned += c;
  }
  std::istringstream stream(cleaned);
  const auto& words = vqa_words();
  std::vector<int64_t> ids;
  for (std::string word; stream >> word;) {
    const auto it = std::find(words.begin(), words.end(), word);
    if (it == words.end()) throw_input_error("tokenize: unknown word '{}' in \"{}\"", word, text);
    ids.push_back(it - words.begin());
  }
  if (static_cast<int>(ids.size()) > length) {
    throw_input_error("tokenize: \"{}\" has {} words, more than {}", text, ids.size(), length);
  }
  ids.resize(static_cast<size_t>(length), 0);
  return ids;
}

nlohmann::json shapes_vqa_to_json(const ShapesVqaOptions& data) {
  return {{"image_size", data.image_size}, {"min_objects", data.min_objects}, {"max_objects", data.max_objects},
          {"overlap", data.overlap},       {"noise", data.noise},             {"seed", data.seed},
          {"question_types", data.question_types}};
}

ShapesVqaOptions shapes_vqa_from_meta(const nlohmann::json& meta) {
  const nlohmann::json& data = meta.at("data");
  ShapesVqaOptions out;
  out.image_size = data.at("image_size");
  out.min_objects = data.at("min_objects");
  out.max_objects = data.at("max_objects");
  out.overlap = data.at("overlap");
  out.noise = data.at("noise");
  out.seed = data.at("seed");
  // Files from before the option hold no list: every type.
  if (data.contains("question_types")) out.question_types = data.at("question_types").get<std::vector<std::string>>();
  return out;
}

}  // namespace bcfeat
