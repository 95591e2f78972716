#include "server/metrics/http.hpp"

#include <doctest/doctest.h>

TEST_CASE("request lines") {
  const auto get = metrics::parse_request_line("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  REQUIRE(get.has_value());
  CHECK(get->method == "GET");
  CHECK(get->path == "/metrics");
  CHECK(metrics::parse_request_line("GET /readyz?verbose=1 HTTP/1.0\r\n\r\n")->path == "/readyz");
  CHECK(metrics::parse_request_line("POST /status HTTP/1.1\r\n\r\n")->method == "POST");
  for (const char* bad : {"", "GET\r\n\r\n", "GET /metrics\r\n\r\n", "GET metrics HTTP/1.1\r\n", " /x HTTP/1.1\r\n",
                          "GET  HTTP/1.1\r\n", "GET /x SMTP\r\n"}) {
    CAPTURE(bad);
    CHECK_FALSE(metrics::parse_request_line(bad).has_value());
  }
}

TEST_CASE("responses carry their length and close the connection") {
  const std::string text = metrics::render({503, "text/plain; charset=utf-8", "not ready: x\n"});
  CHECK(text ==
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 13\r\n"
        "Connection: close\r\n\r\nnot ready: x\n");
}

namespace {

metrics::SessionGuard::Address v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
  return {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a, b, c, d};
}

ntp::Network network(std::string_view text) {
  const auto parsed = config::parse_network(text);
  REQUIRE(parsed.has_value());
  return {parsed->network, parsed->prefix_length};
}

}  // namespace

TEST_CASE("session guard: only the allowed networks, everyone when none are listed") {
  metrics::SessionGuard guard{{network("127.0.0.1/32"), network("2001:db8::/32")}, 4, 32};
  CHECK(guard.admit(v4(127, 0, 0, 1)));
  CHECK_FALSE(guard.admit(v4(127, 0, 0, 2)));
  metrics::SessionGuard::Address six{0x20, 0x01, 0x0d, 0xb8};
  six[15] = 7;
  CHECK(guard.admit(six));
  six[3] = 0xb9;
  CHECK_FALSE(guard.admit(six));
  CHECK(guard.refusals() == metrics::EndpointRefusals{2, 0, 0});
  CHECK(guard.open() == 2);

  metrics::SessionGuard open{{}, 4, 32};
  CHECK(open.admit(v4(192, 0, 2, 1)));
  CHECK(open.admit(six));
  CHECK(open.refusals() == metrics::EndpointRefusals{});
}

TEST_CASE("session guard: at most so many sessions per address, and in all") {
  metrics::SessionGuard guard{{}, 2, 5};
  const auto a = v4(10, 0, 0, 1), b = v4(10, 0, 0, 2);
  CHECK(guard.admit(a));
  CHECK(guard.admit(a));
  CHECK_FALSE(guard.admit(a));
  CHECK(guard.admit(b));
  CHECK(guard.refusals() == metrics::EndpointRefusals{0, 1, 0});
  guard.release(a);
  CHECK(guard.admit(a));
  // Five open in all: a sixth is refused whoever asks.
  CHECK(guard.admit(b));
  CHECK(guard.admit(v4(10, 0, 0, 3)));
  CHECK(guard.open() == 5);
  CHECK_FALSE(guard.admit(v4(10, 0, 0, 4)));
  CHECK(guard.refusals() == metrics::EndpointRefusals{0, 1, 1});
  for (int i = 0; i < 2; ++i) guard.release(a);
  guard.release(a);  // not open: nothing
  CHECK(guard.open() == 3);
  CHECK(guard.admit(v4(10, 0, 0, 4)));
}
