// Distortion metrics against hand-computed values.
#include <cmath>

#include "bcfeat/framework/metrics.h"
#include "catch.h"

using namespace bcfeat;

TEST_CASE("distortion metrics on a hand-computed example") {
  // Two tokens of two channels: x = [[1, 0], [0, 2]], y = [[1, 1], [0, 2]].
  const torch::Tensor x = torch::tensor({1.0f, 0.0f, 0.0f, 2.0f}).reshape({1, 2, 2});
  const torch::Tensor y = torch::tensor({1.0f, 1.0f, 0.0f, 2.0f}).reshape({1, 2, 2});
  const nlohmann::json m = distortion_metrics(x, y);
  CHECK(m["mse"].get<double>() == Approx(0.25));
  CHECK(m["psnr_db"].get<double>() == Approx(10 * std::log10(4.0 / 0.25)));  // range 2
  CHECK(m["rel_l2"].get<double>() == Approx(std::sqrt(1.0 / 5.0)));
  CHECK(m["cosine_min"].get<double>() == Approx(1.0 / std::sqrt(2.0)));
  CHECK(m["cosine_mean"].get<double>() == Approx((1.0 / std::sqrt(2.0) + 1.0) / 2));
  CHECK(m["cosine_p01"].get<double>() == Approx(1.0 / std::sqrt(2.0) + 0.01 * (1 - 1.0 / std::sqrt(2.0))));
  CHECK(m["max_abs_err"].get<double>() == 1.0);
}

TEST_CASE("identical tensors: zero error, cosine one") {
  const torch::Tensor x = torch::randn({2, 3, 4});
  const nlohmann::json m = distortion_metrics(x, x);
  CHECK(m["mse"].get<double>() == 0.0);
  CHECK(m["cosine_min"].get<double>() == Approx(1.0));
  CHECK(m["max_abs_err"].get<double>() == 0.0);
}
