#include "bcfeat/framework/config.h"

#include <filesystem>
#include <set>

#include "bcfeat/framework/error.h"

namespace bcfeat {
namespace fs = std::filesystem;

namespace {

std::string origin_of(const std::string& file, const YAML::Node& node) {
  const YAML::Mark mark = node.Mark();
  return mark.line >= 0 ? fmt::format("{}:{}", file, mark.line + 1) : file;
}

std::string join_path(const std::string& prefix, const std::string& key) {
  return prefix.empty() ? key : prefix + "." + key;
}

void load_recursive(const fs::path& path, std::vector<fs::path>& stack, ConfigTree& out) {
  const fs::path canonical = fs::weakly_canonical(path);
  for (const auto& open : stack) {
    if (open == canonical) throw_input_error("{}: include cycle through '{}'", stack.back().string(), path.string());
  }
  if (!fs::is_regular_file(path)) {
    if (stack.empty()) throw_input_error("config file '{}' does not exist", path.string());
    throw_input_error("{}: included file '{}' does not exist", stack.back().string(), path.string());
  }
  YAML::Node root;
  try {
    root = YAML::LoadFile(path.string());
  } catch (const YAML::Exception& e) {
    throw_input_error("{}:{}: YAML syntax error: {}", path.string(), e.mark.line + 1, e.msg);
  }
  const std::string file = path.string();
  if (root.IsNull()) return;
  if (!root.IsMap()) throw_input_error("{}: a config must be a YAML map of keys, not a {}", origin_of(file, root), root.IsSequence() ? "list" : "scalar");

  stack.push_back(canonical);
  if (const YAML::Node includes = root["include"]) {
    std::vector<std::string> paths;
    if (includes.IsScalar()) {
      paths.push_back(includes.as<std::string>());
    } else if (includes.IsSequence()) {
      for (const auto& item : includes) {
        if (!item.IsScalar()) throw_input_error("{}: 'include' entries must be file paths", origin_of(file, item));
        paths.push_back(item.as<std::string>());
      }
    } else {
      throw_input_error("{}: 'include' must be a path or a list of paths", origin_of(file, includes));
    }
    for (const auto& include : paths) {
      const fs::path resolved = fs::path(include).is_absolute() ? fs::path(include) : path.parent_path() / include;
      load_recursive(resolved, stack, out);
    }
  }
  // Keys of this file (not cloned: a clone would lose the line marks).
  ConfigTree own;
  for (const auto& item : root) {
    if (item.first.IsScalar() && item.first.Scalar() == "include") continue;
    own.merge_entry("", item.first, item.second, file);
  }
  out.merge(own);
  stack.pop_back();
}

}  // namespace

void ConfigTree::set(const std::string& path, const YAML::Node& value, const std::string& origin) {
  // A value replaces any subtree at the same path, and a subtree replaces a value.
  erase_prefix(path);
  for (size_t dot = path.find('.'); dot != std::string::npos; dot = path.find('.', dot + 1)) {
    values_.erase(path.substr(0, dot));
  }
  values_[path] = ConfigValue{value, origin};
}

void ConfigTree::merge_entry(const std::string& prefix, const YAML::Node& key_node, const YAML::Node& child,
                             const std::string& file) {
  if (!key_node.IsScalar()) throw_input_error("{}: keys must be plain names", origin_of(file, key_node));
  const std::string key = key_node.Scalar();
  if (key.empty()) throw_input_error("{}: empty key", origin_of(file, key_node));
  if (child.IsMap() && child.size() > 0) {
    merge_node(join_path(prefix, key), child, file);
  } else {
    set(join_path(prefix, key), child, origin_of(file, key_node));
  }
}

void ConfigTree::merge_node(const std::string& prefix, const YAML::Node& node, const std::string& file) {
  if (node.IsMap()) {
    for (const auto& item : node) merge_entry(prefix, item.first, item.second, file);
    return;
  }
  set(prefix, node, origin_of(file, node));
}

void ConfigTree::merge(const ConfigTree& other) {
  for (const auto& [path, value] : other.values_) set(path, value.value, value.origin);
}

const ConfigValue& ConfigTree::at(const std::string& path) const {
  auto it = values_.find(path);
  if (it == values_.end()) throw std::out_of_range("config key not present: " + path);
  return it->second;
}

ConfigTree ConfigTree::subtree(const std::string& prefix) const {
  ConfigTree out;
  const std::string head = prefix + ".";
  for (const auto& [path, value] : values_) {
    if (path.rfind(head, 0) == 0) out.values_[path.substr(head.size())] = value;
  }
  return out;
}

void ConfigTree::erase_prefix(const std::string& prefix) {
  const std::string head = prefix + ".";
  for (auto it = values_.begin(); it != values_.end();) {
    if (it->first == prefix || it->first.rfind(head, 0) == 0) {
      it = values_.erase(it);
    } else {
      ++it;
    }
  }
}

ConfigTree load_config_file(const std::string& path) {
  ConfigTree tree;
  std::vector<fs::path> stack;
  load_recursive(fs::path(path), stack, tree);
  return tree;
}

void apply_override(ConfigTree& tree, const std::string& assignment) {
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) {
    throw_input_error("override '{}' must have the form key.path=value", assignment);
  }
  const std::string key = assignment.substr(0, eq);
  const std::string text = assignment.substr(eq + 1);
  YAML::Node value;
  try {
    value = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw_input_error("override '{}': value is not valid YAML: {}", assignment, e.msg);
  }
  const std::string origin = fmt::format("command line '{}'", assignment);
  if (value.IsMap() && value.size() > 0) {
    ConfigTree sub;
    sub.merge_node(key, value, "command line");
    for (const auto& [path, v] : sub.values()) tree.set(path, v.value, origin);
  } else {
    tree.set(key, value, origin);
  }
}

YAML::Node unflatten(const std::map<std::string, YAML::Node>& values) {
  YAML::Node root(YAML::NodeType::Map);
  for (const auto& [path, value] : values) {
    std::vector<std::string> parts;
    size_t start = 0;
    for (size_t dot = path.find('.'); dot != std::string::npos; dot = path.find('.', start)) {
      parts.push_back(path.substr(start, dot - start));
      start = dot + 1;
    }
    parts.push_back(path.substr(start));
    // yaml-cpp nodes are handles: walk down with fresh handles, not by reassigning one.
    std::vector<YAML::Node> chain{root};
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
      YAML::Node child = chain.back()[parts[i]];
      if (!child.IsMap()) child = YAML::Node(YAML::NodeType::Map);
      chain.back()[parts[i]] = child;
      chain.push_back(chain.back()[parts[i]]);
    }
    chain.back()[parts.back()] = value;
  }
  return root;
}

std::string yaml_inline(const YAML::Node& node) {
  YAML::Emitter out;
  out.SetSeqFormat(YAML::Flow);
  out.SetMapFormat(YAML::Flow);
  out << node;
  return out.c_str();
}

}  // namespace bcfeat
