#include "server/reference/clocks.hpp"

#include <doctest/doctest.h>

#include <vector>

using namespace std::chrono;
using reference::ClockBracket;

TEST_CASE("clock pair: a read made late by a preemption loses to a narrower bracket") {
  const leapdb::UtcTime t = leapdb::utc_from_unix_nanoseconds(1'700'000'000'000'000'000);
  // The first realtime read was preempted for 3 ms before it was taken: paired with the raw
  // read before it, it would say the system clock is 3 ms ahead of where it is.
  const std::vector<ClockBracket> brackets{
      {nanoseconds{1'000'000}, t + milliseconds{3}, nanoseconds{4'000'100}},
      {nanoseconds{4'000'200}, t + milliseconds{3} + nanoseconds{230}, nanoseconds{4'000'260}},
      {nanoseconds{4'000'300}, t + milliseconds{3} + nanoseconds{340}, nanoseconds{4'000'500}},
  };
  const reference::ClockPair pair = reference::narrowest_pair(brackets);
  CHECK(pair.realtime == t + milliseconds{3} + nanoseconds{230});
  CHECK(pair.raw == nanoseconds{4'000'230});
  CHECK(pair.window == nanoseconds{60});
}

TEST_CASE("clock pair: read from the kernel, the realtime reading lies within its raw bracket's width") {
  const reference::ClockPair a = reference::read_clock_pair();
  const reference::ClockPair b = reference::read_clock_pair();
  CHECK(a.window >= nanoseconds{0});
  CHECK(b.raw > a.raw);
  // Neither clock is stepped here, so the two pairs agree to their windows and the elapsed time.
  const nanoseconds skew = (b.realtime - a.realtime) - (b.raw - a.raw);
  CHECK(std::chrono::abs(skew) <= a.window + b.window + microseconds{50});
}
