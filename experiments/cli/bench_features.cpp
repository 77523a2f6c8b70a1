// `bcfeat bench features`: what it costs to decode a batch's compressed features straight into
// the model's [B, N, D] tensor on the GPU, at a chosen scale (default: batch 32 of 24x24 = 576
// tokens x 1024 channels, LLaVA-1.5's visual tokens), for each compressor asked for.
//
// Each compressor compresses synthetic features of that shape on the GPU (the stream stays
// there) and decompresses them into the output dtype, `--repetitions` times after warm-up, each
// timed with CUDA events: median and p90 milliseconds per batch, and the bandwidth counting the
// compressed bytes read and the output written, beside the device-to-device copy bandwidth
// measured in the same run. The decoded tensor is checked against the CPU's decode of the same
// stream (float32, then rounded to the output dtype): equal, bit for bit.
#include <algorithm>
#include <cmath>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bcfeat/datasets/features.h"
#include "bcfeat/framework/compressor.h"
#include "bcfeat/framework/config.h"
#include "bcfeat/framework/error.h"
#include "bcfeat/framework/metrics.h"
#include "bcfeat/framework/provenance.h"
#include "bcfeat/framework/results.h"
#include "bcfeat/kernels/codec.h"
#include "bcfeat/kernels/cuda_device.h"
#include "cli.h"

namespace bcfeat {

namespace {

// The default rows: the field's baselines and every BC format on both GPU decoders, ASTC on
// CUDA. Each entry is `method` or `method:key=value,key=value`.
const char* const kDefaultCompressors[] = {
    "fp16:device=cuda",
    "bf16:device=cuda",
    "int:bits=8,group_size=128,device=cuda",
    "int:bits=4,group_size=32,device=cuda",
    "texture:format=bc1,quality=fast,device=cuda",
    "texture:format=bc1,quality=fast,device=texture",
    "texture:format=bc3,quality=fast,device=cuda",
    "texture:format=bc3,quality=fast,device=texture",
    "texture:format=bc4_snorm,quality=fast,device=cuda",
    "texture:format=bc4_snorm,quality=fast,device=texture",
    "texture:format=bc6h_sf16,quality=fast,device=cuda",
    "texture:format=bc6h_sf16,quality=fast,device=texture",
    "texture:format=bc7,quality=fast,device=cuda",
    "texture:format=bc7,quality=fast,device=texture",
    "texture:format=astc_4x4,quality=fast,device=cuda",
};

CompressionOptions parse_compressor(const std::string& spec, ParamSet& params, CompressionOptions& options) {
  ConfigTree tree;
  const auto colon = spec.find(':');
  apply_override(tree, "compression.method=" + spec.substr(0, colon));
  if (colon != std::string::npos) {
    for (const auto& setting : split_list(spec.substr(colon + 1))) apply_override(tree, "compression." + setting);
  }
  params.apply(tree);
  return options;
}

}  // namespace

int bench_features(Args& args) {
  std::string list = args.option("--compressors", "");
  const int batch = args.int_option("--batch", 32, 1, 4096);
  const int grid = args.int_option("--grid", 24, 1, 1024);
  const int dim = args.int_option("--dim", 1024, 1, 65536);
  const std::string dtype_name = args.option("--dtype", "fp16");
  const int repetitions = args.int_option("--repetitions", 50, 1, 100000);
  const std::string output = args.option("--output", "");
  args.finish();
  if (dtype_name != "fp16" && dtype_name != "bf16" && dtype_name != "fp32") {
    throw_input_error("--dtype must be fp16, bf16 or fp32, got '{}'", dtype_name);
  }
  if (!cuda_codec_available()) throw_input_error("bench features needs a CUDA device, and none is usable here");
  const torch::ScalarType dtype =
      dtype_name == "fp16" ? torch::kFloat16 : dtype_name == "bf16" ? torch::kBFloat16 : torch::kFloat32;
  std::vector<std::string> specs;
  if (list.empty()) {
    for (const char* spec : kDefaultCompressors) specs.push_back(spec);
  } else {
    for (const auto& spec : split_list(list, ';')) specs.push_back(spec);
  }
  FeatureOptions source;
  source.batch = batch;
  source.tokens_hw = {grid, grid};
  source.dim = dim;
  const torch::Tensor host = synthetic_features(source, 1);
  const torch::Tensor features = host.to(torch::kCUDA);
  const int64_t values = features.numel();
  const double out_bytes = static_cast<double>(values) * torch::elementSize(dtype);

  nlohmann::ordered_json report;
  report["bench"] = "features";
  report["time"] = iso_time_now();
  report["provenance"] = provenance_snapshot();
  report["device"] = cuda_device_name(0);
  report["shape"] = {batch, grid * grid, dim};
  report["output_dtype"] = dtype_name;
  report["repetitions"] = repetitions;
  const double copy = measure_copy_bandwidth(int64_t{1} << 28, 20) / 1e9;
  report["copy_bandwidth_GBps"] = copy;
  report["results"] = nlohmann::ordered_json::array();
  fmt::print(stderr, "{}: [{}, {}, {}] -> {} ({:.1f} MB), copy {:.0f} GB/s\n", cuda_device_name(0), batch, grid * grid,
             dim, dtype_name, out_bytes / 1e6, copy);

  for (const auto& spec : specs) {
    CompressionOptions options;
    ParamSet params;
    options.declare(params);
    parse_compressor(spec, params, options);
    const auto compressor = make_compressor(options);
    const Compressed stream = compressor->compress(features);
    const double stream_bytes = static_cast<double>(stream.size());
    // The CPU's decode of the same stream, rounded to the output type, must be the GPU's.
    const auto reference_options = [&] {
      CompressionOptions cpu = options;
      cpu.device = "cpu";
      return cpu;
    }();
    const bool equal = torch::equal(compressor->decompress(stream, dtype).cpu(),
                                    make_compressor(reference_options)->decompress(stream.to_host(), dtype));
    const std::vector<double> ms =
        time_cuda_calls([&] { (void)compressor->decompress(stream, dtype); }, 3, repetitions);
    const double median = quantile(ms, 0.5), p90 = quantile(ms, 0.9);
    const double gbps = (stream_bytes + out_bytes) / (median * 1e-3) / 1e9;
    nlohmann::ordered_json row;
    row["compressor"] = spec;
    row["bits_per_value"] = 8.0 * stream_bytes / static_cast<double>(values);
    row["stream_bytes"] = stream.size();
    row["fp16_bytes"] = 2 * values;
    row["decode_ms_median"] = median;
    row["decode_ms_p90"] = p90;
    row["decode_GBps"] = gbps;
    row["decode_fraction_of_copy"] = gbps / copy;
    row["equals_cpu_decode"] = equal;
    fmt::print(stderr, "{:<52} {:6.3f} bits/value  decode {:8.3f} ms (p90 {:8.3f})  {:6.0f} GB/s = {:3.0f}% of copy  {}\n",
               spec, row["bits_per_value"].get<double>(), median, p90, gbps, 100 * gbps / copy,
               equal ? "equal" : "DIFFERS");
    report["results"].push_back(row);
  }
  write_report(report, output);
  return 0;
}

}  // namespace bcfeat
