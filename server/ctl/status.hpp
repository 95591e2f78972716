#pragma once

#include <cstddef>
#include <optional>
#include <string>

namespace ctl {

// Fetches URL/status from a running smeard and prints a chronyc-tracking-like overview (or the
// JSON itself); returns the exit status: 0 ready, 1 unreachable, 3 reachable but not ready.
int run_status(const std::string& url, bool json);

struct ClientsOptions {
  std::string url = "http://127.0.0.1:9466";
  std::size_t top = 10;                  // 1 to kMaxClientsShown
  std::optional<std::string> timescale;  // unset: every timescale
  bool json = false;
};
// What /status carries per timescale, so the most --top can show.
inline constexpr std::size_t kMaxClientsShown = 100;

// Fetches URL/status and prints each timescale's heaviest client addresses (requests, KoD,
// rate-limited, last seen), or them as JSON; returns 0, or 1 when unreachable or no such
// timescale.
int run_clients(const ClientsOptions& options);

// GET URL/healthz (or /readyz) for a container's health check: prints the body, returns 0 on
// 200 and 1 otherwise, so no HTTP client has to ship beside smeard.
int run_health(const std::string& url, bool ready);

}  // namespace ctl
