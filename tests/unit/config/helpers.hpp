#pragma once
// What the config tests share: the parse every test reads its text with, and the smallest valid
// listeners and timescales to put in front of the section a test is about.

#include <doctest/doctest.h>

#include <string>

#include "config/config.hpp"

namespace config_test {

inline config::ParseResult parse(const std::string& text) { return config::parse(text, "smeard.yaml"); }

// The one problem a configuration has, as the operator would read it.
inline std::string only_problem(const std::string& text) {
  const auto result = parse(text);
  CHECK_FALSE(result.config.has_value());
  REQUIRE(result.problems.size() == 1);
  return result.problems.front().to_string();
}

inline const std::string kTimescales = "timescales:\n  utc:\n    smear: none\n";
inline const std::string kListener = "listeners:\n  - address: \"127.0.0.1:123\"\n    timescale: utc\n";

}  // namespace config_test
