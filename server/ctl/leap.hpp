#pragma once

#include <string>
#include <vector>

#include "leapdb/time.hpp"

namespace ctl {

struct LeapOptions {
  std::vector<std::string> files;
  bool json = false;
  bool allow_unhashed = false;
  leapdb::UtcTime at{};                       // when "expired" is judged (default: now)
  leapdb::Nanoseconds expiry_warning{0};      // how early "expiring" is reported
};

// Prints each file's table; exits 1 if any file has problems (still printing what it read).
int run_leap_show(const LeapOptions& options);
// Exits 0 when every file is valid, unexpired at `at`, and all agree; else one line per problem.
int run_leap_check(const LeapOptions& options);

}  // namespace ctl
