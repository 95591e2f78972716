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

TEST_CASE("a rate is applied in integer arithmetic to a fraction of a nanosecond per second") {
  using leapdb::Nanoseconds;
  using leapdb::Rate;
  CHECK(Rate::from_ppb(1'000'000'000).per_2_32 == std::int64_t{1} << 32);
  CHECK(Rate::from_ppm(1).per_2_32 == 4295);
  CHECK(Rate::from_ppm(-15).per_2_32 == -64'425);
  CHECK(Rate::from_ppm(15).ppm() == doctest::Approx(15).epsilon(1e-4));
  // 15 ppm over an hour: 54 ms, within the rate's rounding (0.23 ppb of an hour is under 1 µs).
  const Nanoseconds hour = std::chrono::hours{1};
  CHECK(std::abs(Rate::from_ppm(15).over(hour).count() - 54'000'000) < 1'000);
  CHECK(std::abs(Rate::from_ppm(-500).over(hour).count() + 1'800'000'000) < 1'000);
  // Floors: a negative rate over a nanosecond is -1 ns, never 0 rounded up.
  CHECK(Rate::from_ppm(-1).over(Nanoseconds{1}).count() == -1);
  CHECK(Rate{}.over(Nanoseconds{INT64_MAX}).count() == 0);
  // A century at 1000 ppm stays in range: 128-bit intermediates.
  const Nanoseconds century{std::int64_t{3'155'760'000} * 1'000'000'000};
  CHECK(Rate::from_ppm(1000).over(century).count() == doctest::Approx(3.15576e15).epsilon(1e-6));
  CHECK(Rate::from_ppm(1e9).ppm() == doctest::Approx(1e6));
}
