// `bcfeat dataset shapes_vqa`: writes scenes of the procedural VQA dataset for inspection —
// PNG images and one JSON line per scene (objects, caption, questions with answers).
#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bcfeat/datasets/shapes_vqa.h"
#include "bcfeat/framework/error.h"
#include "bcfeat/framework/image_io.h"
#include "bcfeat/framework/results.h"
#include "cli.h"

namespace bcfeat {

int command_dataset(Args& args) {
  const std::string name = args.positional("shapes_vqa");
  const std::string split_text = args.option("--split", "train");
  const int count = args.int_option("--count", 8, 1, 100000);
  const int first = args.int_option("--first", 0, 0, 1 << 30);
  const int questions = args.int_option("--questions", 8, 1, 64);
  ShapesVqaOptions options;
  options.image_size = args.int_option("--image-size", options.image_size, 32, 1024);
  options.seed = args.int_option("--seed", 0, 0, 1 << 30);
  const std::string output = args.option("--output", "");
  args.finish();
  if (name != "shapes_vqa") throw_input_error("bcfeat dataset: unknown dataset '{}'; valid: shapes_vqa", name);
  if (output.empty()) throw_input_error("bcfeat dataset: --output DIR is required");
  const VqaSplit split = split_from_name(split_text);
  std::string lines;
  for (int index = first; index < first + count; ++index) {
    const VqaScene scene = make_scene(options, split, index);
    const torch::Tensor image = render_scene(scene, options).permute({1, 2, 0}).contiguous();
    FloatImage png;
    png.width = png.height = options.image_size;
    png.channels = 3;
    png.pixels.assign(image.data_ptr<float>(), image.data_ptr<float>() + image.numel());
    const std::string file = fmt::format("{}_{:06d}.png", split_name(split), index);
    save_png((std::filesystem::path(output) / file).string(), png);
    nlohmann::ordered_json record = {{"index", index}, {"image", file}, {"caption", make_caption(scene)}};
    record["objects"] = nlohmann::ordered_json::array();
    for (const auto& o : scene.objects) {
      record["objects"].push_back({{"shape", o.shape}, {"colour", o.colour}, {"large", o.large}, {"x", o.x}, {"y", o.y}});
    }
    record["questions"] = nlohmann::ordered_json::array();
    for (const auto& q : make_questions(scene, options, questions)) {
      record["questions"].push_back(
          {{"type", question_type_name(q.type)}, {"question", q.text}, {"answer", vqa_answers()[q.answer]}});
    }
    lines += record.dump() + "\n";
  }
  write_file_atomic((std::filesystem::path(output) / (std::string(split_name(split)) + ".jsonl")).string(), lines);
  fmt::print("wrote {} {} scenes to {}\n", count, split_name(split), output);
  return 0;
}

}  // namespace bcfeat
