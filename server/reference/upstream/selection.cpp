#include "server/reference/upstream/selection.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

namespace reference::upstream {

std::optional<std::string> leap_refusal(ntp::LeapIndicator leap, const leapdb::LeapTable& table, leapdb::UtcTime now) {
  const leapdb::Leap* next = table.next_leap_after(now);
  if (!next || next->effective - now > kLeapWarningWindow) return std::nullopt;
  const ntp::LeapIndicator expected = next->sign > 0 ? ntp::LeapIndicator::insert : ntp::LeapIndicator::remove;
  if (leap == expected) return std::nullopt;
  return std::string{"announces no "} + (next->sign > 0 ? "inserted" : "deleted") + " second for the leap at " +
         leapdb::format_rfc3339(next->effective) + " the leap table has: it smears or ignores the leap";
}

void DriftDetector::add(leapdb::Nanoseconds raw, leapdb::Nanoseconds difference) {
  points_.push_back({raw, difference});
  if (points_.size() > kPoints) points_.erase(points_.begin());
}

std::optional<double> DriftDetector::drifting_ppm() const {
  if (points_.size() < kMinPoints || points_.back().x - points_.front().x < kMinSpan) return std::nullopt;
  const std::optional<LineFit> fit = fit_line(points_);
  if (!fit) return std::nullopt;
  const double change_ns = std::abs(fit->slope_ppm) * 1e-6 * static_cast<double>((points_.back().x - points_.front().x).count());
  if (std::abs(fit->slope_ppm) < kMinDriftPpm || std::abs(fit->slope_ppm) < kSignificance * fit->slope_stderr_ppm ||
      change_ns < static_cast<double>(kMinChange.count())) {
    return std::nullopt;
  }
  return fit->slope_ppm;
}

}  // namespace reference::upstream
