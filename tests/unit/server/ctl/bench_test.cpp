#include "server/ctl/bench.hpp"

#include <doctest/doctest.h>

#include <set>

using ctl::LatencyHistogram;

TEST_CASE("latency histogram quantiles are exact to one 100 ns bucket") {
  LatencyHistogram h;
  CHECK(h.quantile(0.5) == 0);
  for (std::int64_t us = 1; us <= 100; ++us) h.record(us * 1000);  // 1..100 us
  CHECK(h.count() == 100);
  CHECK(h.quantile(0.5) == 50'100);  // the 50th value, 50 us, sits in [50.0, 50.1) us
  CHECK(h.quantile(0.99) == 99'100);
  CHECK(h.quantile(1.0) == 100'100);
  CHECK(h.max() == 100'000);
}

TEST_CASE("latency histogram: negative round trips count as 0, huge ones as the maximum seen") {
  LatencyHistogram h;
  h.record(-5);
  CHECK(h.quantile(1.0) == 100);
  h.record(3'000'000'000);  // 3 s: beyond the 100 ms of buckets
  CHECK(h.quantile(1.0) == 3'000'000'000);
  CHECK(h.quantile(0.5) == 100);
}

TEST_CASE("request cookies carry their slot and are never zero") {
  for (std::uint32_t sequence : {0u, 1u, 0x7fffffffu, 0xffffffffu}) {
    for (std::uint16_t slot : {std::uint16_t{0}, std::uint16_t{15}, std::uint16_t{65535}}) {
      const ntp::Timestamp cookie = ctl::request_cookie(sequence, slot);
      CHECK_FALSE(cookie.is_zero());
      CHECK(ctl::cookie_slot(cookie) == slot);
    }
  }
  // Consecutive requests on one slot differ, so a late reply to the previous one is refused.
  CHECK(ctl::request_cookie(1, 3) != ctl::request_cookie(2, 3));
}

TEST_CASE("loopback sources are distinct 127/8 host addresses") {
  std::set<std::array<std::uint8_t, 4>> seen;
  for (std::uint32_t i = 0; i < 200'000; ++i) {
    const auto a = ctl::loopback_source(i);
    REQUIRE(a[0] == 127);
    REQUIRE(a[1] >= 1);
    REQUIRE(a[3] != 0);
    REQUIRE(a[3] != 255);
    seen.insert(a);
  }
  CHECK(seen.size() == 200'000);
  CHECK(ctl::loopback_source(0) == std::array<std::uint8_t, 4>{127, 1, 0, 1});
  CHECK(ctl::loopback_source(254) == std::array<std::uint8_t, 4>{127, 1, 1, 1});
}
