#pragma once
// The configured keys file, read, parsed and tried with OpenSSL before anything serves from it.

#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "server/ntp/auth.hpp"

namespace app {

struct LoadedKeys {
  std::shared_ptr<const ntp::KeyRing> ring;  // null when there are problems; empty without a keys file
  std::vector<std::string> problems;         // "FILE:LINE:COLUMN: FIELD: MESSAGE"
};

LoadedKeys load_keys(const config::Config& config);

}  // namespace app
