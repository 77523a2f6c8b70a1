// Typed parameters bound to plain structs: the schema of a config.
//
// A component declares each of its parameters once — key path, field, documentation and
// constraints — and the default is the field's value at declaration. `apply` fills the
// fields from a ConfigTree, rejecting unknown keys (with the closest valid spelling),
// wrong types and out-of-range values, each error naming the key and its file and line.
// `resolved()` writes the exact values back out (config.yaml), and `docs()` feeds the
// config reference.
//
//   ParamSet params;
//   params.add("compression.bits", &options.bits, "bits per value").range(2, 8);
//   params.add("compression.axis", &options.axis, "grouping axis").one_of({"token", "channel"});
//   params.apply(tree);
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "bcfeat/framework/config.h"

namespace bcfeat {

struct ParamDoc {
  std::string path;
  std::string type;
  std::string default_value;  // inline YAML
  std::string doc;
  std::string allowed;        // "a | b | c", "[lo, hi]" or ""
};

class ParamSet {
 public:
  template <class T>
  ParamSet& add(const std::string& path, T* field, const std::string& doc);
  // A key whose value may be a map of any keys (`taps: {1: {method: int}}`) or a plain value:
  // every config key equal to `path` or under `path.` lands in `field`, keyed relative to
  // `path` ("" for the plain value, "1.method" below it), replacing the field's defaults
  // when the config gives any. Its owner validates the contents.
  ParamSet& add_tree(const std::string& path, ConfigTree* field, const std::string& type, const std::string& doc);

  // Constraints on the parameter added last.
  ParamSet& one_of(const std::vector<std::string>& choices);
  ParamSet& range(double low, double high);
  // Excluded from the run's identity hash (output paths and the like).
  ParamSet& not_hashed();

  // Fills the bound fields from `tree`; every key in `tree` must be a declared parameter.
  void apply(const ConfigTree& tree) const;

  std::map<std::string, YAML::Node> resolved_flat(bool hashed_only = false) const;
  YAML::Node resolved() const { return unflatten(resolved_flat()); }
  std::vector<ParamDoc> docs() const;
  std::vector<std::string> paths() const;
  bool has(const std::string& path) const;

 private:
  struct Spec {
    std::string path;
    std::string type;
    std::string doc;
    YAML::Node default_value;
    std::vector<std::string> choices;
    std::optional<double> low, high;
    bool hashed = true;
    ConfigTree* tree = nullptr;  // add_tree
    std::function<void(const YAML::Node&, const std::string& origin, const Spec&)> assign;
    std::function<YAML::Node()> emit;
  };
  std::vector<Spec> specs_;
};

namespace param_detail {
// Parse `node` as T; on failure throw an InputError naming `path`, `origin` and `type`.
template <class T> struct Parse;
template <> struct Parse<int> { static int get(const YAML::Node& node, const std::string& where); static const char* name() { return "integer"; } };
template <> struct Parse<int64_t> { static int64_t get(const YAML::Node& node, const std::string& where); static const char* name() { return "integer"; } };
template <> struct Parse<double> { static double get(const YAML::Node& node, const std::string& where); static const char* name() { return "number"; } };
template <> struct Parse<bool> { static bool get(const YAML::Node& node, const std::string& where); static const char* name() { return "boolean"; } };
template <> struct Parse<std::string> { static std::string get(const YAML::Node& node, const std::string& where); static const char* name() { return "string"; } };
template <class E> struct Parse<std::vector<E>> {
  static std::vector<E> get(const YAML::Node& node, const std::string& where);
  static std::string name() { return std::string("list of ") + Parse<E>::name(); }
};
void check_choice(const std::string& value, const std::vector<std::string>& choices, const std::string& where);
void check_range(double value, std::optional<double> low, std::optional<double> high, const std::string& where);
[[noreturn]] void fail_list(const YAML::Node& node, const std::string& where, const std::string& type);

template <class T> void check_value(const T& value, const std::vector<std::string>& choices,
                                    std::optional<double> low, std::optional<double> high, const std::string& where) {
  if constexpr (std::is_same_v<T, std::string>) {
    check_choice(value, choices, where);
  } else if constexpr (std::is_arithmetic_v<T> && !std::is_same_v<T, bool>) {
    check_range(static_cast<double>(value), low, high, where);
  } else if constexpr (!std::is_same_v<T, bool>) {
    for (const auto& element : value) check_value(element, choices, low, high, where);
  }
}

template <class E>
std::vector<E> Parse<std::vector<E>>::get(const YAML::Node& node, const std::string& where) {
  if (!node.IsSequence()) fail_list(node, where, name());
  std::vector<E> out;
  for (const auto& item : node) out.push_back(Parse<E>::get(item, where));
  return out;
}
}  // namespace param_detail

template <class T>
ParamSet& ParamSet::add(const std::string& path, T* field, const std::string& doc) {
  Spec spec;
  spec.path = path;
  spec.type = param_detail::Parse<T>::name();
  spec.doc = doc;
  spec.default_value = YAML::Node(*field);
  spec.assign = [field](const YAML::Node& node, const std::string& origin, const Spec& self) {
    const std::string where = origin + ": '" + self.path + "'";
    T value = param_detail::Parse<T>::get(node, where);
    param_detail::check_value(value, self.choices, self.low, self.high, where);
    *field = value;
  };
  spec.emit = [field]() { return YAML::Node(*field); };
  specs_.push_back(std::move(spec));
  return *this;
}

}  // namespace bcfeat
