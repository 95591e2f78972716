#pragma once
// NTS key establishment as a client (RFC 8915 section 4): TLS 1.3 to the server's KE port with
// ALPN "ntske/1", its certificate verified against the configured name and CAs, our request
// sent, its records read, and the session keys exported from TLS. Blocking, with one deadline
// for the whole exchange: callers run it off the control thread.

#include <sys/socket.h>

#include <chrono>
#include <optional>
#include <string>

#include "server/nts/client.hpp"

namespace nts {

struct KeClientOptions {
  std::string host;                    // what the certificate must name (a DNS name or an address)
  sockaddr_storage address{};          // where to connect, the KE port included
  socklen_t address_length = 0;
  std::optional<std::string> ca_file;  // PEM; none: the system's trusted CAs
  std::chrono::milliseconds timeout{5000};
  std::uint16_t default_ntp_port = 123;  // when the server names no port
};

struct KeClientOutcome {
  std::optional<ClientSession> session;  // with its cookies, the NTP server and port it named
  std::string error;                     // else why not, for the log
};

KeClientOutcome establish_session(const KeClientOptions& options);

// Empty when `path` is a PEM file of CA certificates TLS can load, else what is wrong with it.
std::string ca_file_problem(const std::string& path);

}  // namespace nts
