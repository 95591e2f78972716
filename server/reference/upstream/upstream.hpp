#pragma once
// Upstream NTP servers serving true UTC as the reference: one connected, non-blocking UDP
// socket per association (a server's one address, or one of a pool's) with kernel receive
// timestamps, fed to the Ensemble (ensemble.hpp) at each control tick; names resolved on a
// background thread and again as resolution.hpp says; the frequency kept in a drift file so that
// a restart locks at once.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "server/reference/source.hpp"
#include "server/reference/upstream/address.hpp"
#include "server/reference/upstream/authentication.hpp"

namespace reference {

// One configured entry: a server (one association) or a pool (up to max_sources).
struct UpstreamEntry {
  enum class Kind : std::uint8_t { server, pool };
  Kind kind = Kind::server;
  std::string host;
  std::uint16_t port = 123;
  std::string text;             // as configured: "ntp1.example.net", "192.0.2.1:123"
  std::size_t max_sources = 1;  // a pool's associations
  // How its exchanges are authenticated (see `authentication` below).
  std::optional<std::uint32_t> key;  // a symmetric key of the keys file
  bool nts = false;
  std::uint16_t nts_port = 4460;
  std::optional<std::string> nts_ca;  // unset: the system's CAs
};

// Makes one association's authentication from its entry and address; null: unauthenticated.
using AuthenticationFactory =
    std::function<std::unique_ptr<upstream::Authentication>(const UpstreamEntry&, const upstream::Address&)>;

struct UpstreamOptions {
  std::vector<UpstreamEntry> servers;
  std::size_t minsources = 1;
  std::optional<std::string> drift_file;
  leapdb::Nanoseconds poll = std::chrono::seconds{16};
  std::int8_t precision = -20;
  std::optional<std::string> nts_dump_dir;  // where NTS cookies are kept across restarts
  AuthenticationFactory authentication;     // unset: no association is authenticated
};

// Opens the sockets of numeric addresses now and starts resolving names in the background (a
// name that does not resolve yet is retried, its association vacant meanwhile); null and `error`
// naming the server when a socket cannot be opened.
std::unique_ptr<Source> make_upstream_source(const UpstreamOptions& options, std::string& error);

// What replies name an upstream server by: upstream::reference_id() of a socket address.
std::uint32_t upstream_reference_id(const void* sockaddr, std::size_t length);

}  // namespace reference
