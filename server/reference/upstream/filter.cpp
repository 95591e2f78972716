#include "server/reference/upstream/filter.hpp"

#include <cmath>

namespace reference::upstream {

void SampleFilter::add(const Measurement& sample) {
  if (samples_.size() == kSamples) samples_.erase(samples_.begin());
  samples_.push_back(sample);
}

std::optional<SampleFilter::Best> SampleFilter::best(const Line& line) const {
  if (samples_.empty()) return std::nullopt;
  const Measurement* least = &samples_.back();
  for (const Measurement& m : samples_) {
    if (m.delay < least->delay) least = &m;
  }
  // The newest sample unless it was queued: always taking the least delayed one would keep a
  // lucky old sample for eight polls and starve the clock of fresh measurements.
  if (samples_.back().delay <= 2 * least->delay + kDelayAllowance) least = &samples_.back();
  Best out{*least, least->offset - line.at_raw(least->raw), {}};
  if (samples_.size() > 1) {
    double sum = 0;
    for (const Measurement& m : samples_) {
      const double d = static_cast<double>((m.offset - line.at_raw(m.raw) - out.residual).count());
      sum += d * d;
    }
    out.jitter = leapdb::Nanoseconds{std::llround(std::sqrt(sum / static_cast<double>(samples_.size() - 1)))};
  }
  return out;
}

}  // namespace reference::upstream
