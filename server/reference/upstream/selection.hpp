#pragma once
// Pure. Two ways a server shows that it smears rather than serving true UTC: no leap warning in
// the hours before a leap the table knows, and a steady drift against the other servers. Which
// servers tell the truth is intersection.hpp's, over their residuals.

#include <algorithm>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "leapdb/table.hpp"
#include "server/reference/intersection.hpp"
#include "server/reference/upstream/clock.hpp"
#include "server/reference/upstream/exchange.hpp"

namespace reference::upstream {

using reference::Candidate;
using reference::Selection;
using reference::select;

// Why a server announcing `leap` at `now` cannot be serving true UTC by the table, if it cannot.
std::optional<std::string> leap_refusal(ntp::LeapIndicator leap, const leapdb::LeapTable& table, leapdb::UtcTime now);
inline constexpr std::chrono::hours kLeapWarningWindow{12};

// One server's residual less the others' combined, over time. A server smearing a leap the
// others do not drifts at the smear's rate (11.6 ppm for a 24-hour linear smear of one second,
// far more in a rehearsal), where honest servers agree to a fraction of a ppm.
class DriftDetector {
 public:
  static constexpr std::size_t kPoints = 16;
  static constexpr std::size_t kMinPoints = 6;
  static constexpr leapdb::Nanoseconds kMinSpan = std::chrono::seconds{4};
  static constexpr double kMinDriftPpm = 5;
  static constexpr double kSignificance = 4;  // standard errors
  static constexpr leapdb::Nanoseconds kMinChange = std::chrono::milliseconds{1};

  void add(leapdb::Nanoseconds raw, leapdb::Nanoseconds difference);
  void clear() { points_.clear(); }
  // The drift in ppm when it is significant, large and has moved the server by enough.
  std::optional<double> drifting_ppm() const;

 private:
  std::vector<Point> points_;  // oldest first
};

}  // namespace reference::upstream
