#include "leapdb/table.hpp"

#include <doctest/doctest.h>

#include "leapdb/parse.hpp"
#include "tests/unit/leapdb/files.hpp"

using namespace std::chrono;
using leapdb::TaiTime;
using leapdb::UtcTime;

namespace {

UtcTime utc(int y, unsigned m, unsigned d, int hh = 0, int mm = 0, int ss = 0) {
  return UtcTime{sys_days{year{y} / month{m} / day{d}}} + hours{hh} + minutes{mm} + seconds{ss};
}
TaiTime tai_of(UtcTime t, int offset) { return TaiTime{t.time_since_epoch()} + seconds{offset}; }

leapdb::LeapTable table(const char* name) { return leapdb::parse(test_files::fixture(name), name).table; }

}  // namespace

TEST_CASE("TAI-UTC at UTC and TAI instants, around an inserted second") {
  const auto t = table("leap-seconds.list");
  CHECK(t.tai_utc_at(utc(1970, 1, 1)) == 10);
  CHECK(t.tai_utc_at(utc(2016, 12, 31, 23, 59, 59) + 999ms) == 36);
  CHECK(t.tai_utc_at(utc(2017, 1, 1)) == 37);

  // In TAI the leap second is a second of its own: 23:59:59 lasts two seconds in UTC terms.
  const TaiTime last_normal = tai_of(utc(2016, 12, 31, 23, 59, 59), 36);
  const TaiTime leap_second = last_normal + 1s;
  CHECK(t.to_utc(last_normal) == utc(2016, 12, 31, 23, 59, 59));
  CHECK(t.to_utc(leap_second) == utc(2016, 12, 31, 23, 59, 59));        // repeated
  CHECK(t.to_utc(leap_second + 500ms) == utc(2016, 12, 31, 23, 59, 59) + 500ms);
  CHECK(t.to_utc(leap_second + 1s) == utc(2017, 1, 1));
  CHECK(t.to_tai(utc(2017, 1, 1)) == leap_second + 1s);
  CHECK(t.tai_utc_at(leap_second - 1ns) == 36);
  CHECK(t.tai_utc_at(leap_second) == 37);
}

TEST_CASE("around a deleted second, 23:59:59 never happens") {
  const auto t = table("negative-leap.list");
  const TaiTime before = tai_of(utc(2029, 6, 30, 23, 59, 58), 37);
  CHECK(t.to_utc(before) == utc(2029, 6, 30, 23, 59, 58));
  CHECK(t.to_utc(before + 999'999'999ns) == utc(2029, 6, 30, 23, 59, 58) + 999'999'999ns);
  CHECK(t.to_utc(before + 1s) == utc(2029, 7, 1));  // straight to midnight
  CHECK(t.to_tai(utc(2029, 7, 1)) == before + 1s);
  CHECK(t.tai_utc_at(utc(2029, 7, 1)) == 36);
  // An instant inside the deleted second is taken as the following midnight.
  CHECK(t.to_tai(utc(2029, 6, 30, 23, 59, 59) + 250ms) == before + 1s);
}

TEST_CASE("UTC -> TAI -> UTC is the identity outside deleted seconds") {
  const auto t = table("negative-leap.list");
  for (auto u = utc(1971, 1, 1); u < utc(2031, 1, 1); u += 86'399s + 777'777'777ns) {
    REQUIRE(t.to_utc(t.to_tai(u)) == u);
  }
}

TEST_CASE("next leap and expiry") {
  const auto t = table("leap-seconds.list");
  const leapdb::Leap* next = t.next_leap_after(utc(2016, 6, 1));
  REQUIRE(next != nullptr);
  CHECK(next->effective == utc(2017, 1, 1));
  CHECK(t.next_leap_after(utc(2017, 1, 1)) == nullptr);
  CHECK(t.next_leap_after(utc(2016, 12, 31, 23, 59, 59))->tai_utc == 37);
  // A leap in (t - guard, t + guard]: 2017-01-01 is within a second of 23:59:59 and of 00:00:00.999.
  const auto leap = utc(2017, 1, 1);
  CHECK(t.leap_within(leap - 1s, 1s));
  CHECK(t.leap_within(leap, 1s));
  CHECK(t.leap_within(leap + 999ms, 1s));
  CHECK_FALSE(t.leap_within(leap + 1s, 1s));
  CHECK_FALSE(t.leap_within(leap - 1001ms, 1s));
  CHECK_FALSE(t.leap_within(utc(2016, 6, 1), 1s));
  CHECK_FALSE(t.expired_at(utc(2026, 6, 27, 23, 59, 59)));
  CHECK(t.expired_at(utc(2026, 6, 28)));
}

TEST_CASE("UTC text names the inserted second 23:59:60") {
  const auto t = table("leap-seconds.list");
  const TaiTime leap_second = tai_of(utc(2016, 12, 31, 23, 59, 59), 36) + 1s;
  CHECK(leapdb::format_utc(t, leap_second - 500ms) == "2016-12-31T23:59:59.500000000Z");
  CHECK(leapdb::format_utc(t, leap_second + 250ms) == "2016-12-31T23:59:60.250000000Z");
  CHECK(leapdb::format_utc(t, leap_second + 1s) == "2017-01-01T00:00:00.000000000Z");
}

TEST_CASE("a rehearsal leap shifts the leaps after it") {
  const auto t = table("leap-seconds.list");
  const auto rehearsed = leapdb::with_extra_leap(t, utc(2016, 6, 15, 14), -1);
  REQUIRE(rehearsed.leaps.size() == 28);
  CHECK(rehearsed.leaps[26].effective == utc(2016, 6, 15, 14));
  CHECK(rehearsed.leaps[26].tai_utc == 35);
  CHECK(rehearsed.leaps[27].tai_utc == 36);
  CHECK(rehearsed.tai_utc_at(utc(2016, 6, 15, 14)) == 35);
  CHECK(leapdb::with_extra_leap(t, utc(2026, 11, 23, 7), 1).leaps.back().tai_utc == 38);
}
