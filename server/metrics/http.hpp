#pragma once
// A deliberately small HTTP/1.1 server for /metrics, /healthz, /readyz and /status: GET only,
// one request per connection, bounded request size and time, bounded sessions (per peer address
// too), and only for the networks allowed. The parsing, rendering and session guard are pure;
// the server is a thin Asio shell on the control thread's io_context.

#include <array>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "server/metrics/status.hpp"
#include "server/ntp/snapshot.hpp"

namespace metrics {

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

struct RequestLine {
  std::string method;
  std::string path;  // without the query string
};

// The request line of `head` (everything up to the blank line), or nothing if malformed.
std::optional<RequestLine> parse_request_line(std::string_view head);
std::string render(const HttpResponse& response);

using Handler = std::function<HttpResponse(std::string_view path)>;

// Who may hold the endpoint's sessions: peers in the allowed networks (none listed: everyone),
// each at most `per_address` at once, all together at most `total`. Pure; memory is bounded by
// `total`.
class SessionGuard {
 public:
  using Address = std::array<std::uint8_t, 16>;  // IPv4 as ::ffff:a.b.c.d
  SessionGuard(std::vector<ntp::Network> allow, unsigned per_address, unsigned total);

  // True: a session is opened for `peer`, to be closed by release(); false: refused and counted.
  bool admit(const Address& peer);
  void release(const Address& peer);
  unsigned open() const { return open_; }
  const EndpointRefusals& refusals() const { return refusals_; }

 private:
  std::vector<ntp::Network> allow_;
  unsigned per_address_;
  unsigned total_;
  unsigned open_ = 0;
  std::map<Address, unsigned> by_address_;  // peers with a session open
  EndpointRefusals refusals_;
};

// The most sessions the endpoint holds at once: scrapers and probes need a handful.
inline constexpr unsigned kMaxSessions = 32;

class HttpServer {
 public:
  HttpServer(asio::io_context& io, Handler handler);
  // Returns an error message, empty on success. `allow` and `per_address` as SessionGuard's.
  std::string listen(const config::SocketAddress& address, std::vector<ntp::Network> allow = {},
                     unsigned per_address = kMaxSessions);
  EndpointRefusals refusals() const { return guard_->refusals(); }

 private:
  void accept();

  asio::io_context& io_;
  asio::ip::tcp::acceptor acceptor_;
  Handler handler_;
  asio::steady_timer retry_;
  // Shared with the sessions, which may outlive the server by a moment at shutdown.
  std::shared_ptr<SessionGuard> guard_;
};

}  // namespace metrics
