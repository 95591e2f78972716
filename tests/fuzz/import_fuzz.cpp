// smearctl import's translation: any bytes in, read as each format, errors or a configuration
// that smeard's own parser accepts, never a crash, never both, never neither.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "config/config.hpp"
#include "config/import/import.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text{reinterpret_cast<const char*>(data), size};
  using config::import::Format;
  for (const Format format : {Format::chrony, Format::ntpd, Format::ntpd_rs}) {
    const config::import::Result result = config::import::translate(text, "fuzz.conf", format);
    if (result.yaml.empty() == result.errors.empty()) std::abort();
    for (const config::import::Error& error : result.errors) {
      if (error.message.empty() || error.directive.empty()) std::abort();
    }
    if (!result.yaml.empty() && !config::parse(result.yaml, "fuzz.yaml").problems.empty()) std::abort();
  }
  (void)config::import::guess_format(text);
  return 0;
}
