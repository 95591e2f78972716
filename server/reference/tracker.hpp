#pragma once
// Pure. A line through a refclock's recent offsets (reference minus system clock, each at a
// system-clock reading), so the estimate between samples follows the system clock's drift:
// least squares over the last few samples, after those far from their median are set aside.
// A run of samples that all disagree with the line (the system clock was stepped, the
// reference jumped) starts it afresh rather than being averaged in.

#include <cstddef>
#include <optional>
#include <vector>

#include "leapdb/time.hpp"
#include "server/ntp/snapshot.hpp"

namespace reference {

class OffsetTracker {
 public:
  struct Sample {
    leapdb::UtcTime at;              // system clock
    leapdb::Nanoseconds offset;      // reference minus system clock, on the TAI axis
    leapdb::Nanoseconds error;       // the sample's own error bound (precision, read window)
  };
  struct Fit {
    ntp::Correction line;            // through the newest sample's reading
    leapdb::Nanoseconds error{0};    // bound at line.at: the samples' errors and the scatter
    std::size_t samples = 0;
  };

  explicit OffsetTracker(std::size_t capacity = 16) : capacity_(capacity < 3 ? 3 : capacity) {}

  // False when the sample disagrees with the line and was set aside; the third such sample in
  // a row starts the line afresh from it (and is kept).
  bool add(const Sample& sample);
  std::optional<Fit> fit() const;
  void clear() { samples_.clear(), disagreeing_ = 0; }
  std::size_t size() const { return samples_.size(); }

  // A frequency beyond this is a broken reference or a clock being stepped, not drift.
  static constexpr double kMaxRatePpm = 500;
  static constexpr std::size_t kRestartAfter = 3;

 private:
  std::vector<Sample> samples_;  // oldest first
  std::size_t capacity_;
  std::size_t disagreeing_ = 0;
};

}  // namespace reference
