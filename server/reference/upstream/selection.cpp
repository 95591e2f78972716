#include "server/reference/upstream/selection.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

namespace reference::upstream {

Selection select(std::span<const Candidate> candidates, std::size_t minsources) {
  Selection out;
  const std::size_t n = candidates.size();
  if (n < minsources || n == 0) {
    out.why = std::to_string(n) + " usable server(s), minsources is " + std::to_string(minsources);
    return out;
  }
  // Endpoints as (value, +1 opening / -1 closing); openings first at equal values, so
  // touching intervals intersect.
  std::vector<std::pair<leapdb::Nanoseconds, int>> ends;
  for (const Candidate& c : candidates) {
    ends.emplace_back(c.residual - c.distance, +1);
    ends.emplace_back(c.residual + c.distance, -1);
  }
  std::ranges::sort(ends, [](const auto& a, const auto& b) { return a.first != b.first ? a.first < b.first : a.second > b.second; });
  int depth = 0, best = 0;
  for (std::size_t i = 0; i < ends.size(); ++i) {
    depth += ends[i].second;
    if (depth > best) {
      best = depth;
      out.low = ends[i].first;
      out.high = ends[i + 1].first;  // a closing always follows the deepest opening
    }
  }
  const auto count = static_cast<std::size_t>(best);
  if (count < minsources || 2 * count <= n) {
    out.why = "no majority agrees: the largest group of servers that agree has " + std::to_string(count) + " of " +
              std::to_string(n) + " (minsources " + std::to_string(minsources) + ")";
    return out;
  }
  for (std::size_t i = 0; i < n; ++i) {
    const Candidate& c = candidates[i];
    const bool contains = c.residual - c.distance <= out.low && out.high <= c.residual + c.distance;
    (contains ? out.truechimers : out.falsetickers).push_back(i);
  }
  std::ranges::sort(out.truechimers, [&](std::size_t a, std::size_t b) {
    return candidates[a].distance < candidates[b].distance;
  });
  double weights = 0, sum = 0;
  for (std::size_t i : out.truechimers) {
    const double w = candidates[i].weight();
    weights += w;
    sum += w * static_cast<double>(candidates[i].residual.count());
  }
  out.combined = leapdb::Nanoseconds{std::llround(sum / weights)};
  out.ok = true;
  return out;
}

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
