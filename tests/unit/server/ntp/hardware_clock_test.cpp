// Hardware stamps to system-clock readings: the line, its reach, the stamps the kernel gives,
// and the table workers look interfaces up in.
#include "server/ntp/hardware_clock.hpp"

#include <doctest/doctest.h>

#include <limits>

#include "tests/unit/server/ntp/allocations.hpp"

using namespace std::chrono;
using leapdb::Nanoseconds;
using leapdb::UtcTime;
using ntp::PhcMapping;

namespace {

const UtcTime kNow = UtcTime{sys_days{year{2026} / March / 1}} + hours{12};
// A PHC on TAI, 37 s ahead of the system clock.
const Nanoseconds kPhcNow = kNow.time_since_epoch() + seconds{37};

PhcMapping line(leapdb::Rate rate = {}) { return PhcMapping{kPhcNow, kNow, rate, seconds{10}}; }

}  // namespace

TEST_CASE("a PHC reading maps to the system clock through offset and rate") {
  CHECK(line().to_system(kPhcNow) == kNow);
  CHECK(line().to_system(kPhcNow + milliseconds{1500}) == kNow + milliseconds{1500});
  CHECK(line().to_system(kPhcNow - seconds{3}) == kNow - seconds{3});
  // The system clock 10 ppm faster than the PHC: 10 µs more a second.
  const PhcMapping fast = line(leapdb::Rate::from_ppb(10'000));
  CHECK(abs(*fast.to_system(kPhcNow + seconds{1}) - (kNow + seconds{1} + microseconds{10})) <= nanoseconds{1});
  CHECK(abs(*fast.to_system(kPhcNow - seconds{2}) - (kNow - seconds{2} - microseconds{20})) <= nanoseconds{1});
}

TEST_CASE("a stale line refuses, so the worker keeps the software stamp") {
  CHECK(line().to_system(kPhcNow + seconds{10}).has_value());
  CHECK_FALSE(line().to_system(kPhcNow + seconds{10} + nanoseconds{1}).has_value());
  CHECK(line().to_system(kPhcNow - seconds{10}).has_value());
  CHECK_FALSE(line().to_system(kPhcNow - seconds{10} - nanoseconds{1}).has_value());
  // A PHC stepped since the line was drawn (by ptp4l locking) is far from it.
  CHECK_FALSE(line().to_system(kPhcNow + hours{1}).has_value());
  CHECK_FALSE(PhcMapping{}.to_system(Nanoseconds{0}).has_value());  // no reach: never
}

TEST_CASE("edges: 64-bit stamps far from the line, PHCs in other eras, the end of leap data") {
  const Nanoseconds max{std::numeric_limits<std::int64_t>::max()};
  const Nanoseconds min{std::numeric_limits<std::int64_t>::min()};
  CHECK_FALSE(line().to_system(max).has_value());
  CHECK_FALSE(line().to_system(min).has_value());
  // A PHC nobody set counts from 1970 (or from boot): only the offset is large.
  const PhcMapping unset{Nanoseconds{5'000'000'000}, kNow, leapdb::Rate::from_ppb(-250'000), seconds{10}};
  CHECK(unset.to_system(Nanoseconds{6'000'000'000}) == kNow + seconds{1} - microseconds{250});
  // A line at the extremes of 64 bits still converts inside its reach, in 128-bit arithmetic.
  const PhcMapping top{max - seconds{5}, kNow, leapdb::Rate::from_ppb(500'000), seconds{10}};
  // (500 ppm is not a whole number of 2^-32 steps: a nanosecond of rounding.)
  CHECK(abs(*top.to_system(max) - (kNow + seconds{5} + microseconds{2500})) <= nanoseconds{1});
  const PhcMapping bottom{min + seconds{5}, kNow, leapdb::Rate::from_ppb(-500'000), seconds{10}};
  CHECK(abs(*bottom.to_system(min) - (kNow - seconds{5} + microseconds{2500})) <= nanoseconds{1});
  // A system time past 2200 (or before 1900), where no table reaches, is refused.
  const PhcMapping late{kPhcNow, leapdb::kLatestTime - seconds{1}, {}, seconds{10}};
  CHECK(late.to_system(kPhcNow + seconds{1}) == leapdb::kLatestTime);
  CHECK_FALSE(late.to_system(kPhcNow + seconds{1} + nanoseconds{1}).has_value());
  const PhcMapping early{kPhcNow, leapdb::kEarliestTime + seconds{1}, {}, seconds{10}};
  CHECK_FALSE(early.to_system(kPhcNow - seconds{1} - nanoseconds{1}).has_value());
}

TEST_CASE("the kernel's stamps as nanoseconds") {
  CHECK(ntp::phc_nanoseconds(timespec{1, 5}) == Nanoseconds{1'000'000'005});
  CHECK_FALSE(ntp::phc_nanoseconds(timespec{0, 0}).has_value());  // no hardware stamp
  CHECK(ntp::phc_nanoseconds(timespec{0, 1}) == Nanoseconds{1});
  CHECK_FALSE(ntp::phc_nanoseconds(timespec{1, 1'000'000'000}).has_value());
  CHECK_FALSE(ntp::phc_nanoseconds(timespec{1, -1}).has_value());
  CHECK(ntp::phc_nanoseconds(timespec{-1, 0}) == Nanoseconds{-1'000'000'000});
  CHECK(ntp::phc_nanoseconds(timespec{9'223'372'035, 999'999'999}).has_value());
  CHECK_FALSE(ntp::phc_nanoseconds(timespec{9'223'372'037, 0}).has_value());
  CHECK_FALSE(ntp::phc_nanoseconds(timespec{std::numeric_limits<time_t>::max(), 0}).has_value());
  CHECK_FALSE(ntp::phc_nanoseconds(timespec{std::numeric_limits<time_t>::min(), 0}).has_value());
}

TEST_CASE("the table of interfaces: fixed, looked up by interface index") {
  ntp::HardwareClocks table;
  CHECK(table.empty());
  CHECK_FALSE(table.to_system(timespec{kPhcNow.count() / 1'000'000'000, 0}, 3).has_value());
  CHECK(table.add(3, line()));
  CHECK_FALSE(table.add(3, line()));  // once
  CHECK_FALSE(table.add(0, line()));  // no interface
  const timespec stamp{kPhcNow.count() / 1'000'000'000 + 1, 250};
  const long before = test_allocations::count.load();
  const std::optional<UtcTime> converted = table.to_system(stamp, 3);
  CHECK(test_allocations::count.load() == before);  // the hot path allocates nothing
  CHECK(converted == kNow + seconds{1} + nanoseconds{250});
  CHECK_FALSE(table.to_system(stamp, 4).has_value());  // stamped on an interface without a line
  CHECK_FALSE(table.to_system(timespec{0, 0}, 3).has_value());
  for (unsigned i = 10; table.size() < ntp::HardwareClocks::kCapacity; ++i) CHECK(table.add(i, line()));
  CHECK_FALSE(table.add(99, line()));
  CHECK(table.find(3) != nullptr);
}
