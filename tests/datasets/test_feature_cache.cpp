// Feature caches: CRC-32 against its published check value, write/read round trip, every
// damaged-file error, resuming a stopped build, and the build lock.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <cstring>
#include <random>

#include "bcfeat/datasets/feature_cache.h"
#include "bcfeat/framework/error.h"
#include "catch.h"

using namespace bcfeat;
namespace fs = std::filesystem;

namespace {

fs::path scratch(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("bcfeat_cache_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::vector<uint8_t> read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const fs::path& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

// Records of different lengths (a stream of image i has 40 + 7 i bytes).
std::vector<Compressed> streams(int count) {
  std::mt19937 random(7);
  std::vector<Compressed> out;
  for (int i = 0; i < count; ++i) {
    Compressed c;
    c.bytes.resize(static_cast<size_t>(40 + 7 * i));
    for (auto& b : c.bytes) b = static_cast<uint8_t>(random());
    c.side_bytes = 3 + i;
    c.shape = {1, 4, 8};
    out.push_back(c);
  }
  return out;
}

const nlohmann::json kDescription = {{"shape", {1, 4, 8}}, {"tap", 2}, {"compression", {{"method", "int"}}}};
const std::vector<uint8_t> kShared = {1, 2, 3, 4, 5};

fs::path build(const fs::path& dir, const std::string& name, const std::vector<Compressed>& records) {
  const fs::path path = dir / name;
  FeatureCacheWriter writer(path.string(), kDescription, kShared);
  for (size_t i = 0; i < records.size(); ++i) writer.append(static_cast<int64_t>(i), records[i]);
  writer.finish();
  return path;
}

}  // namespace

TEST_CASE("crc32 gives the IEEE check value and continues across pieces") {
  const std::string check = "123456789";
  const auto* data = reinterpret_cast<const uint8_t*>(check.data());
  CHECK(crc32(data, check.size()) == 0xCBF43926u);
  CHECK(crc32(data + 4, 5, crc32(data, 4)) == 0xCBF43926u);
  CHECK(crc32(data, 0) == 0u);
}

TEST_CASE("a feature cache reads back what was written") {
  const fs::path dir = scratch("roundtrip");
  const auto records = streams(6);
  const fs::path path = build(dir, "c.bcfc", records);
  CHECK_FALSE(fs::exists(path.string() + ".building"));
  const FeatureCache cache(path.string());
  CHECK(cache.records() == 6);
  CHECK(cache.description() == kDescription);
  CHECK(cache.shared_state() == kShared);
  CHECK(cache.file_bytes() == static_cast<int64_t>(fs::file_size(path)));
  for (int64_t i = 0; i < 6; ++i) {
    CHECK(cache.image(i) == i);
    const Compressed got = cache.record(i);
    CHECK(got.bytes == records[static_cast<size_t>(i)].bytes);
    CHECK(got.side_bytes == records[static_cast<size_t>(i)].side_bytes);
    CHECK(got.shape == std::vector<int64_t>{1, 4, 8});
  }
  CHECK_THROWS_AS(cache.record(6), InputError);
  fs::remove_all(dir);
}

TEST_CASE("damaged feature caches fail with the file, the record and the reason") {
  const fs::path dir = scratch("damaged");
  const fs::path path = build(dir, "c.bcfc", streams(5));
  const std::vector<uint8_t> good = read_bytes(path);

  SECTION("a flipped byte inside a record") {
    std::vector<uint8_t> bad = good;
    uint64_t record2 = 0;  // from the index: the file's last 8 bytes per record
    std::memcpy(&record2, &good[good.size() - 8 * 5 + 8 * 2], 8);
    bad[record2 + 30] ^= 0x10;
    write_bytes(path, bad);
    const FeatureCache cache(path.string());
    CHECK(cache.record(1).bytes.size() == 47);
    CHECK_THROWS_WITH(cache.record(2), message_contains("record 2") &&
                                           message_contains("CRC") &&
                                           message_contains(path.string()));
  }
  SECTION("a truncated file") {
    write_bytes(path, std::vector<uint8_t>(good.begin(), good.begin() + static_cast<long>(good.size()) - 9));
    CHECK_THROWS_WITH(FeatureCache(path.string()), message_contains("truncated"));
  }
  SECTION("not a cache") {
    write_bytes(path, std::vector<uint8_t>(100, 'x'));
    CHECK_THROWS_WITH(FeatureCache(path.string()), message_contains("not a feature cache"));
  }
  SECTION("an unfinished build") {
    fs::rename(path, path.string() + ".building");
    CHECK_THROWS_WITH(FeatureCache(path.string()), message_contains("unfinished build"));
  }
  SECTION("a missing file") { CHECK_THROWS_AS(FeatureCache((dir / "none.bcfc").string()), InputError); }
  fs::remove_all(dir);
}

TEST_CASE("a stopped build resumes from its last whole record") {
  const fs::path dir = scratch("resume");
  const auto records = streams(7);
  const std::vector<uint8_t> whole = read_bytes(build(dir, "whole.bcfc", records));
  const fs::path path = dir / "part.bcfc";
  {
    FeatureCacheWriter writer(path.string(), kDescription, kShared);
    for (int64_t i = 0; i < 3; ++i) writer.append(i, records[static_cast<size_t>(i)]);
  }  // stopped: no finish
  // and killed in the middle of writing record 3
  std::vector<uint8_t> building = read_bytes(path.string() + ".building");
  building.insert(building.end(), {3, 0, 0, 0, 0, 0, 0, 0, 9, 9});
  write_bytes(path.string() + ".building", building);
  CHECK_THROWS_WITH(FeatureCache(path.string()), message_contains("unfinished build"));

  SECTION("with the same description") {
    FeatureCacheWriter writer(path.string(), kDescription, kShared);
    CHECK(writer.records() == 3);
    for (int64_t i = 3; i < 7; ++i) writer.append(i, records[static_cast<size_t>(i)]);
    writer.finish();
    CHECK(read_bytes(path) == whole);
  }
  SECTION("with another description") {
    nlohmann::json other = kDescription;
    other["tap"] = 1;
    CHECK_THROWS_WITH(FeatureCacheWriter(path.string(), other, kShared),
                      message_contains("started for another"));
    CHECK_THROWS_WITH(FeatureCacheWriter(path.string(), kDescription, {9}),
                      message_contains("started for another"));
  }
  SECTION("while another build holds it") {
    FeatureCacheWriter first(path.string(), kDescription, kShared);
    CHECK_THROWS_WITH(FeatureCacheWriter(path.string(), kDescription, kShared),
                      message_contains("another build"));
  }
  fs::remove_all(dir);
}

TEST_CASE("a build stopped between its last header write and the rename finishes as it was") {
  const fs::path dir = scratch("rename");
  const auto records = streams(4);
  const fs::path path = build(dir, "c.bcfc", records);
  const std::vector<uint8_t> whole = read_bytes(path);
  fs::rename(path, path.string() + ".building");
  FeatureCacheWriter writer(path.string(), kDescription, kShared);
  CHECK(writer.records() == 4);
  writer.finish();
  CHECK(read_bytes(path) == whole);
  fs::remove_all(dir);
}
