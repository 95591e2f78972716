#pragma once
// One upstream association's NTS (RFC 8915): key establishment on a background thread whenever
// there is no session, it has run out of cookies or the server NAKed; each request spends a
// cookie and each authentic reply brings new ones; the session kept in a file across restarts
// (as chrony's ntsdumpdir), read once and removed, so a crash never replays its cookies.

#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <string>

#include "server/nts/client.hpp"
#include "server/reference/upstream/address.hpp"
#include "server/reference/upstream/authentication.hpp"

namespace nts {

struct UpstreamNtsOptions {
  std::string host;                         // as configured: what the certificate must name
  reference::upstream::Address ke_address;  // the association's address, at the KE port
  std::uint16_t ntp_port = 123;             // where NTP goes when the server names no port
  std::optional<std::string> ca_file;       // none: the system's CAs
  std::optional<std::string> dump_file;     // where the session is kept across restarts
  std::chrono::milliseconds timeout{5000};
};

// The session file for one association in `directory`: named by its address and KE port, as a
// pool's addresses are different servers with different cookies.
std::string session_file(const std::string& directory, const reference::upstream::Address& ke_address);

std::unique_ptr<reference::upstream::Authentication> make_upstream_nts(UpstreamNtsOptions options);

}  // namespace nts
