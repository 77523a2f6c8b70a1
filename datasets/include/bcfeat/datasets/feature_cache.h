// Compressed feature caches: per image, the compressed visual tokens of one model at one tap,
// in one file, so that an evaluation can skip the image encoder (cache[image] = compressed).
//
// Layout (little endian):
//   0   "BCFCACHE", u32 version (1), u32 flags (1 = complete)
//   16  u64 description bytes, u64 shared-state bytes, u64 records, u64 index offset, 16 bytes 0
//   64  the description (JSON: bcfeat version, model file and its CRC-32 and size, split, first
//       scene, tap, token shape, the resolved compression.* keys), then the compressor's shared
//       state (stored once), then the records, then the index (u64 offset of each record).
//   A record: u64 image, u64 side bytes, u64 stream bytes, the stream, u32 CRC-32 of all before.
// A build writes FILE.building (locked while it writes) and, after the last record, the index,
// then the complete flag, then renames it to FILE; a killed build resumes from the last whole
// record of FILE.building. Readers accept only complete files, and check each record's CRC when
// they read it. Every problem is an InputError naming the file, the record and the reason.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bcfeat/framework/compressor.h"

namespace bcfeat {

// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320, as zlib's crc32), continued from `crc`.
uint32_t crc32(const uint8_t* data, size_t size, uint32_t crc = 0);
// CRC-32 and size of a file (to recognise the model a cache was made with).
nlohmann::json file_fingerprint(const std::string& path);

class FeatureCacheWriter {
 public:
  // Starts FILE.building, or resumes it when it exists with the same description and shared state.
  FeatureCacheWriter(std::string path, const nlohmann::json& description, const std::vector<uint8_t>& shared);
  ~FeatureCacheWriter();
  FeatureCacheWriter(const FeatureCacheWriter&) = delete;
  FeatureCacheWriter& operator=(const FeatureCacheWriter&) = delete;

  int64_t records() const { return static_cast<int64_t>(offsets_.size()); }  // written so far
  void append(int64_t image, const Compressed& stream);  // a host stream
  void finish();  // index, complete flag, rename to FILE

 private:
  std::string path_, building_;
  int fd_ = -1;
  uint64_t end_ = 0;  // where the next record goes
  std::vector<uint64_t> offsets_;
};

class FeatureCache {
 public:
  explicit FeatureCache(const std::string& path);  // maps the file and checks its header and index
  ~FeatureCache();
  FeatureCache(const FeatureCache&) = delete;
  FeatureCache& operator=(const FeatureCache&) = delete;

  const std::string& path() const { return path_; }
  const nlohmann::json& description() const { return description_; }
  const std::vector<uint8_t>& shared_state() const { return shared_; }
  int64_t records() const { return static_cast<int64_t>(offsets_.size()); }
  int64_t file_bytes() const { return static_cast<int64_t>(size_); }
  // Record i (CRC checked): its image and stream (on the host; shape [1, N, D] from the description).
  int64_t image(int64_t i) const;
  Compressed record(int64_t i) const;

 private:
  const uint8_t* record_at(int64_t i, uint64_t& length) const;
  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  nlohmann::json description_;
  std::vector<uint8_t> shared_;
  std::vector<uint64_t> offsets_;
  std::vector<int64_t> shape_;
};

}  // namespace bcfeat
