// Learned compression: the training path's forward equals the evaluation path bit for bit,
// the straight-through gradient lands on the entries the codec chose (found by an independent
// nearest-entry search), the soft emulation's gradient matches finite differences, and state
// files round-trip and refuse what does not fit.
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <torch/torch.h>

#include "bcfeat/framework/compressor.h"
#include "bcfeat/framework/error.h"
#include "catch.h"

using namespace bcfeat;

namespace {

// Smooth features on a 6x8 token grid: [B, 48, D].
torch::Tensor grid_features(int64_t batch, int64_t dim, uint64_t seed) {
  torch::manual_seed(seed);
  const torch::Tensor coarse = torch::randn({batch, dim, 2, 2});
  const torch::Tensor fine = torch::nn::functional::interpolate(
      coarse, torch::nn::functional::InterpolateFuncOptions().size(std::vector<int64_t>{6, 8}).mode(torch::kBilinear).align_corners(false));
  return (fine + 0.1 * torch::randn({batch, dim, 6, 8})).flatten(2).permute({0, 2, 1}).contiguous();
}

std::unique_ptr<Compressor> fitted(const std::vector<std::string>& settings, const torch::Tensor& calibration) {
  std::vector<std::string> all{"tokens_hw=[6, 8]", "kmeans_iterations=5"};
  all.insert(all.end(), settings.begin(), settings.end());
  auto compressor = make_compressor(compression_options("codebook", all));
  compressor->fit(calibration);
  return compressor;
}

// The trainable state moved off its k-means values (so nothing below holds only at the fit).
std::vector<torch::Tensor> moved_state(const Compressor& compressor, torch::ScalarType dtype = torch::kFloat32) {
  std::vector<torch::Tensor> state = compressor.trainable_state();
  REQUIRE(state.size() == 1);
  torch::manual_seed(7);
  state[0] = (state[0] + 0.05 * torch::randn(state[0].sizes())).to(dtype);
  return state;
}

}  // namespace

TEST_CASE("learned: the training forward equals decompress(compress(x)) bit for bit, ste and soft") {
  const torch::Tensor calibration = grid_features(3, 12, 1), x = grid_features(2, 12, 2);
  for (const char* kind : {"scalar", "vector", "pq"}) {
    for (const char* index_format : {"none", "bc4_unorm", "bc3"}) {
      for (const char* gradient : {"ste", "soft"}) {
        INFO(kind << " " << index_format << " " << gradient);
        auto compressor = fitted({std::string("codebook=") + kind, "codebook_size=16", "subvector=4",
                                  std::string("index_format=") + index_format},
                                 calibration);
        std::vector<torch::Tensor> state = moved_state(*compressor);
        compressor->load_trainable_state(state);
        // The state as stored (fp16) is what the training holds after loading.
        state = compressor->trainable_state();
        state[0].set_requires_grad(true);
        const torch::Tensor y = compressor->train_reconstruction(x, state, gradient, 0.5);
        const torch::Tensor eval = compressor->decompress(compressor->compress(x));
        CHECK(torch::equal(y.detach(), eval));
        CHECK(y.requires_grad());
        // A fresh compressor reading the state file's bytes decodes the same.
        auto other = make_compressor(compression_options(
            "codebook", {"tokens_hw=[6, 8]", std::string("codebook=") + kind, "codebook_size=16", "subvector=4",
                         std::string("index_format=") + index_format}));
        other->load_shared_state(compressor->shared_state(), 12);
        CHECK(torch::equal(other->decompress(other->compress(x)), eval));
      }
    }
  }
}

TEST_CASE("learned: the straight-through gradient of each entry sums the loss weights of the positions it encodes") {
  const torch::Tensor calibration = grid_features(3, 12, 3), x = grid_features(2, 12, 4);
  for (const char* kind : {"scalar", "vector", "pq"}) {
    INFO(kind);
    const int64_t width = std::string(kind) == "scalar" ? 1 : 4;
    auto compressor = fitted({std::string("codebook=") + kind, "codebook_size=8", "subvector=4"}, calibration);
    std::vector<torch::Tensor> state = compressor->trainable_state();
    state[0].set_requires_grad(true);
    const torch::Tensor weights = torch::randn(x.sizes());
    (compressor->train_reconstruction(x, state, "ste", 1.0) * weights).sum().backward();
    // Independent search: the nearest stored entry of each sub-vector, by an exhaustive
    // float64 distance (ties cannot occur on random data).
    const torch::Tensor books = state[0].detach().to(torch::kDouble);  // [books, 8, width]
    const int64_t spaces = 12 / width;
    const torch::Tensor sub = x.to(torch::kDouble).reshape({-1, spaces, width});
    torch::Tensor expected = torch::zeros(books.sizes(), torch::kDouble);
    const torch::Tensor w = weights.to(torch::kDouble).reshape({-1, spaces, width});
    for (int64_t s = 0; s < spaces; ++s) {
      const int64_t book = std::string(kind) == "pq" ? s : 0;
      const torch::Tensor distance = (sub.select(1, s).unsqueeze(1) - books[book].unsqueeze(0)).pow(2).sum(2);  // [R, 8]
      const torch::Tensor nearest = distance.argmin(1);
      expected[book].index_add_(0, nearest, w.select(1, s));
    }
    CHECK(torch::allclose(state[0].grad().to(torch::kDouble), expected, 1e-5, 1e-5));
  }
}

TEST_CASE("learned: the soft emulation's gradient matches central differences, and goes hard as t -> 0") {
  const torch::Tensor calibration = grid_features(2, 6, 5), x = grid_features(1, 6, 6);
  for (const char* index_format : {"none", "bc4_unorm"}) {
    INFO(index_format);
    auto compressor = fitted({"codebook=pq", "codebook_size=4", "subvector=2", std::string("index_format=") + index_format},
                             calibration);
    std::vector<torch::Tensor> state = moved_state(*compressor, torch::kDouble);
    compressor->load_trainable_state(state);
    torch::manual_seed(9);
    const torch::Tensor weights = torch::randn(x.sizes(), torch::kDouble);
    const double t = std::string(index_format) == "none" ? 0.7 : 0.3;
    auto loss = [&](const torch::Tensor& books) {
      return (compressor->soft_reconstruction(x, {books}, t) * weights).sum();
    };
    torch::Tensor books = state[0].clone().set_requires_grad(true);
    loss(books).backward();
    const torch::Tensor analytic = books.grad().flatten();
    torch::Tensor numeric = torch::zeros_like(analytic);
    const double eps = 1e-6;
    for (int64_t i = 0; i < analytic.numel(); ++i) {
      torch::Tensor plus = state[0].clone(), minus = state[0].clone();
      plus.view(-1)[i] += eps;
      minus.view(-1)[i] -= eps;
      numeric[i] = (loss(plus).item<double>() - loss(minus).item<double>()) / (2 * eps);
    }
    CHECK(analytic.abs().sum().item<double>() > 1e-3);
    CHECK(torch::allclose(analytic, numeric, 1e-5, 1e-7));
    // Nearly hard: the soft reconstruction approaches the codec's.
    const torch::Tensor hard = compressor->decompress(compressor->compress(x)).to(torch::kDouble);
    const torch::Tensor soft = compressor->soft_reconstruction(x, {compressor->trainable_state()[0].to(torch::kDouble)}, 1e-4);
    CHECK((soft - hard).abs().max().item<double>() < 1e-3);
  }
}

TEST_CASE("learned: state files round-trip through compression.state and refuse what does not fit") {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / "bcfeat_test_learned";
  fs::create_directories(dir);
  const torch::Tensor calibration = grid_features(3, 12, 7), x = grid_features(2, 12, 8);
  const std::vector<std::string> settings{"tokens_hw=[6, 8]", "codebook=pq", "codebook_size=16", "subvector=4"};
  auto compressor = make_compressor(compression_options("codebook", settings));
  compressor->fit(calibration);
  compressor->load_trainable_state(moved_state(*compressor));
  CompressorState state;
  CompressionOptions options = compression_options("codebook", settings);
  state.compression = options.stream_keys();
  state.dim = 12;
  state.bytes = compressor->shared_state();
  state.provenance = {{"experiment", "test"}};
  const std::string path = (dir / "state.bin").string();
  write_compressor_state(path, state);

  options.state = path;
  auto loaded = make_compressor(options);
  CHECK(loaded->shared_bytes() == compressor->shared_bytes());
  CHECK(loaded->shared_bytes() == 2 * 3 * 16 * 4);
  CHECK(torch::equal(loaded->decompress(loaded->compress(x)), compressor->decompress(compressor->compress(x))));
  CHECK(read_compressor_state(path).provenance.at("experiment") == "test");

  // Other stream keys, other D, a flipped byte, a cut file, no file, not a state file.
  CompressionOptions other = compression_options("codebook", {"tokens_hw=[6, 8]", "codebook=pq", "codebook_size=32", "subvector=4"});
  other.state = path;
  CHECK_THROWS_AS(make_compressor(other), InputError);
  CHECK_THROWS_AS(loaded->compress(grid_features(1, 16, 9)), InputError);
  std::string content;
  {
    std::ifstream in(path, std::ios::binary);
    content.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  auto write = [&](const std::string& name, const std::string& bytes) {
    std::ofstream(dir / name, std::ios::binary) << bytes;
    CompressionOptions o = compression_options("codebook", settings);
    o.state = (dir / name).string();
    return o;
  };
  std::string flipped = content;
  flipped.back() = static_cast<char>(flipped.back() ^ 1);
  CHECK_THROWS_AS(make_compressor(write("flipped.bin", flipped)), InputError);
  CHECK_THROWS_AS(make_compressor(write("cut.bin", content.substr(0, content.size() - 5))), InputError);
  CHECK_THROWS_AS(make_compressor(write("header.bin", content.substr(0, 30))), InputError);
  CHECK_THROWS_AS(make_compressor(write("other.bin", "P6\n1 1\n255\n...")), InputError);
  CompressionOptions missing = compression_options("codebook", settings);
  missing.state = (dir / "missing.bin").string();
  CHECK_THROWS_AS(make_compressor(missing), InputError);
  fs::remove_all(dir);
}

TEST_CASE("learned: texture value maps train straight through the real codec; clipped values carry the shift") {
  const torch::Tensor calibration = grid_features(3, 8, 11), x = grid_features(2, 8, 12);
  for (const char* format : {"bc1", "bc4_snorm", "bc7", "astc_4x4"}) {
    INFO(format);
    CompressionOptions options = compression_options(
        "texture", {"tokens_hw=[6, 8]", std::string("format=") + format, "scope=per_dataset", "quality=fast"});
    auto compressor = make_compressor(options);
    REQUIRE_FALSE(compressor->untrainable());
    compressor->fit(calibration);
    // Ranges narrowed to the middle half, so that some values of every channel are clipped.
    std::vector<torch::Tensor> state = compressor->trainable_state();
    REQUIRE(state.size() == 1);
    REQUIRE(state[0].sizes().vec() == std::vector<int64_t>{8, 2});
    const torch::Tensor mid = state[0].mean(1, true), half = (state[0].select(1, 1) - state[0].select(1, 0)).unsqueeze(1) / 4;
    state[0] = torch::cat({mid - half, mid + half}, 1);
    compressor->load_trainable_state(state);
    state = compressor->trainable_state();
    state[0].set_requires_grad(true);
    const torch::Tensor y = compressor->train_reconstruction(x, state, "ste", 1.0);
    CHECK(torch::equal(y.detach(), compressor->decompress(compressor->compress(x))));
    const torch::Tensor weights = torch::randn(x.sizes());
    (y * weights).sum().backward();
    // Moving both ends of a channel's range by d leaves values inside it where they are (they
    // are stored relative to the range) and moves the clipped ones by d: the two gradients of
    // a channel add up to the loss weights of its clipped values.
    const torch::Tensor low = state[0].detach().select(1, 0), high = state[0].detach().select(1, 1);
    const torch::Tensor clipped = (x < low).logical_or(x > high);
    const torch::Tensor expected = (weights * clipped).sum(std::vector<int64_t>{0, 1});
    CHECK(clipped.any().item<bool>());
    CHECK(torch::allclose(state[0].grad().sum(1), expected, 1e-4, 1e-4));
  }
  for (const std::vector<std::string>& settings :
       {std::vector<std::string>{"format=bc1"}, {"format=bc1", "scope=per_dataset", "rotation=pca"},
        {"format=bc1", "scope=per_dataset", "outlier_channels=2"}, {"format=bc1", "scope=per_dataset", "value_map=per_texture"}}) {
    CHECK(make_compressor(compression_options("texture", settings))->untrainable());
  }
  CHECK(make_compressor(compression_options("int", {"bits=4"}))->untrainable());
}

TEST_CASE("learned: int with shared per-channel maps codes against them, and trains them straight through") {
  const torch::Tensor calibration = grid_features(3, 8, 21), x = grid_features(2, 8, 22);
  auto compressor = make_compressor(compression_options("int", {"bits=3", "scope=per_dataset"}));
  REQUIRE_FALSE(compressor->untrainable());
  compressor->fit(calibration);
  CHECK(compressor->shared_bytes() == 4 * 8);
  const Compressed c = compressor->compress(x);
  CHECK(c.side_bytes == 0);
  CHECK(c.bytes.size() == static_cast<size_t>((2 * 48 * 8 * 3 + 7) / 8));
  CHECK(compressor->stream_bytes({2, 48, 8}) == static_cast<int64_t>(c.bytes.size()));
  // The calibration range covers the calibration values: each comes back within half a step.
  std::vector<torch::Tensor> state = compressor->trainable_state();
  const torch::Tensor low = state[0].select(1, 0), step = state[0].select(1, 1);
  const torch::Tensor own = compressor->decompress(compressor->compress(calibration));
  CHECK(((own - calibration).abs() <= step * 0.5 + 1e-5).all().item<bool>());
  CHECK((low <= std::get<0>(calibration.reshape({-1, 8}).min(0))).all().item<bool>());
  CHECK((low + 7 * step >= std::get<0>(calibration.reshape({-1, 8}).max(0))).all().item<bool>());
  // Other features: clipped into [m, m + 7s], on the grid m + q·s.
  const torch::Tensor y = compressor->decompress(c);
  const torch::Tensor q = (y - low) / step;
  CHECK(((q - q.round()).abs() < 1e-3).all().item<bool>());
  CHECK(((q >= -1e-3).logical_and(q <= 7 + 1e-3)).all().item<bool>());
  // Training: forward equal to the eval path; moving a channel's minimum moves only its
  // clipped values (translation), so d/dm sums the loss weights of those.
  state[0] = torch::cat({low.unsqueeze(1) + 0.3 * step.unsqueeze(1), 0.6 * step.unsqueeze(1)}, 1);
  compressor->load_trainable_state(state);
  state = compressor->trainable_state();
  state[0].set_requires_grad(true);
  const torch::Tensor trained = compressor->train_reconstruction(x, state, "ste", 1.0);
  CHECK(torch::equal(trained.detach(), compressor->decompress(compressor->compress(x))));
  const torch::Tensor weights = torch::randn(x.sizes());
  (trained * weights).sum().backward();
  const torch::Tensor m = state[0].detach().select(1, 0), s = state[0].detach().select(1, 1);
  const torch::Tensor clipped = (x < m).logical_or(x > m + 7 * s);
  CHECK(clipped.any().item<bool>());
  CHECK(torch::allclose(state[0].grad().select(1, 0), (weights * clipped).sum(std::vector<int64_t>{0, 1}), 1e-4, 1e-4));
  CHECK_THROWS_AS(compressor->compress(grid_features(1, 6, 23)), InputError);
  CHECK(make_compressor(compression_options("int", {"bits=4"}))->untrainable());
}
