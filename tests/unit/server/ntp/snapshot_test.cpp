#include "server/ntp/snapshot.hpp"

#include <doctest/doctest.h>

#include <random>

#include "leapdb/parse.hpp"
#include "tests/unit/leapdb/files.hpp"

using namespace std::chrono;
using leapdb::Nanoseconds;
using leapdb::UtcTime;

namespace {

ntp::ReferenceClock clock_with(const char* fixture) {
  ntp::ReferenceClock clock;
  clock.table = std::make_shared<const leapdb::LeapTable>(leapdb::parse(test_files::fixture(fixture), fixture).table);
  REQUIRE_FALSE(clock.table->leaps.empty());
  return clock;
}

}  // namespace

TEST_CASE("the clock's steady span maps readings exactly as to_tai does, and never near an inserted second") {
  std::mt19937_64 random{11};
  // With the system clock as the reference, and with a reference 3.2 ms ahead of it and 37 ppm fast.
  const ntp::Correction corrections[] = {{}, {leapdb::utc_from_unix_nanoseconds(1'483'228'800'000'000'000),
                                              -Nanoseconds{3'200'000}, leapdb::Rate::from_ppm(37)}};
  for (const auto& [fixture, correction] : {std::pair{"leap-seconds.list", corrections[0]},
                                            std::pair{"negative-leap.list", corrections[0]},
                                            std::pair{"leap-seconds.list", corrections[1]}}) {
    CAPTURE(fixture);
    ntp::ReferenceClock clock = clock_with(fixture);
    clock.correction = correction;
    for (const leapdb::Leap& leap : clock.table->leaps) {
      for (std::int64_t d = -3'000'000'001; d <= 2'000'000'001; d += 250'000'000) {
        for (const std::int64_t nudge : {-1LL, 0LL, 1LL}) {
          const UtcTime anchor = leap.effective + Nanoseconds{d + nudge};
          const ntp::ReferenceClock::Steady steady = clock.steady_around(anchor);
          if (steady.from == steady.until) {
            CHECK((clock.inserted_leap_near(anchor) != nullptr || clock.to_tai(anchor) == clock.to_tai(anchor + Nanoseconds{1})));
            continue;
          }
          REQUIRE(steady.contains(anchor));
          const UtcTime from = std::max(steady.from, anchor - hours{24 * 365 * 50});
          const UtcTime until = std::min(steady.until, anchor + hours{24 * 365 * 50});
          std::uniform_int_distribution<std::int64_t> inside{0, (until - from).count() - 1};
          for (const UtcTime p : {from, anchor, until - Nanoseconds{1}, from + Nanoseconds{inside(random)}}) {
            CHECK(clock.inserted_leap_near(p) == nullptr);
            CHECK(clock.to_tai(p) == steady.to_tai(p));
          }
        }
      }
    }
  }
}

TEST_CASE("a correction moves the system clock's TAI along a line") {
  ntp::ReferenceClock clock = clock_with("leap-seconds.list");
  const UtcTime at = leapdb::utc_from_unix_nanoseconds(1'795'000'000'000'000'000);
  const leapdb::TaiTime plain = clock.to_tai(at);
  clock.correction = {at, Nanoseconds{1'500}, leapdb::Rate::from_ppm(-20)};
  CHECK(clock.to_tai(at) == plain + Nanoseconds{1'500});
  // 20 ppm slow over 10 s: 200 µs less.
  CHECK(std::abs((clock.to_tai(at + seconds{10}) - (plain + seconds{10})).count() - (1'500 - 200'000)) <= 2);
  CHECK(std::abs((clock.to_tai(at - seconds{10}) - (plain - seconds{10})).count() - (1'500 + 200'000)) <= 2);
}

TEST_CASE("the reference's UTC at a reading: the reading moved by the correction, or the simulated time") {
  ntp::ReferenceClock clock = clock_with("leap-seconds.list");
  const UtcTime at = leapdb::utc_from_unix_nanoseconds(1'700'000'000'000'000'000);
  CHECK(clock.to_utc(at) == at);
  clock.correction = {at, minutes{10}, {}};
  CHECK(clock.to_utc(at) == at + minutes{10});
  CHECK(clock.to_utc(at - minutes{10}) == at);
  clock.kind = ntp::ReferenceClock::Kind::simulated;
  clock.origin = at;
  const UtcTime simulated = leapdb::utc_from_unix_nanoseconds(1'483'185'600'000'000'000);  // 2016-12-31T12:00Z
  clock.start = clock.table->to_tai(simulated);
  CHECK(clock.to_utc(at + hours{1}) == simulated + hours{1});
}

TEST_CASE("an inserted leap is near from a second before it to a second after; a deleted one never") {
  const ntp::ReferenceClock clock = clock_with("leap-seconds.list");
  const leapdb::Leap& leap = clock.table->leaps.back();  // 2017-01-01, inserted
  CHECK(clock.inserted_leap_near(leap.effective - seconds{1} - Nanoseconds{1}) == nullptr);
  CHECK(clock.inserted_leap_near(leap.effective - seconds{1}) == &leap);
  CHECK(clock.inserted_leap_near(leap.effective) == &leap);
  CHECK(clock.inserted_leap_near(leap.effective + seconds{1} - Nanoseconds{1}) == &leap);
  CHECK(clock.inserted_leap_near(leap.effective + seconds{1}) == nullptr);
  // The repeated second, after the table: TAI one second on; the tick before the step, one back.
  const UtcTime reading = leap.effective - milliseconds{300};
  CHECK(clock.to_tai(reading, seconds{1}) == clock.to_tai(reading) + seconds{1});
  const ntp::ReferenceClock negative = clock_with("negative-leap.list");
  int deleted = 0;
  for (const leapdb::Leap& l : negative.table->leaps) {
    if (l.sign > 0) continue;
    ++deleted;
    CHECK(negative.inserted_leap_near(l.effective - milliseconds{500}) == nullptr);
  }
  CHECK(deleted > 0);
}

TEST_CASE("the clock's steady span: far from leaps it is long; a simulated clock has none") {
  ntp::ReferenceClock clock = clock_with("leap-seconds.list");
  const UtcTime now = leapdb::utc_from_unix_nanoseconds(1'795'000'000'000'000'000);
  const auto steady = clock.steady_around(now);
  CHECK(steady.from == clock.table->leaps.back().effective + seconds{1});  // the kernel may step a tick late
  CHECK(steady.until == UtcTime::max());
  CHECK(steady.tai_minus_utc == seconds{37});
  clock.kind = ntp::ReferenceClock::Kind::simulated;
  CHECK(clock.steady_around(now).from == clock.steady_around(now).until);
}

TEST_CASE("a simulated clock runs at its rate through every year leap data covers, then holds at 2200") {
  ntp::ReferenceClock clock;
  clock.kind = ntp::ReferenceClock::Kind::simulated;
  clock.origin = leapdb::utc_from_unix_nanoseconds(1'795'000'000'123'456'789);
  clock.rate_numerator = 7;
  clock.rate_denominator = 2;
  const auto tai = [](int y, unsigned m, unsigned d) {
    return leapdb::TaiTime{sys_days{year{y} / month{m} / day{d}}.time_since_epoch()};
  };
  for (const leapdb::TaiTime start : {tai(1900, 1, 1), tai(2036, 2, 7), tai(2043, 1, 26), tai(2100, 1, 1),
                                      tai(2199, 12, 31)}) {
    CAPTURE(start.time_since_epoch().count());
    clock.start = start;
    CHECK(clock.to_tai(clock.origin) == start);
    CHECK(clock.to_tai(clock.origin + 2s + 1ns) == start + 7s + 3ns);  // 3.5 ns, rounded down
    CHECK(clock.to_tai(clock.origin + hours{6}) == start + hours{21});
  }
  // Decades of a fast simulation: held at the edge, never wrapped.
  clock.start = tai(2199, 12, 31);
  CHECK(clock.to_tai(clock.origin + hours{24 * 365 * 50}) == leapdb::TaiTime{leapdb::kLatestTime.time_since_epoch()});
  clock.start = tai(1900, 1, 1);
  CHECK(clock.to_tai(clock.origin - hours{24}) == leapdb::TaiTime{leapdb::kEarliestTime.time_since_epoch()});
}
