#include "bcfeat/framework/results.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "bcfeat/framework/error.h"

namespace bcfeat {
namespace fs = std::filesystem;

void make_directories(const std::string& path) {
  std::error_code error;
  fs::create_directories(path, error);
  if (error) throw StorageError(fmt::format("cannot create the directory '{}': {}", path, error.message()));
}

void write_file_atomic(const std::string& path, const std::string& content) {
  const fs::path target(path);
  if (target.has_parent_path()) make_directories(target.parent_path().string());
  const std::string temp = fmt::format("{}.tmp.{}", path, getpid());
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) throw StorageError(fmt::format("cannot write '{}': {}", path, std::strerror(errno)));
  auto fail = [&](const char* what) {
    const int error = errno;
    ::close(fd);
    ::unlink(temp.c_str());
    throw StorageError(fmt::format("cannot {} '{}': {}", what, path, std::strerror(error)));
  };
  size_t written = 0;
  while (written < content.size()) {
    const ssize_t n = ::write(fd, content.data() + written, content.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("write");
    }
    written += static_cast<size_t>(n);
  }
  // Space a file system only claims on flush (NFS, quotas) shows up here, before the rename.
  if (::fsync(fd) != 0 && errno != EINVAL) fail("write");
  if (::close(fd) != 0) {
    const int error = errno;
    ::unlink(temp.c_str());
    throw StorageError(fmt::format("cannot write '{}': {}", path, std::strerror(error)));
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    const int error = errno;
    ::unlink(temp.c_str());
    throw StorageError(fmt::format("cannot rename '{}' to '{}': {}", temp, path, std::strerror(error)));
  }
}

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw_input_error("cannot open '{}': {}", path, std::strerror(errno));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::optional<nlohmann::json> read_json_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

bool run_is_complete(const std::string& run_dir) {
  const auto metrics = read_json_file((fs::path(run_dir) / "metrics.json").string());
  return metrics && metrics->is_object() && metrics->value("status", "") == "ok" && metrics->contains("metrics");
}

namespace {
void flatten_into(const nlohmann::json& value, const std::string& prefix, nlohmann::ordered_json& out) {
  if (value.is_object()) {
    for (auto it = value.begin(); it != value.end(); ++it) {
      flatten_into(it.value(), prefix.empty() ? it.key() : prefix + "." + it.key(), out);
    }
  } else {
    out[prefix] = value;
  }
}

std::string csv_cell(const nlohmann::ordered_json& value) {
  if (value.is_null()) return "";
  std::string text = value.is_string() ? value.get<std::string>() : value.dump();
  if (text.find_first_of(",\"\n") != std::string::npos) {
    std::string quoted = "\"";
    for (char c : text) {
      if (c == '"') quoted += '"';
      quoted += c;
    }
    return quoted + "\"";
  }
  return text;
}
}  // namespace

nlohmann::ordered_json flatten_json(const nlohmann::json& object) {
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  flatten_into(object, "", out);
  return out;
}

nlohmann::json yaml_to_json(const YAML::Node& node) {
  if (!node.IsDefined() || node.IsNull()) return nullptr;
  if (node.IsSequence()) {
    nlohmann::json array = nlohmann::json::array();
    for (const auto& item : node) array.push_back(yaml_to_json(item));
    return array;
  }
  if (node.IsMap()) {
    nlohmann::json object = nlohmann::json::object();
    for (const auto& item : node) object[item.first.as<std::string>()] = yaml_to_json(item.second);
    return object;
  }
  const std::string& text = node.Scalar();
  if (node.Tag() == "!") return text;  // quoted in the YAML: keep it a string
  try {
    size_t used = 0;
    const long long integer = std::stoll(text, &used);
    if (used == text.size()) return integer;
  } catch (const std::exception&) {
  }
  try {
    size_t used = 0;
    const double number = std::stod(text, &used);
    if (used == text.size()) return number;
  } catch (const std::exception&) {
  }
  if (text == "true" || text == "false") return text == "true";
  return text;
}

std::string records_to_csv(const nlohmann::ordered_json& records, const std::vector<std::string>& columns_in) {
  std::vector<std::string> columns = columns_in;
  if (columns.empty()) {
    for (const auto& record : records) {
      for (auto it = record.begin(); it != record.end(); ++it) {
        if (std::find(columns.begin(), columns.end(), it.key()) == columns.end()) columns.push_back(it.key());
      }
    }
  }
  std::string out;
  for (size_t c = 0; c < columns.size(); ++c) out += (c ? "," : "") + csv_cell(columns[c]);
  out += "\n";
  for (const auto& record : records) {
    for (size_t c = 0; c < columns.size(); ++c) {
      out += c ? "," : "";
      if (record.contains(columns[c])) out += csv_cell(record.at(columns[c]));
    }
    out += "\n";
  }
  return out;
}

void merge_metrics_file(nlohmann::ordered_json& row, const nlohmann::json& file) {
  row["status"] = file.is_object() ? file.value("status", "unfinished") : "unfinished";
  if (!file.is_object()) return;
  if (file.contains("metrics")) {
    const nlohmann::ordered_json flat = flatten_json(file["metrics"]);
    for (auto it = flat.begin(); it != flat.end(); ++it) row[it.key()] = it.value();
  }
  if (file.contains("error")) row["error"] = file["error"];
}

nlohmann::ordered_json summary_rows(const std::vector<SummaryRecord>& records) {
  nlohmann::ordered_json rows = nlohmann::ordered_json::array();
  for (const auto& record : records) {
    nlohmann::ordered_json row = nlohmann::ordered_json::object();
    row["run_id"] = record.run_id;
    row["status"] = "unfinished";  // placed before the swept values; set below
    for (const auto& [path, value] : record.swept) row[path] = yaml_to_json(value);
    const nlohmann::json& file = record.metrics_file;
    merge_metrics_file(row, file);
    if (file.is_object() && file.contains("provenance")) row["wall_s"] = file["provenance"].value("wall_s", 0.0);
    rows.push_back(std::move(row));
  }
  return rows;
}

void write_summary(const std::string& output_dir, const std::vector<SummaryRecord>& records) {
  const nlohmann::ordered_json rows = summary_rows(records);
  write_file_atomic((fs::path(output_dir) / "summary.json").string(), rows.dump(2) + "\n");
  write_file_atomic((fs::path(output_dir) / "summary.csv").string(), records_to_csv(rows));
}

}  // namespace bcfeat
