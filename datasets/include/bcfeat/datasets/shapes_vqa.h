// shapes_vqa: procedurally rendered VQA scenes for the reference VLM.
//
// A scene is a few flat shapes (circle, square, triangle) in one of six colours and two
// sizes on a noisy grey canvas, placed at random with bounded overlap (later objects may
// partly occlude earlier ones). Everything follows from (seed, split, index) through
// bcfeat's own RNG, so a scene is bit-identical on every machine; the split is part of the
// scene's seed, so train, val and test never share a scene.
//
// Questions come from templates over attributes (colour, shape, size of a uniquely
// described object), existence, counting, comparison of counts and spatial relations
// (left of / above between two uniquely described objects, asked only when their centres
// are clearly apart). Small objects (≈ 8 px at 224 px), counts and relations make the
// answers depend on fine visual detail. Answers come from a fixed vocabulary; questions
// and captions are tokenized with a fixed word list.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/types.h>

#include "bcfeat/framework/params.h"

namespace bcfeat {

// Question type names in QuestionType order: count, exist, colour, shape, size, compare, spatial.
const std::vector<std::string>& question_type_names();

struct ShapesVqaOptions {
  int image_size = 224;
  int min_objects = 3;
  int max_objects = 7;
  double overlap = 0.75;  // min centre distance as a fraction of the two radii's sum (< 1: occlusion)
  double noise = 0.03;    // std of per-pixel grey noise on the canvas and the shapes
  int64_t seed = 0;
  // Question types asked (names as question_type_name); the default is all of them. A
  // subset leaves the scenes unchanged and skips the other templates.
  std::vector<std::string> question_types = question_type_names();

  void declare(ParamSet& params, const std::string& prefix = "data");
  void check() const;  // throws InputError on inconsistent options
};

enum class VqaSplit { kTrain = 0, kVal = 1, kTest = 2 };
const char* split_name(VqaSplit split);
VqaSplit split_from_name(const std::string& name);  // train, val or test; throws InputError otherwise

enum class VqaShape { kCircle = 0, kSquare = 1, kTriangle = 2 };
constexpr int kVqaShapes = 3;
constexpr int kVqaColours = 6;

struct VqaObject {
  int shape;   // VqaShape
  int colour;  // index into the colour names
  bool large;
  double x, y, radius;  // pixels
};

struct VqaScene {
  uint64_t seed;
  std::vector<VqaObject> objects;  // drawing order
};

enum class QuestionType { kCount = 0, kExist, kColour, kShape, kSize, kCompare, kSpatial };
constexpr int kQuestionTypes = 7;
const char* question_type_name(QuestionType type);
// Bit t set for every QuestionType t in options.question_types; throws InputError on an
// unknown name.
unsigned question_type_mask(const ShapesVqaOptions& options);

struct VqaQuestion {
  QuestionType type;
  std::string text;
  int answer;  // index into answer_vocabulary()
};

VqaScene make_scene(const ShapesVqaOptions& options, VqaSplit split, int64_t index);
// [3, S, S] float32 in [0, 1].
torch::Tensor render_scene(const VqaScene& scene, const ShapesVqaOptions& options);
void render_scene_into(const VqaScene& scene, const ShapesVqaOptions& options, float* pixels);  // 3·S·S floats
// Up to `count` distinct questions, cycling through the question types (types with no valid
// question for the scene are skipped); deterministic from the scene's seed.
std::vector<VqaQuestion> make_questions(const VqaScene& scene, const ShapesVqaOptions& options, int count);
// "a large red circle, a small blue square and ..." from left to right.
std::string make_caption(const VqaScene& scene);

// Scenes [first, first + count) of a split as tensors: images [S, 3, H, W] (one per scene),
// captions [S, kCaptionLength] word ids, and every question of those scenes: ids
// [Q, length], answers [Q], types [Q] and the scene each one is about, scene [Q] (int64).
// Questions are grouped by scene: those of scene s are [first_question[s], first_question[s+1]).
constexpr int kCaptionLength = 40;  // the longest caption (9 objects) has 37 words
struct VqaTensors {
  torch::Tensor images, captions;
  torch::Tensor questions, answers, types, scene;
  std::vector<int64_t> first_question;  // S + 1 entries
  int64_t scenes() const { return images.size(0); }
  // Question indices [Q'] of the given scenes (in order), and for each the position of its
  // scene within `scene_ids` ([Q'], for gathering per-scene features).
  std::pair<torch::Tensor, torch::Tensor> questions_of(const std::vector<int64_t>& scene_ids) const;
};
VqaTensors vqa_tensors(const ShapesVqaOptions& options, VqaSplit split, int64_t first, int64_t count,
                       int questions_per_scene, int length);

const std::vector<std::string>& vqa_answers();  // yes, no, 0..9, colours, shapes, sizes
const std::vector<std::string>& vqa_words();     // token 0 is <pad>
int answer_index(const std::string& answer);     // throws std::out_of_range for an unknown answer
// Word ids of `text` ('?' and ',' dropped), padded with 0 to `length`; throws InputError on
// an unknown word or a text longer than `length`.
std::vector<int64_t> tokenize(const std::string& text, int length);

// The options as a model file's "data" description, and back from a model file's meta.
nlohmann::json shapes_vqa_to_json(const ShapesVqaOptions& data);
ShapesVqaOptions shapes_vqa_from_meta(const nlohmann::json& meta);

}  // namespace bcfeat
