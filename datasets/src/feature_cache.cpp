#include "bcfeat/datasets/feature_cache.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "bcfeat/framework/error.h"
#include "bcfeat/framework/results.h"

namespace bcfeat {

namespace fs = std::filesystem;

namespace {

constexpr char kMagic[8] = {'B', 'C', 'F', 'C', 'A', 'C', 'H', 'E'};
constexpr uint32_t kVersion = 1;
constexpr uint32_t kComplete = 1;
constexpr uint64_t kHeaderBytes = 64;
constexpr uint64_t kRecordHead = 24;  // image, side bytes, stream bytes

const std::array<uint32_t, 256>& crc_table() {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t n = 0; n < 256; ++n) {
      uint32_t c = n;
      for (int k = 0; k < 8; ++k) c = (c & 1u) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[n] = c;
    }
    return t;
  }();
  return table;
}

void put64(uint8_t* at, uint64_t v) { std::memcpy(at, &v, 8); }
void put32(uint8_t* at, uint32_t v) { std::memcpy(at, &v, 4); }
uint64_t get64(const uint8_t* at) {
  uint64_t v;
  std::memcpy(&v, at, 8);
  return v;
}
uint32_t get32(const uint8_t* at) {
  uint32_t v;
  std::memcpy(&v, at, 4);
  return v;
}

[[noreturn]] void system_error(const std::string& path, const char* what) {
  throw_input_error("'{}': {}: {}", path, what, std::strerror(errno));
}

// A write the file system refused (full, read-only): the build can be resumed once it has room.
[[noreturn]] void storage_error(const std::string& path, const char* what) {
  throw StorageError(fmt::format("'{}': {}: {}", path, what, std::strerror(errno)));
}

void write_all(int fd, const uint8_t* data, size_t size, uint64_t offset, const std::string& path) {
  while (size > 0) {
    const ssize_t n = pwrite(fd, data, size, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      storage_error(path, "cannot write");
    }
    data += n;
    size -= static_cast<size_t>(n);
    offset += static_cast<uint64_t>(n);
  }
}

std::vector<uint8_t> read_all(int fd, uint64_t offset, size_t size) {
  std::vector<uint8_t> out(size);
  size_t done = 0;
  while (done < size) {
    const ssize_t n = pread(fd, out.data() + done, size - done, static_cast<off_t>(offset + done));
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      out.resize(done);
      break;
    }
    done += static_cast<size_t>(n);
  }
  return out;
}

std::vector<uint8_t> header_bytes(uint32_t flags, uint64_t description, uint64_t shared, uint64_t records,
                                  uint64_t index) {
  std::vector<uint8_t> out(kHeaderBytes, 0);
  std::memcpy(out.data(), kMagic, 8);
  put32(&out[8], kVersion);
  put32(&out[12], flags);
  put64(&out[16], description);
  put64(&out[24], shared);
  put64(&out[32], records);
  put64(&out[40], index);
  return out;
}

}  // namespace

uint32_t crc32(const uint8_t* data, size_t size, uint32_t crc) {
  const auto& table = crc_table();
  crc = ~crc;
  for (size_t i = 0; i < size; ++i) crc = table[(crc ^ data[i]) & 0xffu] ^ (crc >> 8);
  return ~crc;
}

nlohmann::json file_fingerprint(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw_input_error("cannot read '{}'", path);
  std::vector<char> buffer(1 << 20);
  uint32_t crc = 0;
  uint64_t bytes = 0;
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    const auto n = static_cast<size_t>(in.gcount());
    crc = crc32(reinterpret_cast<const uint8_t*>(buffer.data()), n, crc);
    bytes += n;
  }
  return {{"crc32", crc}, {"bytes", bytes}};
}

// ---- writer -----------------------------------------------------------------------------

FeatureCacheWriter::FeatureCacheWriter(std::string path, const nlohmann::json& description,
                                       const std::vector<uint8_t>& shared)
    : path_(std::move(path)), building_(path_ + ".building") {
  if (const fs::path parent = fs::path(path_).parent_path(); !parent.empty()) make_directories(parent.string());
  fd_ = open(building_.c_str(), O_RDWR | O_CREAT, 0644);
  if (fd_ < 0) storage_error(building_, "cannot open");
  if (flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    close(fd_);
    fd_ = -1;
    throw_input_error("'{}' is being written by another build (it holds the file's lock)", building_);
  }
  const std::string text = description.dump();
  const std::vector<uint8_t> head = header_bytes(0, text.size(), shared.size(), 0, 0);
  const uint64_t data_start = kHeaderBytes + text.size() + shared.size();
  struct stat info {};
  fstat(fd_, &info);
  const uint64_t existing = static_cast<uint64_t>(info.st_size);
  // A build that stopped: keep its whole records when it was started for the same cache.
  if (existing > 0) {
    const std::vector<uint8_t> old = read_all(fd_, 0, static_cast<size_t>(std::min<uint64_t>(existing, data_start)));
    std::vector<uint8_t> expected = head;
    expected.insert(expected.end(), text.begin(), text.end());
    expected.insert(expected.end(), shared.begin(), shared.end());
    // A build stopped between its complete header and the rename has its flag, count and index
    // set; they are written again when it finishes.
    std::vector<uint8_t> found = old;
    if (found.size() >= kHeaderBytes) {
      std::memset(&found[12], 0, 4);
      std::memset(&found[32], 0, 16);
    }
    if (found != expected) {
      close(fd_);
      fd_ = -1;
      throw_input_error("'{}' was started for another model, split, tap or compressor; remove it to build anew",
                        building_);
    }
    uint64_t at = data_start;
    while (at + kRecordHead <= existing) {
      const std::vector<uint8_t> head_bytes = read_all(fd_, at, kRecordHead);
      const uint64_t length = get64(&head_bytes[16]);
      if (get64(&head_bytes[0]) != static_cast<uint64_t>(offsets_.size()) ||
          at + kRecordHead + length + 4 > existing) {
        break;
      }
      const std::vector<uint8_t> whole = read_all(fd_, at, kRecordHead + length + 4);
      if (crc32(whole.data(), kRecordHead + length) != get32(&whole[kRecordHead + length])) break;
      offsets_.push_back(at);
      at += kRecordHead + length + 4;
    }
    end_ = at;
    if (ftruncate(fd_, static_cast<off_t>(end_)) != 0) storage_error(building_, "cannot truncate");
    write_all(fd_, head.data(), head.size(), 0, building_);
    return;
  }
  write_all(fd_, head.data(), head.size(), 0, building_);
  write_all(fd_, reinterpret_cast<const uint8_t*>(text.data()), text.size(), kHeaderBytes, building_);
  write_all(fd_, shared.data(), shared.size(), kHeaderBytes + text.size(), building_);
  end_ = data_start;
}

FeatureCacheWriter::~FeatureCacheWriter() {
  if (fd_ >= 0) close(fd_);
}

void FeatureCacheWriter::append(int64_t image, const Compressed& stream) {
  if (stream.on_device()) {
    append(image, stream.to_host());
    return;
  }
  if (image != records()) throw std::logic_error("feature cache records are written in image order");
  std::vector<uint8_t> record(kRecordHead + stream.bytes.size() + 4);
  put64(&record[0], static_cast<uint64_t>(image));
  put64(&record[8], static_cast<uint64_t>(stream.side_bytes));
  put64(&record[16], stream.bytes.size());
  std::memcpy(&record[kRecordHead], stream.bytes.data(), stream.bytes.size());
  put32(&record[kRecordHead + stream.bytes.size()], crc32(record.data(), kRecordHead + stream.bytes.size()));
  write_all(fd_, record.data(), record.size(), end_, building_);
  offsets_.push_back(end_);
  end_ += record.size();
}

void FeatureCacheWriter::finish() {
  std::vector<uint8_t> index(8 * offsets_.size());
  for (size_t i = 0; i < offsets_.size(); ++i) put64(&index[8 * i], offsets_[i]);
  write_all(fd_, index.data(), index.size(), end_, building_);
  if (fsync(fd_) != 0) storage_error(building_, "cannot sync");
  // The header last: until the complete flag is on the disk, no reader takes the file.
  const std::vector<uint8_t> old = read_all(fd_, 0, kHeaderBytes);
  const std::vector<uint8_t> head = header_bytes(kComplete, get64(&old[16]), get64(&old[24]), offsets_.size(), end_);
  write_all(fd_, head.data(), head.size(), 0, building_);
  if (fsync(fd_) != 0) storage_error(building_, "cannot sync");
  std::error_code error;
  fs::rename(building_, path_, error);
  if (error) throw StorageError(fmt::format("cannot rename '{}' to '{}': {}", building_, path_, error.message()));
  close(fd_);
  fd_ = -1;
}

// ---- reader -----------------------------------------------------------------------------

FeatureCache::FeatureCache(const std::string& path) : path_(path) {
  const int fd = open(path.c_str(), O_RDONLY);
  if (fd < 0) {
    if (fs::exists(path + ".building")) {
      throw_input_error("'{}' does not exist; '{}.building' is an unfinished build (run the build again)", path, path);
    }
    system_error(path, "cannot open the feature cache");
  }
  struct stat info {};
  fstat(fd, &info);
  size_ = static_cast<size_t>(info.st_size);
  if (size_ < kHeaderBytes) {
    close(fd);
    throw_input_error("'{}' is not a feature cache (too short for its header)", path);
  }
  void* mapped = mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (mapped == MAP_FAILED) system_error(path, "cannot map the feature cache");
  data_ = static_cast<const uint8_t*>(mapped);
  // A constructor that throws runs no destructor: the mapping is released here.
  try {
    if (std::memcmp(data_, kMagic, 8) != 0) throw_input_error("'{}' is not a feature cache (no BCFCACHE magic)", path);
    if (get32(data_ + 8) != kVersion) throw_input_error("'{}': feature cache version {} (this bcfeat reads {})", path, get32(data_ + 8), kVersion);
    if (get32(data_ + 12) != kComplete) throw_input_error("'{}': an unfinished feature cache build", path);
    const uint64_t text = get64(data_ + 16), shared = get64(data_ + 24), records = get64(data_ + 32),
                   index = get64(data_ + 40);
    // Each part is compared with what is left, so no sum of header fields can wrap around.
    if (text > size_ - kHeaderBytes || shared > size_ - kHeaderBytes - text || index > size_ ||
        (size_ - index) / 8 < records || index + 8 * records != size_ || index < kHeaderBytes + text + shared) {
      throw_input_error("'{}': truncated or corrupt feature cache ({} bytes do not hold its header's parts)", path, size_);
    }
    try {
      description_ = nlohmann::json::parse(data_ + kHeaderBytes, data_ + kHeaderBytes + text);
      shape_ = description_.at("shape").get<std::vector<int64_t>>();
    } catch (const nlohmann::json::exception& e) {
      throw_input_error("'{}': corrupt feature cache description ({})", path, e.what());
    }
    shared_.assign(data_ + kHeaderBytes + text, data_ + kHeaderBytes + text + shared);
    const uint64_t data_start = kHeaderBytes + text + shared;
    for (uint64_t i = 0; i < records; ++i) {
      const uint64_t at = get64(data_ + index + 8 * i);
      if (at < data_start || at > index || index - at < kRecordHead) throw_input_error("'{}': record {}: offset outside the records", path, i);
      offsets_.push_back(at);
    }
  } catch (...) {
    munmap(const_cast<uint8_t*>(data_), size_);
    data_ = nullptr;
    throw;
  }
}

FeatureCache::~FeatureCache() {
  if (data_) munmap(const_cast<uint8_t*>(data_), size_);
}

const uint8_t* FeatureCache::record_at(int64_t i, uint64_t& length) const {
  if (i < 0 || i >= records()) throw_input_error("'{}': no record {} (the cache holds {})", path_, i, records());
  const uint64_t at = offsets_[static_cast<size_t>(i)];
  const uint64_t limit = i + 1 < records() ? offsets_[static_cast<size_t>(i) + 1] : size_ - 8 * offsets_.size();
  length = get64(data_ + at + 16);
  if (limit < at + kRecordHead + 4 || length != limit - at - kRecordHead - 4) throw_input_error("'{}': record {}: its length does not fit the index", path_, i);
  if (crc32(data_ + at, kRecordHead + length) != get32(data_ + at + kRecordHead + length)) {
    throw_input_error("'{}': record {}: CRC mismatch (the record is corrupt)", path_, i);
  }
  return data_ + at;
}

int64_t FeatureCache::image(int64_t i) const {
  uint64_t length = 0;
  return static_cast<int64_t>(get64(record_at(i, length)));
}

Compressed FeatureCache::record(int64_t i) const {
  uint64_t length = 0;
  const uint8_t* at = record_at(i, length);
  Compressed out;
  out.side_bytes = static_cast<int64_t>(get64(at + 8));
  out.bytes.assign(at + kRecordHead, at + kRecordHead + length);
  out.shape = shape_;
  return out;
}

}  // namespace bcfeat
