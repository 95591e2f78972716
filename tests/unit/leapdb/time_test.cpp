#include "leapdb/time.hpp"

#include <doctest/doctest.h>

#include <random>

using leapdb::format_rfc3339;
using leapdb::parse_rfc3339;
using leapdb::utc_from_unix_nanoseconds;

TEST_CASE("RFC 3339 formatting is UTC with nine fractional digits") {
  CHECK(format_rfc3339(utc_from_unix_nanoseconds(0)) == "1970-01-01T00:00:00.000000000Z");
  CHECK(format_rfc3339(utc_from_unix_nanoseconds(1'483'228'799'999'999'999)) == "2016-12-31T23:59:59.999999999Z");
  CHECK(format_rfc3339(utc_from_unix_nanoseconds(2'085'978'496'000'000'001)) == "2036-02-07T06:28:16.000000001Z");
  // Before the Unix epoch the day still rolls over downwards, not towards zero.
  CHECK(format_rfc3339(utc_from_unix_nanoseconds(-1)) == "1969-12-31T23:59:59.999999999Z");
  CHECK(format_rfc3339(utc_from_unix_nanoseconds(-2'208'988'800'000'000'000)) == "1900-01-01T00:00:00.000000000Z");
}

TEST_CASE("RFC 3339 parsing") {
  CHECK(parse_rfc3339("2016-12-31T23:59:59Z") == utc_from_unix_nanoseconds(1'483'228'799'000'000'000));
  CHECK(parse_rfc3339("2016-12-31t23:59:59.5z") == utc_from_unix_nanoseconds(1'483'228'799'500'000'000));
  CHECK(parse_rfc3339("2017-01-01T01:00:00+01:00") == utc_from_unix_nanoseconds(1'483'228'800'000'000'000));
  CHECK(parse_rfc3339("2016-12-31T22:00:00-02:00") == utc_from_unix_nanoseconds(1'483'228'800'000'000'000));
  // Digits beyond nanoseconds are truncated, not rounded into the next second.
  CHECK(parse_rfc3339("2016-12-31T23:59:59.9999999999Z") == utc_from_unix_nanoseconds(1'483'228'799'999'999'999));

  for (const char* bad : {"", "2016-12-31", "2016-12-31T23:59:60Z", "2016-13-01T00:00:00Z", "2017-02-29T00:00:00Z",
                          "2016-12-31T24:00:00Z", "2016-12-31T23:59:59", "2016-12-31T23:59:59.Z",
                          "2016-12-31T23:59:59Zjunk", "2016-12-31T23:59:59+0100", "16-12-31T23:59:59Z",
                          "2300-01-01T00:00:00Z", "1899-12-31T23:59:59Z", "9999-12-31T00:00:00Z"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_rfc3339(bad).has_value());
  }
}

TEST_CASE("RFC 3339 round trip over random instants, 1900 to 2200") {
  std::mt19937_64 random{20161231};
  std::uniform_int_distribution<std::int64_t> seconds{-2'208'988'800, 7'258'118'399};
  std::uniform_int_distribution<std::int64_t> nanos{0, 999'999'999};
  for (int i = 0; i < 20000; ++i) {
    const auto t = utc_from_unix_nanoseconds(seconds(random) * 1'000'000'000 + nanos(random));
    const std::string text = format_rfc3339(t);
    CAPTURE(text);
    REQUIRE(parse_rfc3339(text) == t);
  }
}
