#pragma once
// Pure. The software clock an upstream reference serves from: TAI as CLOCK_MONOTONIC_RAW plus
// a phase, the raw oscillator never touched by anyone. The phase follows the measurements
// with a least-squares frequency over the recent ones and slews out what remains at a bounded
// rate; it steps only in the first updates, and only past a threshold (like chrony's makestep).

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "leapdb/time.hpp"

namespace reference::upstream {

// Phase (TAI minus raw) as a line over raw time.
struct Line {
  leapdb::Nanoseconds at{0};
  leapdb::Nanoseconds phase{0};
  leapdb::Rate rate{};
  leapdb::Nanoseconds at_raw(leapdb::Nanoseconds raw) const { return phase + rate.over(raw - at); }
};

struct Point {
  leapdb::Nanoseconds x{0};
  leapdb::Nanoseconds y{0};
};
// Least squares through points given oldest first, computed relative to the first point so
// doubles keep nanoseconds; none for fewer than two distinct x.
struct LineFit {
  double slope_ppm = 0;
  double slope_stderr_ppm = 0;  // infinite for two points
  Point first;
  double intercept_ns = 0;  // at first.x, relative to first.y
  leapdb::Nanoseconds value_at(leapdb::Nanoseconds x) const;
};
std::optional<LineFit> fit_line(std::span<const Point> points);

// A frequency as stored between runs: ppm and the standard error it was known to.
struct Drift {
  double ppm = 0;
  double stderr_ppm = 0;
};
// "ppm stderr\n", as chrony's driftfile. `error`: what is wrong, naming the line.
std::optional<Drift> parse_drift(std::string_view text, std::string& error);
std::string format_drift(const Drift& drift);

class SoftwareClock {
 public:
  static constexpr leapdb::Nanoseconds kSlewTimeConstant = std::chrono::seconds{16};
  static constexpr double kMaxSlewPpm = 500;
  static constexpr leapdb::Nanoseconds kStepThreshold = std::chrono::milliseconds{100};
  static constexpr int kStepUpdates = 3;  // of those made with the frequency known
  static constexpr std::size_t kRegressionPoints = 16;
  // A frequency is known once this many points span this long with at most this error.
  static constexpr std::size_t kLockPoints = 4;
  static constexpr leapdb::Nanoseconds kLockSpan = std::chrono::seconds{6};
  static constexpr double kLockStderrPpm = 5;
  // Before that, a frequency from three points over this span keeps the phase from running off.
  static constexpr leapdb::Nanoseconds kProvisionalSpan = std::chrono::seconds{2};

  explicit SoftwareClock(std::optional<Drift> stored = std::nullopt);

  bool started() const { return updates_ > 0; }
  // The frequency is known: from the regression, or from a stored drift until that has one.
  bool frequency_known() const { return frequency_known_; }
  Drift frequency() const { return frequency_; }
  leapdb::Nanoseconds pending() const { return pending_; }

  // Only once started.
  leapdb::Nanoseconds phase_at(leapdb::Nanoseconds raw) const;
  // The phase's slope at `raw`: frequency plus the slew then running.
  double rate_ppm_at(leapdb::Nanoseconds raw) const;
  Line line() const { return Line{at_, phase_, leapdb::Rate::from_ppm(frequency_.ppm)}; }

  // Moves the clock to `raw`, applying the slew. Raw times that went back are ignored.
  void advance(leapdb::Nanoseconds raw);
  // A new measurement of TAI minus raw at `raw`. Returns the step taken, if one was.
  std::optional<leapdb::Nanoseconds> update(leapdb::Nanoseconds raw, leapdb::Nanoseconds measured);

 private:
  double slew_ppm() const;

  leapdb::Nanoseconds at_{0};
  leapdb::Nanoseconds phase_{0};
  leapdb::Nanoseconds pending_{0};
  Drift frequency_;
  bool frequency_known_ = false;
  bool from_store_ = false;
  int updates_ = 0;
  int known_updates_ = 0;  // updates made with the frequency known
  std::vector<Point> points_;  // oldest first
};

}  // namespace reference::upstream
