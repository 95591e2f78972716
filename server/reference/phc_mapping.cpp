#include "server/reference/phc_mapping.hpp"

namespace reference {
namespace {

// The system clock's rate over the PHC's, minus 1, from `a` to `b`; none when the PHC did not
// advance, or the rate is beyond what drift can be.
std::optional<leapdb::Rate> rate_between(const PhcReading& a, const PhcReading& b) {
  const leapdb::Int128 phc = leapdb::Int128{b.phc.count()} - a.phc.count();
  const leapdb::Int128 system =
      leapdb::Int128{b.system.time_since_epoch().count()} - a.system.time_since_epoch().count();
  if (phc <= 0) return std::nullopt;
  const leapdb::Int128 difference = system - phc;
  const leapdb::Int128 magnitude = difference < 0 ? -difference : difference;
  if (magnitude * 1'000'000 > phc * PhcMappingEstimator::kMaxRatePpm) return std::nullopt;
  // Floor division, as Rate::over rounds: C++ division truncates towards zero.
  leapdb::Int128 scaled = difference * (leapdb::Int128{1} << 32);
  leapdb::Int128 per_2_32 = scaled / phc;
  if (scaled % phc != 0 && scaled < 0) --per_2_32;
  return leapdb::Rate{static_cast<std::int64_t>(per_2_32)};
}

}  // namespace

PhcMappingEstimator::Added PhcMappingEstimator::add(const PhcReading& reading) {
  bool agrees = true;
  if (!samples_.empty()) {
    const PhcReading& last = samples_.back();
    if (reading.phc <= last.phc) {
      agrees = false;  // the PHC went backwards
    } else if (const std::optional<ntp::PhcMapping> line = mapping()) {
      // Where the line says the system clock was at this PHC reading (unbounded by reach: a
      // late sample is still a fair test of the line).
      const leapdb::Int128 residual =
          leapdb::Int128{reading.system.time_since_epoch().count()} - line->line_at(reading.phc);
      const leapdb::Int128 tolerance = (kStep + reading.error() + last.error()).count();
      agrees = residual <= tolerance && residual >= -tolerance;
    } else if (reading.phc - samples_.front().phc >= kMinimumSpan) {
      agrees = rate_between(samples_.front(), reading).has_value();  // no oscillator drifts that fast
    }
  }
  if (!agrees) samples_.clear();
  samples_.push_back(reading);
  while (samples_.size() > kCapacity) samples_.pop_front();
  return agrees ? Added::kept : Added::restarted;
}

std::optional<ntp::PhcMapping> PhcMappingEstimator::mapping() const {
  if (samples_.size() < 2) return std::nullopt;
  const PhcReading& oldest = samples_.front();
  const PhcReading& anchor = samples_.back();
  if (anchor.phc - oldest.phc < kMinimumSpan) return std::nullopt;
  const std::optional<leapdb::Rate> rate = rate_between(oldest, anchor);
  if (!rate) return std::nullopt;
  return ntp::PhcMapping{anchor.phc, anchor.system, *rate, kReach};
}

std::optional<PhcReading> PhcMappingEstimator::newest() const {
  if (samples_.empty()) return std::nullopt;
  return samples_.back();
}

}  // namespace reference
