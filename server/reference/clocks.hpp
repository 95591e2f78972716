#pragma once
// Reading the kernel's clocks as the strong time types.

#include <sys/socket.h>
#include <time.h>

#include <cstring>
#include <optional>

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

// The kernel's receive timestamp (SO_TIMESTAMPNS) of a datagram read with recvmsg, if it has one.
inline std::optional<leapdb::UtcTime> kernel_receive_time(msghdr& message) {
  for (cmsghdr* c = CMSG_FIRSTHDR(&message); c != nullptr; c = CMSG_NXTHDR(&message, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
      timespec ts{};
      std::memcpy(&ts, CMSG_DATA(c), sizeof ts);
      return from_timespec(ts);
    }
  }
  return std::nullopt;
}

}  // namespace reference
