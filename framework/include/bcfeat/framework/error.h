// Errors that cross the user boundary.
//
// `InputError` means the user gave bcfeat something it cannot use (a bad config key, a
// missing file, a tensor of the wrong shape, a NaN). Its message is one line that names
// the problem; the CLI prints it and exits with code 2. Anything else thrown inside a run
// is a run failure (exit code 1 for the sweep). Internal invariants use assert().
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>  // fmt::join (moved there in fmt 11)

namespace bcfeat {

class InputError : public std::runtime_error {
 public:
  explicit InputError(const std::string& message) : std::runtime_error(message) {}
};

template <class... Args>
[[noreturn]] void throw_input_error(fmt::format_string<Args...> format, Args&&... args) {
  throw InputError(fmt::format(format, std::forward<Args>(args)...));
}

// Levenshtein distance, for "did you mean" suggestions.
int edit_distance(const std::string& a, const std::string& b);

// The candidate closest to `word`, or "" when none is plausibly a misspelling.
std::string closest_match(const std::string& word, const std::vector<std::string>& candidates);

// " (did you mean 'x'?)" or "" — ready to append to a message.
std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates);

// "a, b, c"
std::string join(const std::vector<std::string>& items, const std::string& separator = ", ");

}  // namespace bcfeat
