// One target per leap parser, chosen at build time: input bytes straight into the parser.
// The checks that follow hold for any input, so a violation is a crash the fuzzer reports.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "leapdb/parse.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes{reinterpret_cast<const char*>(data), size};
  const leapdb::ParseResult result = SMEARD_FUZZ_PARSER(bytes, "fuzz");
  if (result.ok()) {
    // A table accepted as valid must answer queries consistently.
    const auto& table = result.table;
    for (std::size_t i = 1; i < table.leaps.size(); ++i) {
      if (table.leaps[i].effective <= table.leaps[i - 1].effective) std::abort();
    }
    for (const auto& leap : table.leaps) {
      if (table.tai_utc_at(leap.effective) != leap.tai_utc) std::abort();
      if (table.to_utc(table.to_tai(leap.effective)) != leap.effective) std::abort();
    }
  }
  return 0;
}
