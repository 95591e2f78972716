#pragma once
// Time values shared by every module: integer nanoseconds, strongly typed.
//
// UtcTime is POSIX UTC (std::chrono::sys_time): every day has 86400 seconds and a leap
// second has no instant of its own. That is what CLOCK_REALTIME and NTP timestamps count;
// the leap table is what relates it to continuous TAI.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace leapdb {

using Nanoseconds = std::chrono::duration<std::int64_t, std::nano>;
// For exact intermediates such as nanoseconds x 2^32 (GCC and Clang both provide it).
__extension__ using Int128 = __int128;
using UtcTime = std::chrono::sys_time<Nanoseconds>;

// TAI as a count of SI seconds since 1970-01-01T00:00:00 TAI. Continuous: no second is
// repeated or skipped, which is why every timescale smeard serves is a function of it.
struct TaiClock {
  using rep = std::int64_t;
  using period = std::nano;
  using duration = Nanoseconds;
  using time_point = std::chrono::time_point<TaiClock, Nanoseconds>;
  static constexpr bool is_steady = false;
};
using TaiTime = TaiClock::time_point;

constexpr UtcTime utc_from_unix_nanoseconds(std::int64_t ns) { return UtcTime{Nanoseconds{ns}}; }
constexpr std::int64_t unix_nanoseconds(UtcTime t) { return t.time_since_epoch().count(); }

// "2016-12-31T23:59:59.123456789Z": always nine fractional digits, always Z.
std::string format_rfc3339(UtcTime t);

// "2016-12-31".
std::string format_date(std::chrono::sys_days day);

// Accepts "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)", 't'/'z'/' ' variants as RFC 3339
// allows, for years 1900 to 2199; seconds = 60 is refused because a POSIX UTC instant cannot
// name a leap second.
std::optional<UtcTime> parse_rfc3339(std::string_view text);

}  // namespace leapdb
