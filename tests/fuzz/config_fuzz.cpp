// The configuration parser: any bytes in, a Config or problems that each say where, never a
// crash, and never both.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "config/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text{reinterpret_cast<const char*>(data), size};
  const config::ParseResult result = config::parse(text, "fuzz.yaml");
  if (result.config.has_value() != result.problems.empty()) std::abort();
  for (const config::Problem& problem : result.problems) {
    if (problem.message.empty() || problem.to_string().find("fuzz.yaml") == std::string::npos) std::abort();
  }
  return 0;
}
