#pragma once
// Pure. Which servers tell the truth, and what they say together: Marzullo's intersection of
// [residual - λ, residual + λ] (RFC 5905 §11.2.1); and two ways a server shows that it smears
// rather than serving true UTC: no leap warning in the hours before a leap the table knows,
// and a steady drift against the other servers.

#include <algorithm>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "leapdb/table.hpp"
#include "server/reference/upstream/clock.hpp"
#include "server/reference/upstream/exchange.hpp"

namespace reference::upstream {

struct Candidate {
  leapdb::Nanoseconds residual{0};
  leapdb::Nanoseconds distance{0};  // λ
  // What the candidate counts for in a combination: the closer to the truth it may be, the more.
  double weight() const { return 1.0 / static_cast<double>(std::max<std::int64_t>(distance.count(), 1)); }
};

struct Selection {
  bool ok = false;
  std::vector<std::size_t> truechimers;  // indices into the candidates, by distance, best first
  std::vector<std::size_t> falsetickers;
  leapdb::Nanoseconds combined{0};  // the truechimers' residuals weighted by 1/λ
  leapdb::Nanoseconds low{0}, high{0};  // the intersection
  std::string why;  // when not ok
};

// A majority of the candidates, and at least `minsources`, must share one intersection.
Selection select(std::span<const Candidate> candidates, std::size_t minsources);

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
