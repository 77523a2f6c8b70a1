// Catch2 2.x (Debian 12) and 3.x (GPU machines) behind one include.
#pragma once

#if __has_include(<catch2/catch_test_macros.hpp>)
#include <catch2/catch_approx.hpp>
#include <catch2/catch_test_macros.hpp>
#include <catch2/generators/catch_generators.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>
using Catch::Approx;
#else
#include <catch2/catch.hpp>
#endif

// Matcher "the exception message contains `part`" under both Catch2 versions.
#if __has_include(<catch2/catch_test_macros.hpp>)
inline auto message_contains(const std::string& part) { return Catch::Matchers::ContainsSubstring(part); }
#else
inline auto message_contains(const std::string& part) { return Catch::Matchers::Contains(part); }
#endif
