#pragma once
// Reading the kernel's clocks as the strong time types.

#include <time.h>

#include "leapdb/time.hpp"

namespace reference {

inline leapdb::UtcTime from_timespec(const timespec& ts) {
  return leapdb::utc_from_unix_nanoseconds(std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec);
}

inline leapdb::UtcTime realtime_now() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return from_timespec(ts);
}

// CLOCK_MONOTONIC_RAW: the oscillator itself, never slewed or stepped by anyone; nanoseconds
// since boot. What a software clock is disciplined against.
inline leapdb::Nanoseconds monotonic_raw_now() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
  return leapdb::Nanoseconds{std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec};
}

}  // namespace reference
