#include "server/reference/kernel.hpp"

#include "server/reference/clocks.hpp"

#include <doctest/doctest.h>


TEST_CASE("refid text is packed left-aligned and zero-padded") {
  CHECK(reference::encode_refid("GPS") == 0x4750'5300u);
  CHECK(reference::encode_refid("LOCL") == 0x4C4F'434Cu);
  CHECK(reference::encode_refid("A") == 0x4100'0000u);
}

TEST_CASE("what the kernel's count of an inserted leap adds to a reading within a second of it") {
  using std::chrono::microseconds;
  using std::chrono::seconds;
  using Leap = reference::KernelClockStatus::Leap;
  const leapdb::Leap leap{leapdb::utc_from_unix_nanoseconds(1'483'228'800'000'000'000), 1, 37, 0};  // 2017-01-01
  const leapdb::UtcTime midnight = leap.effective;
  const auto at = [&](std::int64_t ns_after_2359_59) { return midnight - seconds{1} + leapdb::Nanoseconds{ns_after_2359_59}; };
  const auto kernel = [](Leap state, leapdb::UtcTime time, leapdb::Nanoseconds resolution = leapdb::Nanoseconds{1}, int tai = 0) {
    reference::KernelClockStatus status;
    status.leap = state;
    status.time = time;
    status.time_resolution = resolution;
    status.tai = tai;
    return status;
  };
  const auto correction = [&](leapdb::UtcTime reading, const reference::KernelClockStatus& later) {
    return reference::kernel_leap_correction(reading, leap, later);
  };

  SUBCASE("the kernel has not reached the leap: the first occurrence") {
    CHECK(correction(at(400'000'000), kernel(Leap::none, at(400'000'100))) == seconds{0});
  }
  SUBCASE("read in the first 23:59:59, processed once the kernel repeats it") {
    // The reading is later on the clock than the kernel's: the clock stepped back in between.
    CHECK(correction(at(999'999'500), kernel(Leap::repeating, at(300))) == seconds{0});
  }
  SUBCASE("read and processed in the repetition") {
    CHECK(correction(at(200), kernel(Leap::repeating, at(300))) == seconds{1});
    CHECK(correction(at(300), kernel(Leap::repeating, at(300))) == seconds{1});
    CHECK(correction(at(999'999'000), kernel(Leap::repeating, at(999'999'900))) == seconds{1});
  }
  SUBCASE("read in the tick before the kernel stepped back: past midnight on the clock") {
    // adjtimex already counts the repetition (and takes the second off its own time).
    CHECK(correction(midnight + microseconds{1'500}, kernel(Leap::repeating, at(1'600'000))) == seconds{-1});
    CHECK(correction(midnight, kernel(Leap::repeating, at(100))) == seconds{-1});
  }
  SUBCASE("a kernel clock in microseconds, truncated below the reading") {
    CHECK(correction(at(1'700), kernel(Leap::repeating, at(1'000), microseconds{1})) == seconds{1});
    CHECK(correction(at(2'100), kernel(Leap::repeating, at(1'000), microseconds{1})) == seconds{0});
  }
  SUBCASE("read in the repetition, processed after it ended") {
    CHECK(correction(at(999'999'900), kernel(Leap::done, midnight + leapdb::Nanoseconds{50})) == seconds{1});
  }
  SUBCASE("after the repetition, past midnight: nothing to add") {
    CHECK(correction(midnight + leapdb::Nanoseconds{10}, kernel(Leap::done, midnight + leapdb::Nanoseconds{50})) == seconds{0});
  }
  SUBCASE("a TIME_WAIT left over from an earlier leap, the clock still before midnight") {
    CHECK(correction(at(500'000'000), kernel(Leap::done, at(500'000'100))) == seconds{0});
  }
  SUBCASE("a clock error hides the state: the kernel's TAI offset tells, when it is set") {
    CHECK(correction(at(200), kernel(Leap::hidden, at(300), leapdb::Nanoseconds{1}, 37)) == seconds{1});
    CHECK(correction(at(999'999'500), kernel(Leap::hidden, at(300), leapdb::Nanoseconds{1}, 37)) == seconds{0});
    CHECK(correction(midnight + microseconds{5}, kernel(Leap::hidden, at(100), leapdb::Nanoseconds{1}, 37)) == seconds{-1});
    CHECK(correction(at(999'999'900), kernel(Leap::hidden, midnight + leapdb::Nanoseconds{50}, leapdb::Nanoseconds{1}, 37)) ==
          seconds{1});
    // Not inserted yet (the old offset), or never set: nothing is known, nothing is added.
    CHECK(correction(at(200), kernel(Leap::hidden, at(300), leapdb::Nanoseconds{1}, 36)) == seconds{0});
    CHECK(correction(at(200), kernel(Leap::hidden, at(300), leapdb::Nanoseconds{1}, 0)) == seconds{0});
  }
}

TEST_CASE("the kernel's clock status is read with its clock") {
  const auto before = reference::realtime_now();
  const reference::KernelClockStatus status = reference::read_kernel_clock_status();
  const auto after = reference::realtime_now();
  CHECK(status.time + status.time_resolution >= before);
  CHECK(status.time <= after);
  CHECK((status.time_resolution == leapdb::Nanoseconds{1} || status.time_resolution == std::chrono::microseconds{1}));
}

TEST_CASE("measured precision is plausible") {
  const std::int8_t precision = reference::measure_precision();
  CHECK(precision <= -10);  // better than a millisecond on any machine we run on
  CHECK(precision >= -32);
}
