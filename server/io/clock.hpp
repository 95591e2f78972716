#pragma once

#include <time.h>

#include "leapdb/time.hpp"

namespace io {

inline leapdb::UtcTime from_timespec(const timespec& ts) {
  return leapdb::utc_from_unix_nanoseconds(std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec);
}

inline leapdb::UtcTime realtime_now() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return from_timespec(ts);
}

}  // namespace io
