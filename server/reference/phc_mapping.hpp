#pragma once
// Pure. From cross-timestamps of one NIC's PTP hardware clock against the system clock (each
// the narrowest window of a read: phc.hpp), the line its hardware stamps are converted with
// (ntp::PhcMapping). The newest sample anchors the line; the rate runs from the oldest sample
// kept to the newest, in exact integer arithmetic rounded once to the Rate's 2^-32 steps. A
// sample far off the line (the PHC or the system clock was stepped, as ptp4l and chrony do
// when they lock) starts the line afresh, and until two samples a second apart agree there is
// no line at all: a guessed rate would be worse than the software stamp it replaces.
//
// Error bound, for samples whose readings are exact to the nanosecond: the anchor is off by at
// most 1 ns, the rate by at most 2^-32 (its rounding) plus 2 ns over the span between the
// samples it comes from, and the conversion rounds once more, so a stamp `d` from the anchor
// converts within 2 + |d| * (2^-32 + 2 / span) ns of the truth; 3 ns at the reach (10 s) with
// a 10 s span. Each sample's read window adds its half-width on top (PhcReading::error).

#include <cstddef>
#include <deque>
#include <optional>

#include "leapdb/time.hpp"
#include "server/ntp/hardware_clock.hpp"
#include "server/reference/phc.hpp"

namespace reference {

class PhcMappingEstimator {
 public:
  enum class Added : std::uint8_t { kept, restarted };

  // `restarted`: the sample disagreed with the line (or went backwards) and is now its first.
  Added add(const PhcReading& reading);
  // None until two samples at least kMinimumSpan apart.
  std::optional<ntp::PhcMapping> mapping() const;
  std::optional<PhcReading> newest() const;
  void clear() { samples_.clear(); }

  static constexpr std::size_t kCapacity = 16;  // 32 s of samples, 2 s apart
  static constexpr leapdb::Nanoseconds kMinimumSpan = std::chrono::seconds{1};
  static constexpr leapdb::Nanoseconds kReach = std::chrono::seconds{10};       // five missed samples
  static constexpr leapdb::Nanoseconds kStep = std::chrono::microseconds{100};  // off the line: a step
  static constexpr std::int64_t kMaxRatePpm = 1000;                             // beyond: a step, not drift

 private:
  std::deque<PhcReading> samples_;  // oldest first
};

}  // namespace reference
