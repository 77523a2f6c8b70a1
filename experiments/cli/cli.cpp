#include "cli.h"

#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "bcfeat/framework/error.h"
#include "bcfeat/framework/results.h"

namespace bcfeat {

Args::Args(std::vector<std::string> arguments, std::string command)
    : arguments_(std::move(arguments)), used_(arguments_.size(), false), command_(std::move(command)) {}

bool Args::has_positional() const {
  for (size_t i = 0; i < arguments_.size(); ++i) {
    if (used_[i]) continue;
    if (arguments_[i].rfind("--", 0) == 0) return false;
    return true;
  }
  return false;
}

std::string Args::positional(const std::string& name) {
  for (size_t i = 0; i < arguments_.size(); ++i) {
    if (used_[i]) continue;
    if (arguments_[i].rfind("--", 0) == 0) break;
    used_[i] = true;
    return arguments_[i];
  }
  throw_input_error("{}: missing argument {}", command_, name);
}

std::string Args::option(const std::string& name, const std::string& fallback) {
  for (size_t i = 0; i < arguments_.size(); ++i) {
    if (used_[i]) continue;
    if (arguments_[i] == name) {
      if (i + 1 >= arguments_.size()) throw_input_error("{}: option {} needs a value", command_, name);
      used_[i] = used_[i + 1] = true;
      return arguments_[i + 1];
    }
    if (arguments_[i].rfind(name + "=", 0) == 0) {
      used_[i] = true;
      return arguments_[i].substr(name.size() + 1);
    }
  }
  return fallback;
}

int Args::int_option(const std::string& name, int fallback, int low, int high) {
  const std::string text = option(name, "");
  if (text.empty()) return fallback;
  size_t used = 0;
  int value = 0;
  try {
    value = std::stoi(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || value < low || value > high) {
    throw_input_error("{}: {} must be an integer in [{}, {}], got '{}'", command_, name, low, high, text);
  }
  return value;
}

bool Args::flag(const std::string& name) {
  for (size_t i = 0; i < arguments_.size(); ++i) {
    if (!used_[i] && arguments_[i] == name) {
      used_[i] = true;
      return true;
    }
  }
  return false;
}

void Args::finish() const {
  for (size_t i = 0; i < arguments_.size(); ++i) {
    if (!used_[i]) throw_input_error("{}: unexpected argument '{}'", command_, arguments_[i]);
  }
}

std::vector<std::string> split_list(const std::string& text, char separator) {
  std::vector<std::string> items;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = text.find(separator, start);
    const std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!item.empty()) items.push_back(item);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return items;
}

namespace {
std::string cell_text(const nlohmann::ordered_json& value) {
  if (value.is_null()) return "";
  if (value.is_string()) return value.get<std::string>();
  if (value.is_number_float()) return fmt::format("{:.5g}", value.get<double>());
  if (value.is_array()) {  // e.g. a confidence interval: [-0.21, 0.5]
    std::string out = "[";
    for (size_t i = 0; i < value.size(); ++i) {
      out += (i ? ", " : "") + (value[i].is_number_float() ? fmt::format("{:.3g}", value[i].get<double>()) : cell_text(value[i]));
    }
    return out + "]";
  }
  return value.dump();
}
}  // namespace

std::string format_report(const nlohmann::ordered_json& rows, const std::vector<std::string>& requested,
                          const std::string& format) {
  std::vector<std::string> available;
  for (const auto& row : rows) {
    for (auto it = row.begin(); it != row.end(); ++it) {
      if (std::find(available.begin(), available.end(), it.key()) == available.end()) available.push_back(it.key());
    }
  }
  std::vector<std::string> columns = requested;
  std::vector<std::string> swept;
  for (const auto& key : available) {
    if (key.find('.') != std::string::npos) swept.push_back(key);
  }
  // Many swept keys: one `run` column naming, per row, the swept values that differ from
  // the value most rows have (e.g. "method=fp8 fp8_format=e5m2"), so the table stays narrow.
  const bool labelled = requested.empty() && swept.size() > 4 && format != "csv";
  if (columns.empty()) {
    // Swept key paths (they contain a dot), status, then the headline metrics present.
    static const std::vector<std::string> kHeadline = {
        "bits_per_value", "compression_ratio", "psnr_db", "rel_l2", "cosine_mean", "cosine_p01", "max_abs_err",
        "vqa_accuracy", "vqa_accuracy_drop", "vqa_accuracy_drop_ci95", "recall_i2t_1", "recall_t2i_1",
        "recall_i2t_1_drop", "recall_i2t_1_drop_ci95", "alignment", "feature_bytes_per_image", "val_accuracy",
        "val_recall_at_1"};
    if (labelled) {
      columns.push_back("run");
    } else {
      columns = swept;
    }
    columns.push_back("status");
    for (const auto& key : kHeadline) {
      if (std::find(available.begin(), available.end(), key) != available.end()) columns.push_back(key);
    }
  }
  std::vector<std::string> labels;
  if (labelled) {
    // Rows are grouped by their `*.method` value; within a group a key is named when its
    // value differs from the group's most common one, or always when it is an identity key
    // (format, bits, codebook, fp8_format) that varies inside the group.
    auto method_of = [&](const nlohmann::ordered_json& row) {
      for (const auto& key : swept) {
        if (key.size() >= 7 && key.compare(key.size() - 7, 7, ".method") == 0 && row.contains(key)) return cell_text(row[key]);
      }
      return std::string();
    };
    static const std::vector<std::string> kIdentity = {"format", "bits", "codebook", "fp8_format"};
    for (const auto& row : rows) {
      const std::string method = method_of(row);
      std::string label = method;
      for (const auto& key : swept) {
        const std::string name = key.substr(key.find('.') + 1);
        if (name == "method") continue;
        std::map<std::string, int> counts;
        for (const auto& other : rows) {
          if (method_of(other) == method) counts[other.contains(key) ? cell_text(other[key]) : ""]++;
        }
        const auto mode = std::max_element(counts.begin(), counts.end(),
                                           [](const auto& a, const auto& b) { return a.second < b.second; });
        const std::string value = row.contains(key) ? cell_text(row[key]) : "";
        const bool identity = std::find(kIdentity.begin(), kIdentity.end(), name) != kIdentity.end() && counts.size() > 1;
        if (value == mode->first && !identity) continue;
        label += (label.empty() ? "" : " ") + name + "=" + value;
      }
      labels.push_back(label);
    }
    available.push_back("run");
  }
  for (const auto& column : columns) {
    if (std::find(available.begin(), available.end(), column) == available.end()) {
      throw_input_error("report: no column '{}'{}; available: {}", column, did_you_mean(column, available),
                        join(available));
    }
  }
  if (format == "csv") return records_to_csv(rows, columns);
  if (rows.empty()) return "(no runs)\n";
  std::string out = "| " + join(columns, " | ") + " |\n|";
  for (size_t c = 0; c < columns.size(); ++c) out += "---|";
  out += "\n";
  for (size_t r = 0; r < rows.size(); ++r) {
    const auto& row = rows[r];
    out += "|";
    for (const auto& column : columns) {
      const std::string cell = labelled && column == "run" ? labels[r] : (row.contains(column) ? cell_text(row[column]) : "");
      out += " " + cell + " |";
    }
    out += "\n";
  }
  return out;
}

}  // namespace bcfeat
