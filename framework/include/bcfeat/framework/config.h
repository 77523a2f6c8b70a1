// Configs: YAML files with includes and command-line overrides, flattened to key paths.
//
// A config is held as a flat, ordered map from key path ("compression.bits") to a YAML
// value (a scalar or a list) and the place it came from ("configs/x.yaml:12" or
// "command line"), so that every later error can name the key, the file and the line.
// Nested maps are flattened; lists are values. `include:` (a path or a list of paths,
// relative to the including file) is merged first, the including file's keys win.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace bcfeat {

struct ConfigValue {
  YAML::Node value;    // scalar, sequence or null
  std::string origin;  // "file.yaml:12" or "command line 'a.b=3'"
};

class ConfigTree {
 public:
  // Sets (replaces) one key path.
  void set(const std::string& path, const YAML::Node& value, const std::string& origin);
  // Flattens `node` (a map) under `prefix` ("" for the root) and sets every leaf.
  void merge_node(const std::string& prefix, const YAML::Node& node, const std::string& file);
  // Flattens one `key: value` entry of a map under `prefix`.
  void merge_entry(const std::string& prefix, const YAML::Node& key, const YAML::Node& value, const std::string& file);
  // Applies another tree on top of this one (its keys win).
  void merge(const ConfigTree& other);
  bool contains(const std::string& path) const { return values_.count(path) != 0; }
  const ConfigValue& at(const std::string& path) const;
  void erase(const std::string& path) { values_.erase(path); }
  const std::map<std::string, ConfigValue>& values() const { return values_; }

  // Every key with this prefix followed by '.', prefix stripped.
  ConfigTree subtree(const std::string& prefix) const;
  // Removes every key equal to `prefix` or starting with `prefix.`.
  void erase_prefix(const std::string& prefix);

 private:
  std::map<std::string, ConfigValue> values_;
};

// Loads a YAML file (recursively resolving `include:`). Throws InputError on a missing
// file, a YAML syntax error, or an include cycle.
ConfigTree load_config_file(const std::string& path);

// Parses one command-line override "key.path=value" (value parsed as YAML) and applies it.
void apply_override(ConfigTree& tree, const std::string& assignment);

// Renders a key path -> value map back into nested YAML (for config.yaml).
YAML::Node unflatten(const std::map<std::string, YAML::Node>& values);

// Compact single-line rendering of a YAML value ("bc1", "[4, 8]").
std::string yaml_inline(const YAML::Node& node);

}  // namespace bcfeat
