#pragma once
// A deliberately small HTTP/1.1 server for /metrics, /healthz, /readyz and /status: GET only,
// one request per connection, bounded request size and time. The parsing and rendering are
// pure; the server is a thin Asio shell on the control thread's io_context.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>

#include "config/config.hpp"

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

class HttpServer {
 public:
  HttpServer(asio::io_context& io, Handler handler);
  // Returns an error message, empty on success.
  std::string listen(const config::SocketAddress& address);

 private:
  void accept();

  asio::io_context& io_;
  asio::ip::tcp::acceptor acceptor_;
  Handler handler_;
  asio::steady_timer retry_;
  std::shared_ptr<int> sessions_ = std::make_shared<int>(0);  // open connections
};

}  // namespace metrics
