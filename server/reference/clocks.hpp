#pragma once
// Reading the kernel's clocks as the strong time types.

#include <sys/socket.h>
#include <time.h>

#include <array>
#include <cstring>
#include <optional>
#include <span>

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

// CLOCK_REALTIME and CLOCK_MONOTONIC_RAW at one instant. Two plain reads in a row can be a
// preemption apart, which would be published as clock error and learnt as frequency: so the
// realtime reading is taken between two raw ones, a few times, and the narrowest bracket wins,
// the raw clock at its middle and half its width the pair's error.
struct ClockBracket {
  leapdb::Nanoseconds raw_before;
  leapdb::UtcTime realtime;
  leapdb::Nanoseconds raw_after;
};
struct ClockPair {
  leapdb::UtcTime realtime;
  leapdb::Nanoseconds raw;
  leapdb::Nanoseconds window;
};
// Pure; `brackets` is not empty.
ClockPair narrowest_pair(std::span<const ClockBracket> brackets);

inline ClockPair read_clock_pair() {
  constexpr std::size_t kTries = 3;
  std::array<ClockBracket, kTries> brackets;
  for (ClockBracket& b : brackets) {
    b.raw_before = monotonic_raw_now();
    b.realtime = realtime_now();
    b.raw_after = monotonic_raw_now();
  }
  return narrowest_pair(brackets);
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
