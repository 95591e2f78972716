#pragma once

#include <string>

namespace ctl {

// Fetches URL/status from a running smeard and prints a chronyc-tracking-like overview (or the
// JSON itself); returns the exit status: 0 ready, 1 unreachable, 3 reachable but not ready.
int run_status(const std::string& url, bool json);

// GET URL/healthz (or /readyz) for a container's health check: prints the body, returns 0 on
// 200 and 1 otherwise, so no HTTP client has to ship beside smeard.
int run_health(const std::string& url, bool ready);

}  // namespace ctl
