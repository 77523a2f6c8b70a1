// `bcfeat bench attention`: decode-regime attention over compressed keys and values against the
// fp16 attention the field runs, in one process on one GPU.
//
// For each shape (batch, heads, queries, keys, head dim) and each codec, K and V (Gaussian, the
// keys with outlier channels) are compressed with the codec (the blocks of `--distinct` (image,
// head) pairs, repeated over the others so that large shapes encode quickly; decode cost does
// not depend on which pair a block belongs to), then timed with CUDA events, median of
// `--repetitions` calls after `--warmup`:
//   sdpa_fp16         LibTorch's scaled_dot_product_attention on fp16 K/V (every fused backend
//                     this LibTorch has — flash, memory-efficient, cuDNN — timed alone; the
//                     fastest is the baseline), K/V being the codec's decoded values;
//   decode_then_sdpa  K and V decoded to fp16 tensors by the CUDA decoder, then that SDPA;
//   fused_cuda        the fused kernel decoding blocks (or int codes) in software;
//   fused_texture     the fused kernel fetching texels through the texture units (BC formats).
// Each row gives the bits per value of K and V with every side byte, the byte ratio to fp16,
// the effective bandwidth of the compressed bytes, the speed-ups over SDPA and over
// decode-then-SDPA, the speed-up as a fraction of the byte ratio, and the largest difference
// between the fused output and SDPA's on the decoded K/V (relative to max |V|). The device's
// copy bandwidth is measured in the same run.
#include <algorithm>
#include <cmath>
#include <random>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>
#include <torch/version.h>

#include "bcfeat/framework/error.h"
#include "bcfeat/framework/metrics.h"
#include "bcfeat/framework/provenance.h"
#include "bcfeat/framework/results.h"
#include "bcfeat/kernels/codec.h"
#include "bcfeat/kernels/cuda_device.h"
#include "bcfeat/kernels/kv_attention.h"
#include "cli.h"

namespace bcfeat {

namespace {

const char* const kDefaultShapes = "32x32x1x576x128;32x32x1x1024x128;32x32x1x2048x128;32x32x1x4096x128;"
                                   "1x32x1x4096x128;8x32x16x1024x128;32x8x1x576x64";
const char* const kDefaultCodecs = "bc4_unorm,bc5_unorm,bc1,bc3,bc7,bc6h_sf16,int4,int8";

struct BenchShape {
  int batch, heads, queries, tokens, dim;
};

BenchShape parse_shape(const std::string& text) {
  const auto parts = split_list(text, 'x');
  BenchShape s{};
  int* fields[] = {&s.batch, &s.heads, &s.queries, &s.tokens, &s.dim};
  if (parts.size() != 5) throw_input_error("--shapes: '{}' is not BxHxQxNxD", text);
  for (size_t i = 0; i < 5; ++i) {
    if (parts[i].empty() || parts[i].size() > 6 || parts[i].find_first_not_of("0123456789") != std::string::npos) {
      throw_input_error("--shapes: '{}' is not BxHxQxNxD (whole numbers)", text);
    }
    *fields[i] = std::stoi(parts[i]);
    if (*fields[i] < 1) throw_input_error("--shapes: '{}' has a zero dimension", text);
  }
  return s;
}

// The codec's storage of `x` for `distinct` pairs, repeated over all of the shape's pairs.
CompressedKv tiled_kv(const std::vector<float>& x, const KvShape& shape, int distinct, KvRole role, const KvCodec& codec) {
  KvShape small = shape;
  small.batch = 1;
  small.heads = distinct;
  // The CUDA encoder where the format has one in this build, else the CPU's.
  const Backend encoder =
      codec.format && encoder_unavailable(*codec.format, Backend::kCuda).empty() ? Backend::kCuda : Backend::kCpu;
  const CompressedKv one = compress_kv(x.data(), small, role, codec, encoder);
  CompressedKv all;
  all.layout = kv_layout(shape, role, codec);
  const size_t data_per_pair = one.data.size() / static_cast<size_t>(distinct);
  const size_t side_per_pair = one.side.size() / static_cast<size_t>(distinct);
  all.data.resize(data_per_pair * static_cast<size_t>(shape.pairs()));
  all.side.resize(side_per_pair * static_cast<size_t>(shape.pairs()));
  for (int64_t p = 0; p < shape.pairs(); ++p) {
    const size_t from = static_cast<size_t>(p % distinct);
    std::copy_n(one.data.begin() + from * data_per_pair, data_per_pair, all.data.begin() + p * data_per_pair);
    std::copy_n(one.side.begin() + from * side_per_pair, side_per_pair, all.side.begin() + p * side_per_pair);
  }
  return all;
}

}  // namespace

int bench_attention(Args& args) {
  const std::vector<std::string> shape_list = split_list(args.option("--shapes", kDefaultShapes), ';');
  const std::vector<std::string> codec_list = split_list(args.option("--codecs", kDefaultCodecs));
  const std::string dtype_name = args.option("--dtype", "fp16");
  const int repetitions = args.int_option("--repetitions", 50, 1, 100000);
  const int warmup = args.int_option("--warmup", 5, 0, 1000);
  const int distinct = args.int_option("--distinct", 16, 1, 65536);
  const std::string output = args.option("--output", "");
  args.finish();
  if (dtype_name != "fp16" && dtype_name != "bf16") throw_input_error("--dtype must be fp16 or bf16, got '{}'", dtype_name);
  std::vector<BenchShape> shapes;
  for (const auto& text : shape_list) shapes.push_back(parse_shape(text));
  std::vector<KvCodec> codecs;
  for (const auto& name : codec_list) codecs.push_back(parse_input("--codecs", [&] { return parse_kv_codec(name); }));
#if TORCH_VERSION_MAJOR < 2
  (void)repetitions, (void)warmup, (void)distinct, (void)tiled_kv;
  throw_input_error("bench attention needs LibTorch 2 or later (scaled_dot_product_attention); this build has {}",
                    TORCH_VERSION);
#else
  if (!cuda_codec_available() || !torch::cuda::is_available()) {
    throw_input_error("bench attention needs a CUDA device, and none is usable here");
  }
  const bool half = dtype_name == "fp16";
  const torch::ScalarType dtype = half ? torch::kFloat16 : torch::kBFloat16;
  const ElementType element = half ? ElementType::kFloat16 : ElementType::kBFloat16;
  nlohmann::ordered_json report;
  report["bench"] = "attention";
  report["time"] = iso_time_now();
  report["provenance"] = provenance_snapshot();
  report["device"] = cuda_device_name(0);
  report["dtype"] = dtype_name;
  report["repetitions"] = repetitions;
  report["warmup"] = warmup;
  report["distinct_pairs"] = distinct;
  const double copy = measure_copy_bandwidth(int64_t{1} << 28, 20) / 1e9;
  report["copy_bandwidth_GBps"] = copy;
  report["results"] = nlohmann::ordered_json::array();
  fmt::print(stderr, "{}: copy {:.0f} GB/s\n", cuda_device_name(0), copy);
  auto median_us = [&](const std::function<void()>& body) {
    return 1e3 * quantile(time_cuda_calls(body, warmup, repetitions), 0.5);
  };
  // Which of LibTorch's SDPA backends may run (cuDNN's where this LibTorch has it).
  auto use_sdpa = [](bool flash, bool efficient, bool cudnn, bool math) {
    at::Context& context = at::globalContext();
    context.setSDPUseFlash(flash);
    context.setSDPUseMemEfficient(efficient);
    context.setSDPUseMath(math);
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 3)
    context.setSDPUseCuDNN(cudnn);
#else
    (void)cudnn;
#endif
  };
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 3)
  constexpr bool kHasCudnnSdpa = true;
#else
  constexpr bool kHasCudnnSdpa = false;
#endif
  struct SdpaBackend {
    const char* name;
    bool flash, efficient, cudnn;
  };
  const SdpaBackend sdpa_backends[] = {{"flash", true, false, false}, {"efficient", false, true, false},
                                       {"cudnn", false, false, true}};
  for (const BenchShape& bs : shapes) {
    const KvShape shape{bs.batch, bs.heads, bs.tokens, bs.dim};
    const int pairs_encoded = static_cast<int>(std::min<int64_t>(distinct, shape.pairs()));
    KvShape small = shape;
    small.batch = 1;
    small.heads = pairs_encoded;
    std::mt19937 rng(17);
    std::normal_distribution<float> normal;
    std::vector<float> kx(static_cast<size_t>(small.values())), vx(kx.size());
    for (size_t i = 0; i < kx.size(); ++i) {
      kx[i] = normal(rng) * ((i % bs.dim) % 19 == 7 ? 8.0f : 1.0f);
      vx[i] = normal(rng);
    }
    const torch::Tensor q =
        torch::randn({bs.batch, bs.heads, bs.queries, bs.dim}, torch::TensorOptions().dtype(dtype).device(torch::kCUDA));
    const int64_t values = shape.values();
    const double fp16_bytes = 2.0 * 2.0 * static_cast<double>(values);  // K and V
    for (const KvCodec& codec : codecs) {
      nlohmann::ordered_json row;
      row["shape"] = {{"batch", bs.batch}, {"heads", bs.heads}, {"queries", bs.queries}, {"keys", bs.tokens}, {"dim", bs.dim}};
      row["codec"] = codec.name();
      try {
        const CompressedKv k = tiled_kv(kx, shape, pairs_encoded, KvRole::kKeys, codec);
        const CompressedKv v = tiled_kv(vx, shape, pairs_encoded, KvRole::kValues, codec);
        const bool block = codec.format != nullptr;
        const DeviceKv dk(k, block), dv(v, block);
        const double bytes = static_cast<double>(k.layout.bytes() + v.layout.bytes());
        row["bits_per_value"] = 8.0 * bytes / (2.0 * static_cast<double>(values));
        row["side_bytes"] = k.layout.side_bytes + v.layout.side_bytes;
        row["compressed_bytes"] = k.layout.bytes() + v.layout.bytes();
        row["fp16_bytes"] = fp16_bytes;
        const double byte_ratio = fp16_bytes / bytes;
        row["byte_ratio"] = byte_ratio;
        const auto options = torch::TensorOptions().dtype(dtype).device(torch::kCUDA);
        torch::Tensor kd = torch::empty({bs.batch, bs.heads, bs.tokens, bs.dim}, options);
        torch::Tensor vd = torch::empty_like(kd);
        auto decode = [&] {
          decode_kv_device(dk, element, kd.data_ptr(), nullptr);
          decode_kv_device(dv, element, vd.data_ptr(), nullptr);
        };
        decode();
        // fp16 SDPA on the decoded K/V, each fused backend alone; the fastest is the baseline.
        double sdpa_us = INFINITY;
        std::string sdpa_name;
        torch::Tensor reference;
        nlohmann::ordered_json per_backend;
        for (const SdpaBackend& backend : sdpa_backends) {
          if (backend.cudnn && !kHasCudnnSdpa) continue;
          use_sdpa(backend.flash, backend.efficient, backend.cudnn, false);
          try {
            torch::Tensor out = at::scaled_dot_product_attention(q, kd, vd);
            const double us = median_us([&] { (void)at::scaled_dot_product_attention(q, kd, vd); });
            per_backend[backend.name] = us;
            if (us < sdpa_us) sdpa_us = us, sdpa_name = backend.name, reference = out;
          } catch (const std::exception&) {
            per_backend[backend.name] = nullptr;  // not applicable to this shape or build
          }
        }
        use_sdpa(true, true, true, true);
        if (!reference.defined()) throw std::runtime_error("no fused SDPA backend runs this shape");
        row["sdpa_backend"] = sdpa_name;
        row["sdpa_backends_us"] = per_backend;
        row["sdpa_fp16_us"] = sdpa_us;
        use_sdpa(sdpa_name == "flash", sdpa_name == "efficient", sdpa_name == "cudnn", true);
        const double unfused_us = median_us([&] {
          decode();
          (void)at::scaled_dot_product_attention(q, kd, vd);
        });
        row["decode_then_sdpa_us"] = unfused_us;
        const float largest_v = vd.abs().max().item<float>();
        torch::Tensor out = torch::empty_like(q);
        KvAttentionParams p;
        p.batch = bs.batch;
        p.heads = bs.heads;
        p.queries = bs.queries;
        p.dim = bs.dim;
        p.tokens = bs.tokens;
        p.type = element;
        p.q = q.data_ptr();
        p.out = out.data_ptr();
        p.keys = &dk;
        p.values = &dv;
        double best_us = INFINITY;
        for (Backend backend : {Backend::kCuda, Backend::kTexture}) {
          if (backend == Backend::kTexture && !block) continue;
          const std::string name = backend == Backend::kCuda ? "fused_cuda" : "fused_texture";
          kv_attention(p, backend, nullptr);
          row[name + "_max_error"] = ((out.to(torch::kFloat) - reference.to(torch::kFloat)).abs().max().item<float>()) / largest_v;
          const double us = median_us([&] { kv_attention(p, backend, nullptr); });
          row[name + "_us"] = us;
          row[name + "_GBps"] = bytes / (us * 1e-6) / 1e9;
          row[name + "_speedup_vs_sdpa"] = sdpa_us / us;
          row[name + "_speedup_vs_decode_then_sdpa"] = unfused_us / us;
          best_us = std::min(best_us, us);
        }
        use_sdpa(true, true, true, true);
        row["sdpa_fp16_GBps"] = fp16_bytes / (sdpa_us * 1e-6) / 1e9;
        row["speedup_vs_sdpa"] = sdpa_us / best_us;
        row["speedup_over_byte_ratio"] = sdpa_us / best_us / byte_ratio;
        fmt::print(stderr, "[{}x{}x{}x{}x{}] {:<10} {:5.2f} b/v  sdpa({}) {:8.1f} us  unfused {:8.1f}  cuda {:8.1f}  tex {:>8}  x{:.2f} ({:.0f}% of byte ratio {:.2f})\n",
                   bs.batch, bs.heads, bs.queries, bs.tokens, bs.dim, codec.name(), row["bits_per_value"].get<double>(),
                   sdpa_name, sdpa_us, unfused_us, row["fused_cuda_us"].get<double>(),
                   row.contains("fused_texture_us") ? fmt::format("{:.1f}", row["fused_texture_us"].get<double>()) : "-",
                   sdpa_us / best_us, 100.0 * sdpa_us / best_us / byte_ratio, byte_ratio);
      } catch (const std::exception& e) {
        row["error"] = e.what();
        fmt::print(stderr, "[{}x{}x{}x{}x{}] {}: {}\n", bs.batch, bs.heads, bs.queries, bs.tokens, bs.dim, codec.name(), e.what());
      }
      report["results"].push_back(row);
    }
  }
  write_report(report, output);
  return 0;
#endif
}

}  // namespace bcfeat
