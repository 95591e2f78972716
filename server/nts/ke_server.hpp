#pragma once
// The NTS Key Establishment server (RFC 8915 §4): TLS 1.3 on TCP, one thread polling every
// listener and connection, each connection a short exchange of one request and one response
// carrying the keys the client exported and eight cookies sealing them for the NTP port.

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "server/io/udp_socket.hpp"
#include "server/ntp/rate_limit.hpp"
#include "server/nts/cookie.hpp"

// As OpenSSL declares it, so the header need not include OpenSSL.
struct ssl_ctx_st;
typedef struct ssl_ctx_st SSL_CTX;

namespace nts {

// What one NTS-KE listener hands its clients to: the NTP listener of one timescale.
struct KeEndpoint {
  std::uint32_t timescale_id = 0;     // sealed into every cookie it issues
  std::string server;                 // NTPv4 Server record; empty: none sent
  std::optional<std::uint16_t> port;  // NTPv4 Port record; none: not sent
};

// Immutable; the control thread builds a new one on start, on SIGHUP (a new certificate) and at
// each cookie-key rotation, and publishes it.
struct KeState {
  std::shared_ptr<SSL_CTX> tls;
  nts::CookieKey cookie_key;             // the current period's: seals every cookie issued
  std::vector<KeEndpoint> endpoints;     // by KE listener index
};

// A PEM certificate chain (leaf first) and its private key as a TLS 1.3-only server context that
// insists on ALPN "ntske/1": a client offering no ALPN, or not that protocol, gets the
// no_application_protocol alert. On failure returns null and says why, naming the file.
struct TlsLoadProblem {
  bool private_key = false;  // the key file is at fault (or does not match), not the certificate
  std::string message;
};
std::shared_ptr<SSL_CTX> load_tls_context(const std::string& certificate_file, const std::string& private_key_file,
                                          TlsLoadProblem& problem);

// The leaf certificate's validity, so an operator is warned before clients refuse it.
struct CertificateValidity {
  leapdb::UtcTime not_before{};
  leapdb::UtcTime not_after{};
};
std::optional<CertificateValidity> certificate_validity(SSL_CTX* tls);

// What the KE listeners of `nts` hand out: `tls`, `cookie_key` to seal with, and each listener's
// timescale, Server and Port records.
std::shared_ptr<const KeState> ke_state(const config::Nts& nts, std::shared_ptr<SSL_CTX> tls,
                                        const CookieKey& cookie_key);

struct KeLimits {
  std::size_t max_connections = 256;                  // concurrent; beyond: accepted and closed at once
  std::chrono::milliseconds handshake_timeout{5000};  // the whole exchange: handshake, request, response
  // Per client address (IPv4, or IPv6 /64) token bucket: `burst` sessions, then one every `interval`.
  std::chrono::milliseconds rate_interval{1000};
  unsigned rate_burst = 16;
  std::size_t rate_table_size = 4096;  // addresses remembered (rounded up to a power of two)
};

enum class KeOutcome : std::uint8_t { ok, tls_failed, bad_request, timeout, rate_limited, overloaded, internal_error };
inline constexpr std::size_t kKeOutcomeCount = 7;
std::string_view to_string(KeOutcome outcome);

// Written only by the server thread (relaxed load + store), read by the control thread.
struct KeCounters {
  std::array<std::atomic<std::uint64_t>, kKeOutcomeCount> sessions{};  // by KeOutcome
  std::atomic<std::uint64_t> cookies_issued{0};
  std::atomic<std::uint64_t> open_connections{0};
};

// A listening TCP socket: SO_REUSEADDR, IPV6_V6ONLY for IPv6, non-blocking, backlog 128. On
// failure no fd, and `error` says why.
io::UniqueFd open_ke_socket(const config::SocketAddress& address, std::string& error);

class KeServer {
 public:
  // `listeners[i]` serves endpoint i of whatever state is published.
  KeServer(std::vector<io::UniqueFd> listeners, KeLimits limits, std::shared_ptr<const KeState> initial);
  KeServer(const KeServer&) = delete;
  KeServer& operator=(const KeServer&) = delete;
  ~KeServer();

  // Any thread; sessions accepted afterwards use it, those under way keep theirs.
  void publish(std::shared_ptr<const KeState> state);
  // Thread body; returns after request_stop(), dropping the sessions under way. Never throws.
  void run();
  // Any thread: wakes run() so it returns promptly.
  void request_stop();

  const KeCounters& counters() const { return counters_; }

 private:
  struct Connection;
  void iterate();
  void accept_from(std::size_t listener, std::chrono::steady_clock::time_point now);
  void advance(Connection& connection);
  void settle(Connection& connection, KeOutcome outcome);  // counts a session once

  std::vector<io::UniqueFd> listeners_;
  KeLimits limits_;
  std::mutex state_mutex_;
  std::shared_ptr<const KeState> state_;
  io::UniqueFd wake_;  // an eventfd
  std::atomic<bool> stopping_{false};
  ntp::RateTable rates_;  // per client address (IPv4, or IPv6 /64)
  std::vector<std::unique_ptr<Connection>> connections_;
  std::chrono::steady_clock::time_point accept_paused_until_{};
  KeCounters counters_;
};

}  // namespace nts
