#include "server/ntp/timestamp.hpp"

#include <doctest/doctest.h>

#include <random>

using leapdb::Nanoseconds;
using leapdb::utc_from_unix_nanoseconds;
using ntp::Timestamp;

namespace {
constexpr std::int64_t kSecond = 1'000'000'000;
// 2036-02-07T06:28:16Z: NTP era 0 ends, era 1 begins at seconds = 0.
constexpr std::int64_t kEra1StartUnix = (std::int64_t{1} << 32) - ntp::kUnixEpochInNtpSeconds;
}  // namespace

TEST_CASE("known conversions") {
  CHECK(ntp::to_ntp(utc_from_unix_nanoseconds(0)) == Timestamp{2'208'988'800u, 0});
  CHECK(ntp::to_ntp(utc_from_unix_nanoseconds(kSecond / 2)) == Timestamp{2'208'988'800u, 0x8000'0000u});
  // 2016-12-31T23:59:59Z
  CHECK(ntp::to_ntp(utc_from_unix_nanoseconds(1'483'228'799 * kSecond)) == Timestamp{3'692'217'599u, 0});
  // Before 1970 (still era 0) and the first instant of era 1.
  CHECK(ntp::to_ntp(utc_from_unix_nanoseconds(-kSecond)) == Timestamp{2'208'988'799u, 0});
  CHECK(ntp::to_ntp(utc_from_unix_nanoseconds(kEra1StartUnix * kSecond)) == Timestamp{0, 0});
  CHECK(ntp::to_ntp(utc_from_unix_nanoseconds(kEra1StartUnix * kSecond - 1)).seconds == 0xFFFF'FFFFu);
  // The largest fraction never carries into the seconds.
  CHECK(ntp::to_ntp(utc_from_unix_nanoseconds(kSecond - 1)) == Timestamp{2'208'988'800u, 0xFFFF'FFFCu});
}

TEST_CASE("decoding picks the era nearest the pivot, across 2036") {
  const auto pivot_2035 = utc_from_unix_nanoseconds((kEra1StartUnix - 86400) * kSecond);
  const auto pivot_2037 = utc_from_unix_nanoseconds((kEra1StartUnix + 86400 * 365) * kSecond);
  CHECK(ntp::from_ntp(Timestamp{0, 0}, pivot_2035) == utc_from_unix_nanoseconds(kEra1StartUnix * kSecond));
  CHECK(ntp::from_ntp(Timestamp{0xFFFF'FFFFu, 0}, pivot_2037) ==
        utc_from_unix_nanoseconds((kEra1StartUnix - 1) * kSecond));
  CHECK(ntp::from_ntp(Timestamp{10, 0}, pivot_2037) == utc_from_unix_nanoseconds((kEra1StartUnix + 10) * kSecond));
  // The same wire value means 1970 with a 1990 pivot.
  CHECK(ntp::from_ntp(Timestamp{2'208'988'800u, 0}, utc_from_unix_nanoseconds(631'152'000 * kSecond)) ==
        utc_from_unix_nanoseconds(0));
}

TEST_CASE("round trip is exact to the nanosecond for any pivot within 68 years") {
  std::mt19937_64 random{2036};
  // 1950 .. 2150: both sides of the era boundary.
  std::uniform_int_distribution<std::int64_t> instant{-631'152'000 * kSecond, 5'680'281'600 * kSecond};
  std::uniform_int_distribution<std::int64_t> pivot_shift{-68 * 365 * 86400 * kSecond, 68 * 365 * 86400 * kSecond};
  for (int i = 0; i < 200000; ++i) {
    const auto t = utc_from_unix_nanoseconds(instant(random));
    const auto pivot = t + Nanoseconds{pivot_shift(random)};
    const Timestamp wire = ntp::to_ntp(t);
    CAPTURE(leapdb::format_rfc3339(t));
    REQUIRE(ntp::from_ntp(wire, pivot) == t);
    REQUIRE(ntp::to_ntp(ntp::from_ntp(wire, pivot)) == wire);
  }
}

TEST_CASE("difference works across the era boundary") {
  const Timestamp before{0xFFFF'FFFFu, 0x8000'0000u};  // 0.5 s before era 1
  const Timestamp after{0, 0x8000'0000u};               // 0.5 s after
  CHECK(ntp::difference(after, before) == Nanoseconds{kSecond});
  CHECK(ntp::difference(before, after) == Nanoseconds{-kSecond});
  CHECK(ntp::difference(Timestamp{5, 1}, Timestamp{5, 0}) == Nanoseconds{0});  // 0.23 ns rounds to 0
  CHECK(ntp::difference(Timestamp{5, 5}, Timestamp{5, 0}) == Nanoseconds{1});
}

TEST_CASE("short format") {
  CHECK(ntp::to_ntp_short(Nanoseconds{kSecond}) == 0x0001'0000u);
  CHECK(ntp::to_ntp_short(Nanoseconds{kSecond * 3 / 2}) == 0x0001'8000u);
  CHECK(ntp::to_ntp_short(Nanoseconds{-5}) == 0);
  CHECK(ntp::to_ntp_short(Nanoseconds{100'000 * kSecond}) == 0xFFFF'FFFFu);
  CHECK(ntp::from_ntp_short(0x0001'8000u) == Nanoseconds{kSecond * 3 / 2});
  // Resolution is 15.26 us: the round trip stays within half of it.
  for (std::int64_t ns = 0; ns < 3 * kSecond; ns += 7'777'777) {
    const auto back = ntp::from_ntp_short(ntp::to_ntp_short(Nanoseconds{ns}));
    CHECK(std::abs((back - Nanoseconds{ns}).count()) <= 7630);
  }
}
