#include "bcfeat/framework/params.h"

#include <cmath>
#include <set>

#include "bcfeat/framework/error.h"

namespace bcfeat {

namespace param_detail {

namespace {
std::string describe(const YAML::Node& node) {
  if (!node.IsDefined() || node.IsNull()) return "nothing";
  if (node.IsSequence()) return "a list";
  if (node.IsMap()) return "a map";
  return "'" + node.Scalar() + "'";
}

[[noreturn]] void fail_type(const YAML::Node& node, const std::string& where, const std::string& type) {
  throw_input_error("{} must be {} {}, got {}", where, (type[0] == 'i' ? "an" : "a"), type, describe(node));
}
}  // namespace

void fail_list(const YAML::Node& node, const std::string& where, const std::string& type) { fail_type(node, where, type); }

int64_t Parse<int64_t>::get(const YAML::Node& node, const std::string& where) {
  if (!node.IsScalar()) fail_type(node, where, name());
  try {
    return node.as<int64_t>();
  } catch (const YAML::Exception&) {
    fail_type(node, where, name());
  }
}

int Parse<int>::get(const YAML::Node& node, const std::string& where) {
  const int64_t value = Parse<int64_t>::get(node, where);
  if (value < INT32_MIN || value > INT32_MAX) throw_input_error("{} = {} does not fit a 32-bit integer", where, value);
  return static_cast<int>(value);
}

double Parse<double>::get(const YAML::Node& node, const std::string& where) {
  if (!node.IsScalar()) fail_type(node, where, name());
  try {
    const double value = node.as<double>();
    if (!std::isfinite(value)) throw_input_error("{} must be a finite number, got '{}'", where, node.Scalar());
    return value;
  } catch (const YAML::Exception&) {
    fail_type(node, where, name());
  }
}

bool Parse<bool>::get(const YAML::Node& node, const std::string& where) {
  if (!node.IsScalar()) fail_type(node, where, name());
  try {
    return node.as<bool>();
  } catch (const YAML::Exception&) {
    fail_type(node, where, name());
  }
}

std::string Parse<std::string>::get(const YAML::Node& node, const std::string& where) {
  if (node.IsNull()) return std::string();
  if (!node.IsScalar()) fail_type(node, where, name());
  return node.Scalar();
}

void check_choice(const std::string& value, const std::vector<std::string>& choices, const std::string& where) {
  if (choices.empty()) return;
  for (const auto& choice : choices) {
    if (value == choice) return;
  }
  throw_input_error("{} has unknown value '{}'{}; valid: {}", where, value, did_you_mean(value, choices), join(choices));
}

void check_range(double value, std::optional<double> low, std::optional<double> high, const std::string& where) {
  if ((low && value < *low) || (high && value > *high)) {
    throw_input_error("{} = {} is out of range [{}, {}]", where, value, low ? fmt::format("{}", *low) : "-inf",
                      high ? fmt::format("{}", *high) : "inf");
  }
}

}  // namespace param_detail

ParamSet& ParamSet::one_of(const std::vector<std::string>& choices) {
  specs_.back().choices = choices;
  return *this;
}

ParamSet& ParamSet::range(double low, double high) {
  specs_.back().low = low;
  specs_.back().high = high;
  return *this;
}

ParamSet& ParamSet::not_hashed() {
  specs_.back().hashed = false;
  return *this;
}

bool ParamSet::has(const std::string& path) const {
  for (const auto& spec : specs_) {
    if (spec.path == path) return true;
  }
  return false;
}

std::vector<std::string> ParamSet::paths() const {
  std::vector<std::string> out;
  for (const auto& spec : specs_) out.push_back(spec.path);
  return out;
}

ParamSet& ParamSet::add_tree(const std::string& path, ConfigTree* field, const std::string& type,
                             const std::string& doc) {
  Spec spec;
  spec.path = path;
  spec.type = type;
  spec.doc = doc;
  spec.tree = field;
  spec.default_value = field->contains("") ? field->at("").value : YAML::Node();
  specs_.push_back(std::move(spec));
  return *this;
}

void ParamSet::apply(const ConfigTree& tree) const {
  // Tree keys first: the config's keys under them replace their defaults as a whole.
  for (const auto& spec : specs_) {
    if (!spec.tree) continue;
    ConfigTree given;
    for (const auto& [path, value] : tree.values()) {
      if (path == spec.path) given.set("", value.value, value.origin);
      if (path.rfind(spec.path + ".", 0) == 0) given.set(path.substr(spec.path.size() + 1), value.value, value.origin);
    }
    if (!given.values().empty()) *spec.tree = given;
  }
  for (const auto& [path, value] : tree.values()) {
    const Spec* match = nullptr;
    for (const auto& spec : specs_) {
      if (spec.tree && (path == spec.path || path.rfind(spec.path + ".", 0) == 0)) match = &spec;
      if (!spec.tree && spec.path == path) match = &spec;
    }
    if (match && match->tree) continue;
    if (match) {
      match->assign(value.value, value.origin, *match);
      continue;
    }
    // A group name given a value ("compression: 3") or a key that does not exist.
    std::vector<std::string> children;
    for (const auto& spec : specs_) {
      if (spec.path.rfind(path + ".", 0) == 0) children.push_back(spec.path);
    }
    if (!children.empty()) {
      throw_input_error("{}: '{}' is a group of keys ({}), not a value", value.origin, path, join(children));
    }
    throw_input_error("{}: unknown key '{}'{}", value.origin, path, did_you_mean(path, paths()));
  }
}

std::map<std::string, YAML::Node> ParamSet::resolved_flat(bool hashed_only) const {
  std::map<std::string, YAML::Node> out;
  for (const auto& spec : specs_) {
    if (hashed_only && !spec.hashed) continue;
    if (spec.tree) {
      for (const auto& [key, value] : spec.tree->values()) out[key.empty() ? spec.path : spec.path + "." + key] = value.value;
      continue;
    }
    out[spec.path] = spec.emit();
  }
  return out;
}

std::vector<ParamDoc> ParamSet::docs() const {
  std::vector<ParamDoc> out;
  for (const auto& spec : specs_) {
    std::string allowed;
    if (!spec.choices.empty()) allowed = join(spec.choices, ", ");
    if (spec.low || spec.high) allowed = fmt::format("[{}, {}]", spec.low ? fmt::format("{}", *spec.low) : "-inf",
                                                     spec.high ? fmt::format("{}", *spec.high) : "inf");
    // Numbers in their shortest round-trip form (0.05, not YAML's 0.050000000000000003).
    const std::string shown =
        spec.type == "number" ? fmt::format("{}", spec.default_value.as<double>()) : yaml_inline(spec.default_value);
    out.push_back({spec.path, spec.type, shown, spec.doc, allowed});
  }
  return out;
}

}  // namespace bcfeat
