// Codebook compressor: features as indices into learned fp16 codebooks.
//
//   scalar  one codebook of K levels for every value (Lloyd-Max: k-means in one dimension)
//   vector  one codebook of K sub-vectors of `subvector` consecutive channels, shared by every
//           position along D (k-means)
//   pq      product quantization: D split into S = ceil(D / subvector) subspaces, one
//           codebook of K entries per subspace
//
// D is padded with zeros to S·subvector for the sub-vector kinds (padding is neither stored
// nor decoded). Codebooks are trained with MSE (k-means++ seeding, `kmeans_iterations` Lloyd
// steps, at most 65 536 training rows taken at an even stride), then rounded to fp16; the
// encoder assigns each sub-vector to the nearest stored entry, so the decoder's lookup is
// exact (assignment: kernels/codebook.h, on the CPU or, with device = cuda, on the GPU
// with identical indices; training runs on the CPU). Entries are sorted (scalar: ascending; vectors: along their principal axis) so
// that neighbouring indices hold similar entries — what makes the index maps compressible.
//
// Stream: the fp16 codebooks (unless fitted on calibration data: then they are shared,
// stored once per dataset and reported by shared_bytes()), then the indices — packed at
// ceil(log2 K) bits each, LSB first, token-major ([B, N, S]); or, with index_format set, the
// index maps as textures of that format: the indices of each subspace form a [B, N] map that
// the texture compressor (spatial layout, tokens_hw, quality, per-channel value map) stores
// as one channel; decoded values are rounded to the nearest index.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

#include <Eigen/Dense>

#include "bcfeat/framework/compressor.h"
#include "bcfeat/framework/error.h"
#include "bcfeat/kernels/codebook.h"
#include "bcfeat/kernels/format.h"
#include "bcfeat/kernels/float_formats.h"

namespace bcfeat {

namespace {

int index_bits(int entries) {
  int bits = 1;
  while ((1 << bits) < entries) ++bits;
  return bits;
}

struct CodebookOptions {
  std::string codebook = "vector";
  int codebook_size = 256;
  int subvector = 4;
  int kmeans_iterations = 20;
  std::string index_format = "none";
  std::string quality = "normal";  // of the index textures
  std::vector<int> tokens_hw;      // of the index textures

  template <class Keys>
  void keys(Keys& k) {
    k.add("codebook", codebook,
          "scalar (Lloyd-Max levels), vector (k-means over sub-vectors), pq (product quantization)")
        .one_of({"scalar", "vector", "pq"});
    k.add("codebook_size", codebook_size, "entries K per codebook").range(2, 65536);
    k.add("subvector", subvector, "vector, pq: channels per sub-vector").range(1, 64);
    k.add("kmeans_iterations", kmeans_iterations, "Lloyd iterations").range(0, 1000);
    k.add("index_format", index_format,
          "block format for the index maps (none = indices packed at ceil(log2 K) bits)")
        .one_of([] {
          std::vector<std::string> names{"none"};
          for (const auto& name : format_names()) names.push_back(name);
          return names;
        }());
    k.add("quality", quality,
          "encoder level; formats encoded by libastcenc also take its presets (normal = medium, high = thorough)")
        .one_of(quality_names());
    k.add("tokens_hw", tokens_hw, "token grid [h, w] of the packed tokens, h*w = N minus kept tokens ([] = square)")
        .range(1, 1 << 16);
  }
};

class CodebookCompressor : public Compressor {
 public:
  explicit CodebookCompressor(const CompressionOptions& values)
      : options_(read_options<CodebookOptions>(values)), device_(values.device) {
    if (device_ == "texture") {
      throw_input_error("compression.device texture decodes block formats in the texture units (method texture); "
                        "use cuda for the codebook compressor");
    }
    if (options_.codebook != "scalar" && options_.codebook != "vector" && options_.codebook != "pq") {
      throw_input_error("compression.codebook must be scalar, vector or pq, not '{}'", options_.codebook);
    }
    if (options_.codebook_size < 2 || options_.codebook_size > 65536) {
      throw_input_error("compression.codebook_size = {} must be in 2..65536", options_.codebook_size);
    }
    width_ = options_.codebook == "scalar" ? 1 : options_.subvector;
    if (width_ < 1 || width_ > 64) throw_input_error("compression.subvector = {} must be in 1..64", options_.subvector);
    if (options_.kmeans_iterations < 0) throw_input_error("compression.kmeans_iterations must be >= 0");
    if (options_.index_format != "none") {
      CompressionOptions inner;
      inner.method = "texture";
      inner.device = values.device;
      inner.set("format", options_.index_format)
          .set("quality", options_.quality)
          .set("tokens_hw", options_.tokens_hw)
          .set("value_map", "per_channel");
      index_texture_ = make_compressor(inner);
    }
  }

  // k-means runs on one thread; the assignment and index textures on the device asked for.
  std::string timing_device() const override { return timing_device_name(device_, "1 thread"); }

  void fit(const torch::Tensor& calibration) override {
    books_ = train(calibration);
    fitted_dim_ = calibration.size(2);
    fitted_ = true;
  }

  int64_t shared_bytes() const override { return fitted_ ? 2 * static_cast<int64_t>(books_.size()) : 0; }
  std::vector<uint8_t> shared_state() const override {
    std::vector<uint8_t> bytes;
    for (uint16_t bits : fitted_ ? books_ : std::vector<uint16_t>{}) {
      bytes.push_back(static_cast<uint8_t>(bits & 0xff));
      bytes.push_back(static_cast<uint8_t>(bits >> 8));
    }
    return bytes;
  }
  void load_shared_state(const std::vector<uint8_t>& bytes, int64_t dim) override {
    if (bytes.empty()) return;
    const int64_t expected = 2 * books_per_tensor(dim) * options_.codebook_size * width_;
    if (static_cast<int64_t>(bytes.size()) != expected) {
      throw_input_error("{} bytes of shared codebooks where D = {} needs {}", bytes.size(), dim, expected);
    }
    books_.resize(bytes.size() / 2);
    for (size_t i = 0; i < books_.size(); ++i) books_[i] = static_cast<uint16_t>(bytes[2 * i] | (bytes[2 * i + 1] << 8));
    fitted_dim_ = dim;
    fitted_ = true;
  }

  Compressed compress_host(const torch::Tensor& features) const override {
    const std::vector<uint16_t> books = fitted_ ? books_ : train(features);
    if (fitted_) check_dim(features.size(2));
    Compressed out;
    out.shape = features.sizes().vec();
    if (!fitted_) {
      for (uint16_t bits : books) {
        out.bytes.push_back(static_cast<uint8_t>(bits & 0xff));
        out.bytes.push_back(static_cast<uint8_t>(bits >> 8));
      }
    }
    const torch::Tensor indices = assign(features, books);  // [B·N, S] int64
    const int64_t count = indices.numel();
    const int64_t* index = indices.data_ptr<int64_t>();
    if (index_texture_) {
      const torch::Tensor maps =
          indices.to(torch::kFloat32).reshape({features.size(0), features.size(1), indices.size(1)}).contiguous();
      const Compressed packed = index_texture_->compress(maps);
      out.side_bytes = static_cast<int64_t>(out.bytes.size()) + packed.side_bytes;
      out.bytes.insert(out.bytes.end(), packed.bytes.begin(), packed.bytes.end());
      return out;
    }
    out.side_bytes = static_cast<int64_t>(out.bytes.size());
    const int bits = index_bits(options_.codebook_size);
    const size_t start = out.bytes.size();
    out.bytes.resize(start + static_cast<size_t>((count * bits + 7) / 8), 0);
    for (int64_t i = 0; i < count; ++i) {
      for (int k = 0; k < bits; ++k) {
        const int64_t bit = i * bits + k;
        if ((index[i] >> k) & 1) out.bytes[start + static_cast<size_t>(bit / 8)] |= static_cast<uint8_t>(1u << (bit % 8));
      }
    }
    return out;
  }

  torch::Tensor decompress_host(const Compressed& data) const override {
    const Decoded decoded = decode(data);
    return lookup(decoded.books, decoded.index, data.shape);
  }

  std::optional<std::string> untrainable() const override { return std::nullopt; }

  // Trainable: the codebooks, [books, K, width] (books = S for pq, else 1).
  std::vector<torch::Tensor> trainable_state() const override {
    if (!fitted_) return {};
    torch::Tensor books = torch::empty({static_cast<int64_t>(books_.size())}, torch::kFloat32);
    float* b = books.data_ptr<float>();
    for (size_t i = 0; i < books_.size(); ++i) b[i] = half_bits_to_float(books_[i]);
    return {books.reshape({books_per_tensor(fitted_dim_), options_.codebook_size, width_})};
  }

  void load_trainable_state(const std::vector<torch::Tensor>& state) override {
    if (!fitted_) throw std::logic_error("codebook: load_trainable_state before fit");
    const std::vector<int64_t> shape{books_per_tensor(fitted_dim_), options_.codebook_size, width_};
    if (state.size() != 1 || state[0].sizes().vec() != shape) {
      throw std::logic_error("codebook: trainable state of another shape");
    }
    const torch::Tensor values = state[0].detach().to(torch::kCPU, torch::kFloat32).contiguous();
    const float* v = values.data_ptr<float>();
    for (size_t i = 0; i < books_.size(); ++i) {
      if (!std::isfinite(v[i]) || std::fabs(v[i]) > 65504.0f) {
        throw_input_error("trained codebook entry {} is outside the fp16 range", v[i]);
      }
      books_[i] = float_to_half_bits(v[i]);
    }
  }

  torch::Tensor train_reconstruction(const torch::Tensor& features, const std::vector<torch::Tensor>& state,
                                     const std::string& gradient, double temperature) const override {
    const Decoded decoded = decode(compress(features));
    const torch::Tensor hard = lookup(decoded.books, decoded.index, features.sizes().vec()).to(state.at(0).scalar_type());
    const torch::Tensor surrogate = gradient == "soft" ? soft(features, state.at(0), temperature, decoded.continuous)
                                                       : gather(state.at(0), decoded.index, features.sizes().vec());
    return hard + (surrogate - surrogate.detach());
  }

  torch::Tensor soft_reconstruction(const torch::Tensor& features, const std::vector<torch::Tensor>& state,
                                    double temperature) const override {
    torch::Tensor continuous;
    if (index_texture_) continuous = decode(compress(features)).continuous;
    return soft(features, state.at(0), temperature, continuous);
  }

 private:
  // A stream's codebooks (fp16 bits), its indices [B·N, S] and, with index_format, the index
  // maps' decoded values before rounding ([B·N, S] float32).
  struct Decoded {
    std::vector<uint16_t> books;
    torch::Tensor index, continuous;
  };

  Decoded decode(const Compressed& data) const {
    const int64_t batch = data.shape[0], tokens = data.shape[1], dim = data.shape[2];
    const int64_t spaces = subspaces(dim), entries = options_.codebook_size;
    const int64_t book_values = books_per_tensor(dim) * entries * width_;
    if (fitted_) check_dim(dim);
    const int64_t book_bytes = fitted_ ? 0 : 2 * book_values;
    const int64_t index_count = batch * tokens * spaces;
    if (index_texture_) {
      if (data.size() < book_bytes) {
        throw_input_error("the compressed stream holds {} bytes, fewer than its {} codebook bytes", data.size(), book_bytes);
      }
    } else {
      check_stream_size(data, book_bytes + (index_count * index_bits(static_cast<int>(entries)) + 7) / 8);
    }
    Decoded out;
    out.books = books_;
    size_t position = 0;
    if (!fitted_) {
      out.books.resize(static_cast<size_t>(book_values));
      for (auto& bits : out.books) {
        bits = static_cast<uint16_t>(data.bytes[position] | (data.bytes[position + 1] << 8));
        position += 2;
      }
    }
    out.index = torch::empty({batch * tokens, spaces}, torch::kLong);
    int64_t* index = out.index.data_ptr<int64_t>();
    if (index_texture_) {
      Compressed packed;
      packed.shape = {batch, tokens, spaces};
      packed.side_bytes = data.side_bytes - static_cast<int64_t>(position);
      packed.bytes.assign(data.bytes.begin() + static_cast<std::ptrdiff_t>(position), data.bytes.end());
      out.continuous = index_texture_->decompress(packed).contiguous().reshape({batch * tokens, spaces});
      const float* m = out.continuous.data_ptr<float>();
      for (int64_t i = 0; i < index_count; ++i) {
        index[i] = std::min<int64_t>(entries - 1, std::max<int64_t>(0, std::llround(m[i])));
      }
    } else {
      const int bits = index_bits(static_cast<int>(entries));
      for (int64_t i = 0; i < index_count; ++i) {
        int64_t value = 0;
        for (int k = 0; k < bits; ++k) {
          const int64_t bit = i * bits + k;
          value |= static_cast<int64_t>((data.bytes[position + static_cast<size_t>(bit / 8)] >> (bit % 8)) & 1) << k;
        }
        index[i] = std::min<int64_t>(value, entries - 1);
      }
    }
    return out;
  }

  // The entries `index` [B·N, S] selects from `books` (fp16 bits), as [B, N, D] float32.
  torch::Tensor lookup(const std::vector<uint16_t>& books, const torch::Tensor& index, const std::vector<int64_t>& shape) const {
    const int64_t rows = shape[0] * shape[1], dim = shape[2], spaces = subspaces(dim), entries = options_.codebook_size;
    const int64_t* idx = index.data_ptr<int64_t>();
    torch::Tensor out = torch::empty({shape[0], shape[1], dim}, torch::kFloat32);
    float* y = out.data_ptr<float>();
    for (int64_t row = 0; row < rows; ++row) {
      for (int64_t s = 0; s < spaces; ++s) {
        const int64_t book = options_.codebook == "pq" ? s : 0;
        const uint16_t* entry = &books[static_cast<size_t>((book * entries + idx[row * spaces + s]) * width_)];
        for (int64_t j = 0; j < width_; ++j) {
          const int64_t d = s * width_ + j;
          if (d < dim) y[row * dim + d] = half_bits_to_float(entry[j]);
        }
      }
    }
    return out;
  }

  // The same lookup from differentiable codebooks [books, K, width].
  torch::Tensor gather(const torch::Tensor& books, const torch::Tensor& index, const std::vector<int64_t>& shape) const {
    const int64_t dim = shape[2], spaces = subspaces(dim), entries = options_.codebook_size;
    torch::Tensor flat_index = index.to(books.device());
    if (options_.codebook == "pq") flat_index = flat_index + torch::arange(spaces, flat_index.options()).mul(entries);
    const torch::Tensor rows = books.reshape({-1, width_}).index_select(0, flat_index.reshape(-1));
    return rows.reshape({shape[0] * shape[1], spaces * width_}).slice(1, 0, dim).reshape({shape[0], shape[1], dim});
  }

  // Soft assignment: each sub-vector (or, with index_format, each decoded index value) as the
  // softmax-weighted mean of the entries. Without index_format the weights are
  // softmax(-|x - c_k|^2 / (t · m)), m the mean squared distance of the sub-vectors to their
  // nearest entry (so t is unitless); with it, softmax(-(î - k)^2 / t) over entry numbers k
  // for the decoded index value î (the block format's error spreads an index to its neighbours).
  torch::Tensor soft(const torch::Tensor& features, const torch::Tensor& books, double temperature,
                     const torch::Tensor& continuous) const {
    const int64_t batch = features.size(0), tokens = features.size(1), dim = features.size(2);
    const int64_t spaces = subspaces(dim), entries = options_.codebook_size;
    const torch::Tensor book = options_.codebook == "pq" ? books : books.expand({spaces, entries, width_});  // [S, K, w]
    const double t = std::max(temperature, 1e-12);
    torch::Tensor weights;  // [R, S, K]
    if (index_texture_) {
      const torch::Tensor k = torch::arange(entries, books.options());
      const torch::Tensor distance = (continuous.to(books.options()).unsqueeze(2) - k).pow(2);
      weights = torch::softmax(-distance / t, 2);
    } else {
      const torch::Tensor x = subvectors(features.to(books.options()));  // [R, S, w]
      const torch::Tensor distance =
          (x.pow(2).sum(2, true) - 2.0 * torch::einsum("rsw,skw->rsk", {x, book}) + book.pow(2).sum(2).unsqueeze(0))
              .clamp_min(0.0);
      const torch::Tensor scale = std::get<0>(distance.min(2)).mean().clamp_min(1e-12);
      weights = torch::softmax(-distance / (scale * t), 2);
    }
    const torch::Tensor mixed = torch::einsum("rsk,skw->rsw", {weights, book});
    return mixed.reshape({batch * tokens, spaces * width_}).slice(1, 0, dim).reshape({batch, tokens, dim});
  }

  int64_t subspaces(int64_t dim) const { return (dim + width_ - 1) / width_; }
  int64_t books_per_tensor(int64_t dim) const { return options_.codebook == "pq" ? subspaces(dim) : 1; }

  void check_dim(int64_t dim) const {
    if (dim != fitted_dim_) throw_input_error("features have D = {} but the codebook was fitted on D = {}", dim, fitted_dim_);
  }

  // Rows [B·N, S, width] of sub-vectors, zero-padded along D.
  torch::Tensor subvectors(const torch::Tensor& features) const {
    const int64_t dim = features.size(2), spaces = subspaces(dim);
    torch::Tensor flat = features.reshape({-1, dim});
    if (spaces * width_ != dim) flat = torch::constant_pad_nd(flat, {0, spaces * width_ - dim}, 0.0);
    return flat.reshape({-1, spaces, width_});
  }

  // Trains the codebooks; returns them as fp16 bits, [books, K, width].
  std::vector<uint16_t> train(const torch::Tensor& features) const {
    const int64_t dim = features.size(2);
    const torch::Tensor rows = subvectors(features);
    const int64_t books = books_per_tensor(dim);
    std::vector<uint16_t> out;
    for (int64_t book = 0; book < books; ++book) {
      const torch::Tensor data = (options_.codebook == "pq" ? rows.select(1, book) : rows.reshape({-1, width_}))
                                     .to(torch::kFloat64)
                                     .contiguous();
      const std::vector<uint16_t> entries = kmeans(data, static_cast<uint64_t>(book));
      out.insert(out.end(), entries.begin(), entries.end());
    }
    return out;
  }

  // k-means (k-means++ seeding) of the rows of `data` [n, width], float64; fp16 result,
  // sorted along the entries' principal axis.
  std::vector<uint16_t> kmeans(torch::Tensor data, uint64_t seed) const {
    const int64_t limit = 65536;
    if (data.size(0) > limit) {
      const int64_t stride = (data.size(0) + limit - 1) / limit;
      data = data.slice(0, 0, data.size(0), stride).contiguous();
    }
    const int64_t n = data.size(0), k = options_.codebook_size;
    std::mt19937_64 random(0x9e3779b97f4a7c15ull ^ seed);
    torch::Tensor centres = torch::empty({k, width_}, torch::kFloat64);
    // k-means++: each next centre drawn with probability ∝ squared distance to the nearest.
    centres[0] = data[static_cast<int64_t>(random() % static_cast<uint64_t>(n))];
    torch::Tensor nearest = (data - centres[0]).pow(2).sum(1);
    for (int64_t c = 1; c < k; ++c) {
      const double total = nearest.sum().item<double>();
      int64_t chosen = static_cast<int64_t>(random() % static_cast<uint64_t>(n));
      if (total > 0.0) {
        const double target = std::uniform_real_distribution<double>(0.0, total)(random);
        const torch::Tensor cumulative = nearest.cumsum(0);
        chosen = std::min<int64_t>(n - 1, torch::searchsorted(cumulative, torch::tensor({target}, torch::kFloat64)).item<int64_t>());
      }
      centres[c] = data[chosen];
      nearest = torch::minimum(nearest, (data - centres[c]).pow(2).sum(1));
    }
    for (int iteration = 0; iteration < options_.kmeans_iterations; ++iteration) {
      const torch::Tensor labels = nearest_entries(data, centres);
      torch::Tensor sums = torch::zeros({k, width_}, torch::kFloat64);
      sums.index_add_(0, labels, data);
      const torch::Tensor counts = torch::bincount(labels, {}, k).to(torch::kFloat64);
      const torch::Tensor filled = counts > 0;
      const torch::Tensor means = sums / counts.clamp_min(1.0).unsqueeze(1);
      const torch::Tensor updated = torch::where(filled.unsqueeze(1), means, centres);
      if (torch::equal(updated, centres)) break;
      centres = updated;
    }
    // Order: ascending along the principal axis of the entries (their first channel if flat).
    Eigen::VectorXd axis = Eigen::VectorXd::Zero(width_);
    axis(0) = 1.0;
    if (width_ > 1) {
      const torch::Tensor centred = (centres - centres.mean(0)).contiguous();
      const torch::Tensor moment = centred.t().matmul(centred).contiguous();
      const Eigen::Map<const Eigen::MatrixXd> m(moment.data_ptr<double>(), width_, width_);
      const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> solver(m);
      axis = solver.eigenvectors().col(width_ - 1);
    }
    const torch::Tensor c = centres.contiguous();
    const double* v = c.data_ptr<double>();
    std::vector<std::pair<double, int64_t>> order(static_cast<size_t>(k));
    for (int64_t e = 0; e < k; ++e) {
      double projection = 0.0;
      for (int64_t j = 0; j < width_; ++j) projection += v[e * width_ + j] * axis(j);
      order[static_cast<size_t>(e)] = {projection, e};
    }
    std::stable_sort(order.begin(), order.end());
    std::vector<uint16_t> out;
    for (const auto& [projection, e] : order) {
      for (int64_t j = 0; j < width_; ++j) {
        const double value = v[e * width_ + j];
        if (std::fabs(value) > 65504.0) throw_input_error("codebook entry {} exceeds the fp16 range", value);
        out.push_back(float_to_half_bits(static_cast<float>(value)));
      }
    }
    return out;
  }

  // Index of the nearest centre (rounded to float) for each row of `data` [n, width]: the
  // exact, order-fixed search of kernels/codebook.h, so training does not depend on the
  // BLAS or the CPU it runs on.
  static torch::Tensor nearest_entries(const torch::Tensor& data, const torch::Tensor& centres) {
    CodebookShape shape;
    shape.rows = data.size(0);
    shape.dim = data.size(1);
    shape.width = static_cast<int>(data.size(1));
    shape.entries = static_cast<int>(centres.size(0));
    const torch::Tensor rows = data.to(torch::kFloat32).contiguous();
    const torch::Tensor book = centres.to(torch::kFloat32).contiguous();
    const std::vector<int32_t> index = codebook_assign_cpu(rows.data_ptr<float>(), shape, book.data_ptr<float>());
    return torch::tensor(index, torch::kInt32).to(torch::kLong);
  }

  // Nearest stored (fp16) entry for every sub-vector: [B·N, S] (kernels/codebook.h, on the
  // CPU or CUDA with identical indices).
  torch::Tensor assign(const torch::Tensor& features, const std::vector<uint16_t>& books) const {
    CodebookShape shape;
    shape.rows = features.size(0) * features.size(1);
    shape.dim = features.size(2);
    shape.width = static_cast<int>(width_);
    shape.entries = options_.codebook_size;
    shape.per_subspace = options_.codebook == "pq";
    std::vector<float> entries(books.size());
    for (size_t i = 0; i < books.size(); ++i) entries[i] = half_bits_to_float(books[i]);
    const torch::Tensor x = features.contiguous();
    require_device(device_);
    const std::vector<int32_t> index = device_ == "cuda"
                                           ? codebook_assign_cuda(x.data_ptr<float>(), shape, entries.data())
                                           : codebook_assign_cpu(x.data_ptr<float>(), shape, entries.data());
    return torch::tensor(index, torch::kInt32).to(torch::kLong).reshape({shape.rows, shape.subspaces()}).contiguous();
  }

  CodebookOptions options_;
  std::string device_;
  int64_t width_ = 1;
  std::unique_ptr<Compressor> index_texture_;
  std::vector<uint16_t> books_;
  bool fitted_ = false;
  int64_t fitted_dim_ = 0;
};

}  // namespace

CompressorEntry codebook_compressor_entry() {
  std::vector<std::vector<std::string>> variants;
  for (const char* kind : {"scalar", "vector", "pq"}) {
    for (const char* index_format : {"none", "bc4_unorm"}) {
      variants.push_back({"tokens_hw=[5, 7]", "codebook_size=16", std::string("codebook=") + kind,
                          std::string("index_format=") + index_format});
    }
  }
  // Codebook entries are means of training values (then fp16), so inside [-amax, amax].
  const ErrorBound bound{[](const CompressionOptions&) { return BoundScope::kTensor; },
                         [](const CompressionOptions&, double, double, double amax) { return 2.0 * amax * 1.01 + 1e-6; }};
  return {"codebook",
          "learned fp16 codebooks: scalar Lloyd-Max, vector k-means or product quantization; indices packed or as "
          "textures",
          keys_of<CodebookOptions>(),
          [](const CompressionOptions& options) { return std::make_unique<CodebookCompressor>(options); }, bound,
          variants};
}

}  // namespace bcfeat
