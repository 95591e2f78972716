#pragma once
// NTP's 64-bit timestamp (32.32 seconds since 1900 within an era) and 32-bit short format,
// converted to and from integer nanoseconds. The wire format does not carry the era, so
// decoding picks the era that puts the instant nearest to a pivot the caller trusts (its own
// clock): correct across the 2036-02-07 rollover for any pivot within 68 years.

#include <cstdint>

#include "leapdb/time.hpp"

namespace ntp {

struct Timestamp {
  std::uint32_t seconds = 0;
  std::uint32_t fraction = 0;
  friend constexpr bool operator==(const Timestamp&, const Timestamp&) = default;
  constexpr bool is_zero() const { return seconds == 0 && fraction == 0; }
};

// Seconds from 1900-01-01 (NTP era 0 epoch) to 1970-01-01 (Unix epoch).
inline constexpr std::int64_t kUnixEpochInNtpSeconds = 2'208'988'800;

Timestamp to_ntp(leapdb::UtcTime t);
leapdb::UtcTime from_ntp(Timestamp ts, leapdb::UtcTime pivot);

// 16.16 fixed-point seconds, saturating at the largest representable value; negative is 0.
std::uint32_t to_ntp_short(leapdb::Nanoseconds d);
leapdb::Nanoseconds from_ntp_short(std::uint32_t value);

// Signed 32.32 difference of two timestamps taken in the same era window, in nanoseconds.
leapdb::Nanoseconds difference(Timestamp later, Timestamp earlier);

}  // namespace ntp
