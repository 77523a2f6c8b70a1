#include "bcfeat/framework/sweep.h"

#include <cctype>

#include "bcfeat/framework/error.h"

namespace bcfeat {

namespace {

struct Axis {
  std::string path;
  std::vector<YAML::Node> values;
  std::string origin;
};

std::vector<Axis> axes_of(const ConfigTree& section, const std::string& kind) {
  std::vector<Axis> axes;
  for (const auto& [path, value] : section.values()) {
    if (!value.value.IsSequence() || value.value.size() == 0) {
      throw_input_error("{}: sweep.{}.{} must be a non-empty list of values", value.origin, kind, path);
    }
    Axis axis{path, {}, value.origin};
    for (const auto& item : value.value) axis.values.push_back(item);
    axes.push_back(std::move(axis));
  }
  return axes;
}

void add_override(SweepPoint& point, const std::string& path, const YAML::Node& value, const std::string& origin) {
  if (value.IsMap() && value.size() > 0) {
    ConfigTree nested;
    nested.merge_node(path, value, origin);
    point.overrides.merge(nested);
  } else {
    point.overrides.set(path, value, origin);
  }
  for (auto& entry : point.swept) {
    if (entry.first == path) {
      entry.second = value;
      return;
    }
  }
  point.swept.emplace_back(path, value);
}

}  // namespace

std::vector<SweepPoint> take_sweep(ConfigTree& tree) {
  const ConfigTree sweep = tree.subtree("sweep");
  if (tree.contains("sweep") && !tree.at("sweep").value.IsNull()) {
    throw_input_error("{}: 'sweep' must be a map with grid, zip or runs", tree.at("sweep").origin);
  }
  const ConfigTree grid_section = sweep.subtree("grid");
  const ConfigTree zip_section = sweep.subtree("zip");
  for (const auto& [path, value] : sweep.values()) {
    const std::string head = path.substr(0, path.find('.'));
    if (head != "grid" && head != "zip" && head != "runs") {
      throw_input_error("{}: unknown key 'sweep.{}'{}; a sweep has grid, zip and runs", value.origin, path,
                        did_you_mean(head, {"grid", "zip", "runs"}));
    }
    if ((head == "grid" || head == "zip") && path == head) {
      throw_input_error("{}: sweep.{} must be a map from key paths to lists", value.origin, head);
    }
  }
  const std::vector<Axis> grid = axes_of(grid_section, "grid");
  const std::vector<Axis> zip = axes_of(zip_section, "zip");

  std::vector<SweepPoint> run_points;
  if (sweep.contains("runs")) {
    const ConfigValue& runs = sweep.at("runs");
    if (!runs.value.IsSequence() || runs.value.size() == 0) {
      throw_input_error("{}: sweep.runs must be a non-empty list of maps of overrides", runs.origin);
    }
    for (const auto& entry : runs.value) {
      if (!entry.IsMap()) throw_input_error("{}: each entry of sweep.runs must be a map of overrides", runs.origin);
      SweepPoint point;
      ConfigTree flat;
      flat.merge_node("", entry, runs.origin.substr(0, runs.origin.rfind(':')));
      for (const auto& [path, value] : flat.values()) add_override(point, path, value.value, value.origin);
      run_points.push_back(std::move(point));
    }
  } else {
    run_points.emplace_back();
  }

  size_t zip_length = zip.empty() ? 1 : zip.front().values.size();
  for (const auto& axis : zip) {
    if (axis.values.size() != zip_length) {
      throw_input_error("{}: sweep.zip lists must have equal lengths: '{}' has {}, '{}' has {}", axis.origin,
                        zip.front().path, zip_length, axis.path, axis.values.size());
    }
  }

  std::vector<SweepPoint> points;
  for (const auto& base : run_points) {
    for (size_t z = 0; z < zip_length; ++z) {
      SweepPoint zipped = base;
      for (const auto& axis : zip) add_override(zipped, axis.path, axis.values[z], axis.origin);
      size_t combinations = 1;
      for (const auto& axis : grid) combinations *= axis.values.size();
      for (size_t c = 0; c < combinations; ++c) {
        // Mixed-radix digits of c, last axis fastest.
        std::vector<size_t> index(grid.size());
        size_t rest = c;
        for (size_t a = grid.size(); a-- > 0;) {
          index[a] = rest % grid[a].values.size();
          rest /= grid[a].values.size();
        }
        SweepPoint point = zipped;
        for (size_t a = 0; a < grid.size(); ++a) add_override(point, grid[a].path, grid[a].values[index[a]], grid[a].origin);
        points.push_back(std::move(point));
      }
    }
  }
  tree.erase_prefix("sweep");
  return points;
}

std::string config_hash(const std::map<std::string, YAML::Node>& resolved) {
  uint64_t hash = 1469598103934665603ull;
  auto feed = [&hash](const std::string& text) {
    for (unsigned char c : text) {
      hash ^= c;
      hash *= 1099511628211ull;
    }
  };
  for (const auto& [path, value] : resolved) {
    feed(path);
    feed("=");
    feed(yaml_inline(value));
    feed("\n");
  }
  return fmt::format("{:010x}", hash & 0xffffffffffull);
}

std::string make_run_id(const std::vector<std::pair<std::string, YAML::Node>>& swept, const std::string& hash) {
  std::string name;
  for (const auto& [path, value] : swept) {
    const std::string key = path.substr(path.rfind('.') + 1);
    std::string text = value.IsScalar() ? value.Scalar() : yaml_inline(value);
    std::string clean;
    for (char c : text) {
      if (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-') {
        clean += c;
      } else if (!clean.empty() && clean.back() != '_') {
        clean += '_';
      }
    }
    while (!clean.empty() && clean.back() == '_') clean.pop_back();
    if (!name.empty()) name += "_";
    name += key + "-" + clean;
  }
  if (name.size() > 80) name.resize(80);
  return name.empty() ? hash : name + "-" + hash;
}

}  // namespace bcfeat
