#include "server/reference/system.hpp"

#include "server/io/clock.hpp"

#include <doctest/doctest.h>


TEST_CASE("refid text is packed left-aligned and zero-padded") {
  CHECK(reference::encode_refid("GPS") == 0x4750'5300u);
  CHECK(reference::encode_refid("LOCL") == 0x4C4F'434Cu);
  CHECK(reference::encode_refid("A") == 0x4100'0000u);
}

TEST_CASE("reference state") {
  config::Reference ref;
  ref.refid = "PPS";
  const auto now = leapdb::utc_from_unix_nanoseconds(1'700'000'000'750'000'000);
  reference::KernelClockStatus synced{true, leapdb::Nanoseconds{2'000'000}, leapdb::Nanoseconds{1'000}};
  const reference::ReferenceState s = reference::reference_state(ref, synced, -24, now);
  CHECK(s.stratum == 1);
  CHECK(s.precision == -24);
  CHECK(s.reference_id == 0x5050'5300u);
  CHECK(s.root_delay.count() == 0);
  CHECK(s.root_dispersion == leapdb::Nanoseconds{2'000'000});
  CHECK(s.read_at == now);

  const reference::KernelClockStatus unsynced{false, leapdb::Nanoseconds{16'000'000'000}, {}};
  CHECK(reference::reference_state(ref, unsynced, -24, now).root_dispersion.count() == 0);
  ref.type = config::Reference::Type::simulated;
  CHECK(reference::reference_state(ref, synced, -24, now).root_dispersion.count() == 0);
}

TEST_CASE("a reading in the second before an inserted leap: first 23:59:59 or the repeated one") {
  using std::chrono::microseconds;
  using std::chrono::seconds;
  using Leap = reference::KernelClockStatus::Leap;
  const auto midnight = leapdb::utc_from_unix_nanoseconds(1'483'228'800'000'000'000);  // 2017-01-01
  const auto at = [&](std::int64_t ns_after_2359_59) { return midnight - seconds{1} + leapdb::Nanoseconds{ns_after_2359_59}; };
  const auto kernel = [](Leap leap, leapdb::UtcTime time, leapdb::Nanoseconds resolution = leapdb::Nanoseconds{1}) {
    reference::KernelClockStatus status;
    status.leap = leap;
    status.time = time;
    status.time_resolution = resolution;
    return status;
  };

  SUBCASE("the kernel has not reached the leap: the first occurrence") {
    CHECK_FALSE(reference::read_in_repeated_second(at(400'000'000), kernel(Leap::none, at(400'000'100))));
  }
  SUBCASE("read in the first 23:59:59, processed once the kernel repeats it") {
    // The reading is later on the clock than the kernel's: the clock stepped back in between.
    CHECK_FALSE(reference::read_in_repeated_second(at(999'999'500), kernel(Leap::repeating, at(300))));
  }
  SUBCASE("read and processed in the repetition") {
    CHECK(reference::read_in_repeated_second(at(200), kernel(Leap::repeating, at(300))));
    CHECK(reference::read_in_repeated_second(at(300), kernel(Leap::repeating, at(300))));
    CHECK(reference::read_in_repeated_second(at(999'999'000), kernel(Leap::repeating, at(999'999'900))));
  }
  SUBCASE("a kernel clock in microseconds, truncated below the reading") {
    CHECK(reference::read_in_repeated_second(at(1'700), kernel(Leap::repeating, at(1'000), microseconds{1})));
    CHECK_FALSE(reference::read_in_repeated_second(at(2'100), kernel(Leap::repeating, at(1'000), microseconds{1})));
  }
  SUBCASE("read in the repetition, processed after it ended") {
    CHECK(reference::read_in_repeated_second(at(999'999'900), kernel(Leap::done, midnight + leapdb::Nanoseconds{50})));
  }
  SUBCASE("a TIME_WAIT left over from an earlier leap, the clock still before midnight") {
    CHECK_FALSE(reference::read_in_repeated_second(at(500'000'000), kernel(Leap::done, at(500'000'100))));
  }
}

TEST_CASE("the kernel's clock status is read with its clock") {
  const auto before = io::realtime_now();
  const reference::KernelClockStatus status = reference::read_kernel_clock_status();
  const auto after = io::realtime_now();
  CHECK(status.time + status.time_resolution >= before);
  CHECK(status.time <= after);
  CHECK((status.time_resolution == leapdb::Nanoseconds{1} || status.time_resolution == std::chrono::microseconds{1}));
}

TEST_CASE("measured precision is plausible") {
  const std::int8_t precision = reference::measure_precision();
  CHECK(precision <= -10);  // better than a millisecond on any machine we run on
  CHECK(precision >= -32);
}
