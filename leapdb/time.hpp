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

// A frequency offset (a clock's rate minus 1) in parts per 2^32, about 4295 to the ppm, so
// that applying one on the hot path is a multiply and a shift; 0.23 ppb is fine enough for
// anything a reference or a slew needs.
struct Rate {
  std::int64_t per_2_32 = 0;

  static constexpr Rate from_ppb(std::int64_t ppb) {
    return Rate{static_cast<std::int64_t>((static_cast<Int128>(ppb) << 32) / 1'000'000'000)};
  }
  // Estimators work in floating point; the result is rounded once, here.
  static Rate from_ppm(double ppm);
  double ppm() const;
  // What the rate accumulates over `elapsed` (rounded towards minus infinity).
  constexpr Nanoseconds over(Nanoseconds elapsed) const {
    return Nanoseconds{static_cast<std::int64_t>((static_cast<Int128>(elapsed.count()) * per_2_32) >> 32)};
  }
  friend constexpr auto operator<=>(const Rate&, const Rate&) = default;
};

// The years every time value covers, leap data and clocks alike: leap data means nothing
// before 1900, and nanoseconds in 64 bits end in 2262, leaving room for offsets on top.
inline constexpr UtcTime kEarliestTime{std::chrono::seconds{-2'208'988'800}};  // 1900-01-01
inline constexpr UtcTime kLatestTime{std::chrono::seconds{7'258'118'400}};     // 2200-01-01

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
