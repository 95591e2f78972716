#include "server/ctl/target.hpp"

#include <doctest/doctest.h>

using ctl::parse_target;

TEST_CASE("query targets") {
  CHECK(parse_target("ntp.example")->host == "ntp.example");
  CHECK(parse_target("ntp.example")->port == "123");
  CHECK(parse_target("127.0.0.1:12300")->port == "12300");
  CHECK(parse_target("127.0.0.1:12300")->host == "127.0.0.1");
  CHECK(parse_target("[::1]:124")->host == "::1");
  CHECK(parse_target("[::1]:124")->port == "124");
  CHECK(parse_target("[::1]")->port == "123");
  CHECK(parse_target("fe80::1")->host == "fe80::1");
  CHECK(parse_target("[::1]:124")->to_string() == "[::1]:124");
  CHECK(parse_target("host:1")->to_string() == "host:1");
  for (const char* bad : {"", ":123", "host:", "host:99999", "host:12a", "[::1", "[]:1", "[::1]x", "[::1]:"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_target(bad).has_value());
  }
}
