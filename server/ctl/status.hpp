#pragma once

#include <string>

namespace ctl {

// Fetches URL/status from a running smeard and prints a chronyc-tracking-like overview (or the
// JSON itself); returns the exit status: 0 ready, 1 unreachable, 3 reachable but not ready.
int run_status(const std::string& url, bool json);

}  // namespace ctl
