// `bcfeat probe positions MODEL.pt`: how much of each object's position a model's visual
// tokens still carry. Scenes of the model's own data distribution are rendered; after every
// ViT block (and, for a tinyvlm with fusion positions, as the fusion sees the final tokens)
// the token at each object's centre patch is regressed linearly (ridge) onto the object's
// x and y; the first 70% of the objects fit the map, the rest measure it (R², RMSE in
// pixels). Spatial questions need exactly this information.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bcfeat/framework/models/model_file.h"
#include "bcfeat/datasets/shapes_vqa.h"
#include "bcfeat/framework/error.h"
#include "bcfeat/framework/results.h"
#include "cli.h"

namespace bcfeat {

namespace {

struct ProbeFit {
  double r2_x, r2_y, rmse_x_px, rmse_y_px;
};

// Ridge regression of targets [n, 2] on features [n, E] (+ a bias): fit on the first 70%,
// scored on the rest.
ProbeFit fit_probe(const torch::Tensor& features, const torch::Tensor& targets, double image_size) {
  const torch::Tensor x = torch::cat({features.to(torch::kFloat64), torch::ones({features.size(0), 1}, torch::kFloat64)}, 1);
  const torch::Tensor y = targets.to(torch::kFloat64);
  const int64_t fit = x.size(0) * 7 / 10;
  const torch::Tensor xf = x.slice(0, 0, fit), yf = y.slice(0, 0, fit), xt = x.slice(0, fit), yt = y.slice(0, fit);
  const torch::Tensor gram = xf.t().mm(xf);
  const double ridge = 1e-3 * gram.diagonal().mean().item<double>();
  const torch::Tensor w = torch::linalg_solve(gram + ridge * torch::eye(x.size(1), torch::kFloat64), xf.t().mm(yf));
  const torch::Tensor error = xt.mm(w) - yt;
  const torch::Tensor r2 = 1 - error.pow(2).sum(0) / (yt - yt.mean(0)).pow(2).sum(0);
  const torch::Tensor rmse = error.pow(2).mean(0).sqrt() * image_size;
  return {r2[0].item<double>(), r2[1].item<double>(), rmse[0].item<double>(), rmse[1].item<double>()};
}

}  // namespace

int command_probe(Args& args) {
  const std::string what = args.positional("positions");
  const std::string model_file = args.positional("MODEL.pt");
  const int scenes = args.int_option("--scenes", 400, 10, 100000);
  const std::string output = args.option("--output", "");
  args.finish();
  if (what != "positions") throw_input_error("bcfeat probe: unknown probe '{}'; valid: positions", what);
  torch::NoGradGuard no_grad;
  Model model = load_model(model_file, torch::kCPU);
  const ShapesVqaOptions data = shapes_vqa_from_meta(model.meta);
  const int patch = model.options.patch, grid = data.image_size / patch, depth = model.options.depth;

  // Per block (1..depth), then the fusion's view: one row per object, its centre-patch token.
  std::vector<std::vector<torch::Tensor>> rows(depth + 1);
  std::vector<float> targets;
  // The fusion's view differs from the final tokens only where the model adds positions there.
  const bool fusion_view = model.kind == "tinyvlm" && model.options.fusion_depth > 0 &&
                           model.options.fusion_positions != "none";
  const int batch = 50;
  for (int first = 0; first < scenes; first += batch) {
    std::vector<VqaScene> chunk;
    std::vector<torch::Tensor> images;
    for (int i = first; i < std::min(scenes, first + batch); ++i) {
      chunk.push_back(make_scene(data, VqaSplit::kTest, i));
      images.push_back(render_scene(chunk.back(), data));
    }
    std::vector<torch::Tensor> layers(depth + 1);
    // Model::encode_image returns the final (normed) tokens for tinyvlm: what the fusion sees.
    const torch::Tensor final_tokens = model.encode_image(torch::stack(images), [&](int layer, const torch::Tensor& t) {
      layers[layer - 1] = t;
      return t;
    });
    if (fusion_view) layers[depth] = model.vqa->fusion_input(final_tokens);
    for (size_t b = 0; b < chunk.size(); ++b) {
      for (const VqaObject& o : chunk[b].objects) {
        const int column = std::min(grid - 1, static_cast<int>(o.x / patch));
        const int row = std::min(grid - 1, static_cast<int>(o.y / patch));
        for (int l = 0; l <= depth; ++l) {
          if (layers[l].defined()) rows[l].push_back(layers[l][row * grid + column][static_cast<int64_t>(b)].clone());
        }
        targets.push_back(static_cast<float>(o.x / data.image_size));
        targets.push_back(static_cast<float>(o.y / data.image_size));
      }
    }
  }
  const torch::Tensor y = torch::tensor(targets).reshape({-1, 2});
  nlohmann::ordered_json report = {{"probe", "positions"}, {"model_file", model_file}, {"kind", model.kind},
                                   {"split", "test"},      {"scenes", scenes},         {"objects", y.size(0)}};
  report["layers"] = nlohmann::ordered_json::array();
  fmt::print("{:<14} {:>7} {:>7} {:>10} {:>10}\n", "tokens", "R2 x", "R2 y", "RMSE x px", "RMSE y px");
  for (int l = 0; l <= depth; ++l) {
    if (rows[l].empty()) continue;
    const ProbeFit f = fit_probe(torch::stack(rows[l]), y, data.image_size);
    const std::string name = l < depth ? fmt::format("block {}", l + 1) : std::string("fusion input");
    fmt::print("{:<14} {:>7.3f} {:>7.3f} {:>10.1f} {:>10.1f}\n", name, f.r2_x, f.r2_y, f.rmse_x_px, f.rmse_y_px);
    report["layers"].push_back({{"tokens", name},
                                {"r2_x", f.r2_x},
                                {"r2_y", f.r2_y},
                                {"rmse_x_px", f.rmse_x_px},
                                {"rmse_y_px", f.rmse_y_px}});
  }
  if (!output.empty()) write_file_atomic(output, report.dump(1) + "\n");
  return 0;
}

}  // namespace bcfeat
