#pragma once
// Pure. The last few samples of one server and the one to trust: the newest, unless its delay
// shows it was queued (queueing only ever adds delay and asymmetry), and then the least
// delayed. Samples are compared by their residual against a phase line, so an old sample is
// not judged by a clock that has moved since.

#include <cstddef>
#include <optional>
#include <vector>

#include "server/reference/upstream/clock.hpp"
#include "server/reference/upstream/exchange.hpp"

namespace reference::upstream {

class SampleFilter {
 public:
  static constexpr std::size_t kSamples = 8;
  // What a delay may exceed twice the window's least by and still count as unqueued: the
  // resolution of the timestamps on a fast path.
  static constexpr leapdb::Nanoseconds kDelayAllowance = std::chrono::microseconds{20};

  struct Best {
    Measurement sample;
    leapdb::Nanoseconds residual{0};  // the sample's offset minus the line at its time
    leapdb::Nanoseconds jitter{0};    // RMS of the other samples' residuals about it
  };

  void add(const Measurement& sample);
  void clear() { samples_.clear(); }
  bool empty() const { return samples_.empty(); }
  const Measurement& newest() const { return samples_.back(); }
  std::optional<Best> best(const Line& line) const;

 private:
  std::vector<Measurement> samples_;  // oldest first
};

}  // namespace reference::upstream
