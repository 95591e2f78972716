#pragma once
// What the import tests share: translating, and reading the result back as smeard would.

#include <doctest/doctest.h>

#include <string>
#include <string_view>

#include "config/config.hpp"
#include "config/import/import.hpp"

namespace import_test {

// The configuration smeard reads from the translation of `text`, which must have no errors.
inline config::Config accepted(std::string_view text, config::import::Format format, std::string* yaml = nullptr,
                               std::string_view file = "in.conf") {
  const config::import::Result result = config::import::translate(text, file, format);
  const std::string errors = result.errors.empty() ? "" : result.errors.front().to_string(file);
  REQUIRE_MESSAGE(result.errors.empty(), errors);
  if (yaml != nullptr) *yaml = result.yaml;
  config::ParseResult parsed = config::parse(result.yaml, "out.yaml");
  const std::string problems = parsed.problems.empty() ? "" : parsed.problems.front().to_string() + "\n" + result.yaml;
  REQUIRE_MESSAGE(parsed.problems.empty(), problems);
  return std::move(*parsed.config);
}

// The one error translating `text` gives, as "FILE:LINE: DIRECTIVE: MESSAGE".
inline std::string only_error(std::string_view text, config::import::Format format) {
  const config::import::Result result = config::import::translate(text, "in.conf", format);
  REQUIRE(result.errors.size() == 1);
  CHECK(result.yaml.empty());
  return result.errors.front().to_string("in.conf");
}

inline bool contains(std::string_view yaml, std::string_view text) { return yaml.find(text) != std::string_view::npos; }

}  // namespace import_test
