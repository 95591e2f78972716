// The keys file parser: any text in; accepted keys are well-formed and every problem says where.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "server/ntp/keys.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text{reinterpret_cast<const char*>(data), size};
  const ntp::KeysResult result = ntp::parse_keys(text);
  if (!result.problems.empty() && !result.keys.empty()) std::abort();
  for (const ntp::KeyProblem& problem : result.problems) {
    if (problem.line == 0 || problem.column == 0 || problem.field.empty() || problem.message.empty()) std::abort();
  }
  for (std::size_t i = 0; i < result.keys.size(); ++i) {
    const ntp::SymmetricKey& key = result.keys[i];
    if (key.id == 0 || key.secret.empty() || key.line == 0) std::abort();
    if (i > 0 && result.keys[i - 1].id >= key.id) std::abort();
    if (ntp::is_cmac(key.algorithm) && key.secret.size() != 16 && key.secret.size() != 32) std::abort();
  }
  return 0;
}
