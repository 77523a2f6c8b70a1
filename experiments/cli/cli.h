// Helpers shared by the `bcfeat` subcommands: argument parsing and report tables.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bcfeat/framework/error.h"

namespace bcfeat {

// Arguments of one subcommand: positionals in order, `--name value` options, `--flag`s.
// Every option and flag must be consumed before `finish()`, which rejects leftovers.
class Args {
 public:
  Args(std::vector<std::string> arguments, std::string command);
  bool has_positional() const;
  std::string positional(const std::string& name);
  std::string option(const std::string& name, const std::string& fallback);
  int int_option(const std::string& name, int fallback, int low, int high);
  bool flag(const std::string& name);
  void finish() const;

 private:
  std::vector<std::string> arguments_;
  std::vector<bool> used_;
  std::string command_;
};

// parse(), with a std::invalid_argument it throws (a parser's "unknown name") turned into an
// InputError, its message prefixed by `what` (an option name; empty: no prefix).
template <class Parse>
auto parse_input(const std::string& what, Parse&& parse) -> decltype(parse()) {
  try {
    return parse();
  } catch (const std::invalid_argument& e) {
    throw_input_error("{}{}", what.empty() ? std::string() : what + ": ", e.what());
  }
}

// "a,b,,c" -> {"a", "b", "c"}; "" -> {}.
std::vector<std::string> split_list(const std::string& text, char separator = ',');

// A Markdown or CSV table of summary rows. Empty `columns`: swept values, status and the
// headline metrics present (bits_per_value, compression_ratio, psnr_db, ...).
std::string format_report(const nlohmann::ordered_json& rows, const std::vector<std::string>& columns,
                          const std::string& format);

// A benchmark's JSON to `output` (atomically; "wrote FILE" on stderr) or to stdout when empty.
void write_report(const nlohmann::ordered_json& report, const std::string& output);

// Subcommands defined in their own files.
int command_codec(Args& args);
int command_dataset(Args& args);
int command_bench(Args& args);
int command_probe(Args& args);
int command_cache(Args& args);
int command_extract(Args& args);

}  // namespace bcfeat
