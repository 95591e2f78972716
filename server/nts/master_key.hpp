#pragma once
// The fleet's shared cookie secret as a file: one line of hex digits (at least 64, i.e. 32
// bytes, as `openssl rand -hex 32` prints), blank lines and '#' comments ignored. Pure: the
// text in, the secret or a problem naming the line out.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "server/nts/secret.hpp"

namespace nts {

struct MasterKeyResult {
  Secret secret;        // empty when there is a problem
  std::string problem;  // empty, or what is wrong
  int line = 0;         // where; 0: the file as a whole
};

MasterKeyResult parse_master_key(std::string_view text);

}  // namespace nts
