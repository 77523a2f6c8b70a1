// Result files: atomic writes, run records, sweep summaries.
//
// Layout of an output directory:
//   <output>/<run_id>/config.yaml    fully resolved config of the run
//   <output>/<run_id>/metrics.json   {"run_id", "status": "ok"|"failed", "metrics", "error", "provenance"}
//   <output>/<run_id>/log.txt        the run's log (appended on every attempt)
//   <output>/summary.json            one flat record per run: run_id, status, swept values, metrics
//   <output>/summary.csv             the same records as CSV
// Every file is written to a temporary name in the same directory, flushed, and renamed
// over the target, so a reader (or a SIGKILL) never sees a half-written file.
#pragma once

#include <optional>
#include <string>
#include <stdexcept>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

namespace bcfeat {

// The file system refused a write (no space left, a read-only or missing directory, no
// permission). The message names the file and the reason; the CLI exits with code 4.
class StorageError : public std::runtime_error {
 public:
  explicit StorageError(const std::string& message) : std::runtime_error(message) {}
};

// fs::create_directories, throwing a StorageError naming the directory when it cannot.
void make_directories(const std::string& path);

// Writes `content` to `path` atomically (temp file + fsync + rename). Creates parent dirs.
// On any failure the target is untouched, the temp file removed, and a StorageError thrown.
void write_file_atomic(const std::string& path, const std::string& content);

// Parses a JSON file; std::nullopt when missing or unreadable (e.g. never finished).
std::optional<nlohmann::json> read_json_file(const std::string& path);

// Reads a whole file; throws InputError when it cannot be opened.
std::string read_text_file(const std::string& path);

// True when `metrics.json` exists, parses and records a successful run.
bool run_is_complete(const std::string& run_dir);

// Nested JSON objects flattened to dotted keys ({"a": {"b": 1}} -> {"a.b": 1}).
nlohmann::ordered_json flatten_json(const nlohmann::json& object);

// The value of a YAML scalar/sequence as JSON (numbers stay numbers).
nlohmann::json yaml_to_json(const YAML::Node& node);

struct SummaryRecord {
  std::string run_id;
  std::vector<std::pair<std::string, YAML::Node>> swept;
  nlohmann::json metrics_file;  // contents of metrics.json (may be null)
};

// Sets a summary row's status, flattened metrics and error from a run's metrics.json.
void merge_metrics_file(nlohmann::ordered_json& row, const nlohmann::json& metrics_file);

// Flat summary rows (run_id, status, swept values, metrics, error, wall_s) in that order.
nlohmann::ordered_json summary_rows(const std::vector<SummaryRecord>& records);

// summary.json and summary.csv from the records, written atomically.
void write_summary(const std::string& output_dir, const std::vector<SummaryRecord>& records);

// CSV rendering of flat records (columns: union of keys in first-seen order).
std::string records_to_csv(const nlohmann::ordered_json& records, const std::vector<std::string>& columns = {});

}  // namespace bcfeat
