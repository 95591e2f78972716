#include "server/metrics/http.hpp"

#include <array>
#include <asio/read_until.hpp>
#include <asio/steady_timer.hpp>
#include <asio/streambuf.hpp>
#include <asio/write.hpp>

namespace metrics {
namespace {

constexpr std::size_t kMaxRequestBytes = 8192;

std::string_view reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
  }
  return "Error";
}

class Session : public std::enable_shared_from_this<Session> {
 public:
  // `peer` was admitted by `guard`; the session releases it when it ends.
  Session(asio::ip::tcp::socket socket, const Handler& handler, std::shared_ptr<SessionGuard> guard,
          const SessionGuard::Address& peer)
      : socket_(std::move(socket)),
        timer_(socket_.get_executor()),
        handler_(handler),
        buffer_(kMaxRequestBytes),
        guard_(std::move(guard)),
        peer_(peer) {}
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  ~Session() { guard_->release(peer_); }

  void start() {
    auto self = shared_from_this();
    // A client that does not finish its request in time is disconnected.
    timer_.expires_after(std::chrono::seconds{5});
    timer_.async_wait([self](const std::error_code& error) {
      std::error_code ignored;
      if (!error) self->socket_.close(ignored);
    });
    asio::async_read_until(socket_, buffer_, "\r\n\r\n", [self](const std::error_code& error, std::size_t length) {
      if (error) return self->respond({400, "text/plain; charset=utf-8", "bad request\n"});
      const std::string head{asio::buffers_begin(self->buffer_.data()),
                             asio::buffers_begin(self->buffer_.data()) + static_cast<std::ptrdiff_t>(length)};
      const auto line = parse_request_line(head);
      if (!line) return self->respond({400, "text/plain; charset=utf-8", "bad request\n"});
      if (line->method != "GET") return self->respond({405, "text/plain; charset=utf-8", "GET only\n"});
      try {
        self->respond(self->handler_(line->path));
      } catch (const std::exception& failure) {
        self->respond({500, "text/plain; charset=utf-8", std::string{"internal error: "} + failure.what() + "\n"});
      }
    });
  }

 private:
  void respond(const HttpResponse& response) {
    auto self = shared_from_this();
    reply_ = render(response);
    asio::async_write(socket_, asio::buffer(reply_), [self](const std::error_code&, std::size_t) {
      std::error_code ignored;
      self->socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
      self->socket_.close(ignored);
      self->timer_.cancel();
    });
  }

  asio::ip::tcp::socket socket_;
  asio::steady_timer timer_;
  const Handler& handler_;
  asio::streambuf buffer_;
  std::string reply_;
  std::shared_ptr<SessionGuard> guard_;
  SessionGuard::Address peer_;
};

SessionGuard::Address address_of(const asio::ip::address& address) {
  SessionGuard::Address out{};
  if (address.is_v4()) {
    out[10] = 0xff;
    out[11] = 0xff;
    const auto bytes = address.to_v4().to_bytes();
    std::copy(bytes.begin(), bytes.end(), out.begin() + 12);
  } else {
    const auto bytes = address.to_v6().to_bytes();
    std::copy(bytes.begin(), bytes.end(), out.begin());
  }
  return out;
}

}  // namespace

SessionGuard::SessionGuard(std::vector<ntp::Network> allow, unsigned per_address, unsigned total)
    : allow_(std::move(allow)), per_address_(per_address), total_(total) {}

bool SessionGuard::admit(const Address& peer) {
  if (!allow_.empty() && !ntp::in_any(allow_, peer)) {
    ++refusals_.not_allowed;
    return false;
  }
  if (open_ >= total_) {
    ++refusals_.sessions;
    return false;
  }
  const auto found = by_address_.find(peer);
  if (found != by_address_.end() && found->second >= per_address_) {
    ++refusals_.per_address;
    return false;
  }
  ++open_;
  ++by_address_[peer];
  return true;
}

void SessionGuard::release(const Address& peer) {
  const auto found = by_address_.find(peer);
  if (found == by_address_.end()) return;
  --open_;
  if (--found->second == 0) by_address_.erase(found);
}

std::optional<RequestLine> parse_request_line(std::string_view head) {
  const std::size_t end = head.find("\r\n");
  const std::string_view line = head.substr(0, end);
  const std::size_t first = line.find(' ');
  if (first == std::string_view::npos || first == 0) return std::nullopt;
  const std::size_t second = line.find(' ', first + 1);
  if (second == std::string_view::npos || second == first + 1) return std::nullopt;
  if (!line.substr(second + 1).starts_with("HTTP/1.")) return std::nullopt;
  std::string_view target = line.substr(first + 1, second - first - 1);
  if (!target.starts_with('/')) return std::nullopt;
  target = target.substr(0, target.find('?'));
  return RequestLine{std::string{line.substr(0, first)}, std::string{target}};
}

std::string render(const HttpResponse& response) {
  std::string out = "HTTP/1.1 " + std::to_string(response.status) + " " + std::string{reason(response.status)} + "\r\n";
  out += "Content-Type: " + response.content_type + "\r\n";
  out += "Content-Length: " + std::to_string(response.body.size()) + "\r\n";
  out += "Connection: close\r\n\r\n";
  return out + response.body;
}

HttpServer::HttpServer(asio::io_context& io, Handler handler)
    : io_(io),
      acceptor_(io),
      handler_(std::move(handler)),
      retry_(io),
      guard_(std::make_shared<SessionGuard>(std::vector<ntp::Network>{}, kMaxSessions, kMaxSessions)) {}

std::string HttpServer::listen(const config::SocketAddress& address, std::vector<ntp::Network> allow,
                               unsigned per_address) {
  guard_ = std::make_shared<SessionGuard>(std::move(allow), per_address, kMaxSessions);
  asio::ip::address ip;
  if (address.family == config::SocketAddress::Family::ipv4) {
    asio::ip::address_v4::bytes_type bytes{};
    std::copy_n(address.bytes.begin(), 4, bytes.begin());
    ip = asio::ip::address_v4{bytes};
  } else {
    asio::ip::address_v6::bytes_type bytes{};
    std::copy_n(address.bytes.begin(), 16, bytes.begin());
    ip = asio::ip::address_v6{bytes};
  }
  const asio::ip::tcp::endpoint endpoint{ip, address.port};
  std::error_code error;
  acceptor_.open(endpoint.protocol(), error);
  if (!error) acceptor_.set_option(asio::ip::tcp::acceptor::reuse_address(true), error);
  if (!error) acceptor_.bind(endpoint, error);
  if (!error) acceptor_.listen(asio::socket_base::max_listen_connections, error);
  if (error) return error.message();
  accept();
  return {};
}

void HttpServer::accept() {
  acceptor_.async_accept([this](const std::error_code& error, asio::ip::tcp::socket socket) {
    if (error == asio::error::operation_aborted) return;
    if (error) {
      // Out of file descriptors, say: wait a little instead of spinning on the error.
      retry_.expires_after(std::chrono::milliseconds{100});
      retry_.async_wait([this](const std::error_code& cancelled) {
        if (!cancelled) accept();
      });
      return;
    }
    // Refused: closed at once, before a byte is read (the socket goes out of scope).
    std::error_code unknown;
    const asio::ip::tcp::endpoint peer = socket.remote_endpoint(unknown);
    if (!unknown) {
      const SessionGuard::Address address = address_of(peer.address());
      if (guard_->admit(address)) std::make_shared<Session>(std::move(socket), handler_, guard_, address)->start();
    }
    accept();
  });
}

}  // namespace metrics
