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
