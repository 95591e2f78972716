#pragma once
// Upstream NTP servers serving true UTC as the reference: one connected, non-blocking UDP
// socket per server with kernel receive timestamps, fed to the Ensemble (ensemble.hpp) at
// each control tick; the frequency kept in a drift file so that a restart locks at once.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "server/reference/source.hpp"

namespace reference {

struct UpstreamServerName {
  std::string host;
  std::uint16_t port = 123;
  std::string text;  // as configured
};

struct UpstreamOptions {
  std::vector<UpstreamServerName> servers;
  std::size_t minsources = 1;
  std::optional<std::string> drift_file;
  leapdb::Nanoseconds poll = std::chrono::seconds{16};
  std::int8_t precision = -20;
};

// Resolves every server (once, here: a name that moves needs a restart) and opens its socket;
// null and `error` naming the server when one cannot be.
std::unique_ptr<Source> make_upstream_source(const UpstreamOptions& options, std::string& error);

// What replies name an upstream server by: its IPv4 address, or for IPv6 the first four bytes
// of a hash of the address (RFC 5905 asks for MD5; any stable hash does the loop detection).
std::uint32_t upstream_reference_id(const void* sockaddr, std::size_t length);

}  // namespace reference
