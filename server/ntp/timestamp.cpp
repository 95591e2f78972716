#include "server/ntp/timestamp.hpp"

namespace ntp {
namespace {

constexpr std::int64_t kNanosPerSecond = 1'000'000'000;
constexpr std::uint64_t kTwoPow32 = std::uint64_t{1} << 32;

// Floor division: instants before an epoch must land in the previous second, not round up.
constexpr std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  const std::int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

// fraction = round(ns * 2^32 / 1e9); never reaches 2^32 because ns < 1e9 - 0.116.
constexpr std::uint32_t nanos_to_fraction(std::int64_t ns) {
  return static_cast<std::uint32_t>((static_cast<std::uint64_t>(ns) * kTwoPow32 + 500'000'000) /
                                    kNanosPerSecond);
}

// ns = round(fraction * 1e9 / 2^32); the result can be exactly 1e9, carried by the caller.
constexpr std::int64_t fraction_to_nanos(std::uint32_t fraction) {
  return static_cast<std::int64_t>((std::uint64_t{fraction} * kNanosPerSecond + kTwoPow32 / 2) >> 32);
}

}  // namespace

Timestamp to_ntp(leapdb::UtcTime t) {
  const std::int64_t ns = leapdb::unix_nanoseconds(t);
  const std::int64_t unix_seconds = floor_div(ns, kNanosPerSecond);
  const std::int64_t subsecond = ns - unix_seconds * kNanosPerSecond;
  // Truncation to 32 bits is the era wrap the wire format defines.
  return Timestamp{static_cast<std::uint32_t>(static_cast<std::uint64_t>(unix_seconds + kUnixEpochInNtpSeconds)),
                   nanos_to_fraction(subsecond)};
}

leapdb::UtcTime from_ntp(Timestamp ts, leapdb::UtcTime pivot) {
  const std::int64_t pivot_ntp_seconds =
      floor_div(leapdb::unix_nanoseconds(pivot), kNanosPerSecond) + kUnixEpochInNtpSeconds;
  const auto pivot_low = static_cast<std::uint32_t>(static_cast<std::uint64_t>(pivot_ntp_seconds));
  // The signed 32-bit distance from the pivot selects the era nearest to it.
  const auto delta = static_cast<std::int32_t>(ts.seconds - pivot_low);
  const std::int64_t ntp_seconds = pivot_ntp_seconds + delta;
  return leapdb::utc_from_unix_nanoseconds((ntp_seconds - kUnixEpochInNtpSeconds) * kNanosPerSecond +
                                           fraction_to_nanos(ts.fraction));
}

std::uint32_t to_ntp_short(leapdb::Nanoseconds d) {
  const std::int64_t ns = d.count();
  if (ns <= 0) return 0;
  constexpr std::int64_t kMaxNanos = (std::int64_t{0xFFFF} + 1) * kNanosPerSecond - 1;
  if (ns >= kMaxNanos) return 0xFFFF'FFFFu;
  const std::int64_t seconds = ns / kNanosPerSecond;
  const std::int64_t fraction =
      ((ns % kNanosPerSecond) * 65536 + kNanosPerSecond / 2) / kNanosPerSecond;
  const std::uint64_t value = (static_cast<std::uint64_t>(seconds) << 16) + static_cast<std::uint64_t>(fraction);
  return value > 0xFFFF'FFFFu ? 0xFFFF'FFFFu : static_cast<std::uint32_t>(value);
}

leapdb::Nanoseconds from_ntp_short(std::uint32_t value) {
  const std::int64_t seconds = value >> 16;
  const std::int64_t fraction = value & 0xFFFF;
  return leapdb::Nanoseconds{seconds * kNanosPerSecond + (fraction * kNanosPerSecond + 32768) / 65536};
}

leapdb::Nanoseconds difference(Timestamp later, Timestamp earlier) {
  const std::uint64_t a = (std::uint64_t{later.seconds} << 32) | later.fraction;
  const std::uint64_t b = (std::uint64_t{earlier.seconds} << 32) | earlier.fraction;
  const auto diff = static_cast<std::int64_t>(a - b);  // modular: wraps across the era boundary
  // 32.32 to nanoseconds with 128-bit intermediate so the full ±68-year range is exact.
  using leapdb::Int128;
  const Int128 scaled = static_cast<Int128>(diff) * kNanosPerSecond;
  const Int128 half = Int128{1} << 31;
  const Int128 rounded = scaled >= 0 ? (scaled + half) >> 32 : -((-scaled + half) >> 32);
  return leapdb::Nanoseconds{static_cast<std::int64_t>(rounded)};
}

}  // namespace ntp
