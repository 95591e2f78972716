#include "server/reference/tracker.hpp"

#include <algorithm>
#include <cmath>

namespace reference {
namespace {

constexpr double kNanosPerSecond = 1e9;

leapdb::Nanoseconds median_offset(std::vector<leapdb::Nanoseconds> offsets) {
  const auto middle = offsets.begin() + static_cast<std::ptrdiff_t>(offsets.size() / 2);
  std::nth_element(offsets.begin(), middle, offsets.end());
  return *middle;
}

}  // namespace

bool OffsetTracker::add(const Sample& sample) {
  if (!samples_.empty() && sample.at <= samples_.back().at) {
    // Readings go forward; one that does not is a stepped system clock: start afresh.
    clear();
  }
  if (const std::optional<Fit> line = fit(); line && line->samples >= 3) {
    const leapdb::Nanoseconds miss = sample.offset - line->line.of(sample.at);
    const leapdb::Nanoseconds allowed =
        std::max<leapdb::Nanoseconds>(5 * (line->error + sample.error), std::chrono::microseconds{10});
    if (std::chrono::abs(miss) > allowed) {
      if (++disagreeing_ < kRestartAfter) return false;
      clear();
    }
  }
  disagreeing_ = 0;
  samples_.push_back(sample);
  if (samples_.size() > capacity_) samples_.erase(samples_.begin());
  return true;
}

std::optional<OffsetTracker::Fit> OffsetTracker::fit() const {
  if (samples_.empty()) return std::nullopt;
  const Sample& newest = samples_.back();
  std::vector<leapdb::Nanoseconds> offsets;
  leapdb::Nanoseconds worst_error{0};
  for (const Sample& s : samples_) {
    offsets.push_back(s.offset);
    worst_error = std::max(worst_error, s.error);
  }
  const leapdb::Nanoseconds median = median_offset(offsets);

  // Set aside samples far from the median: more than three times the median distance from it
  // (and more than their own error), as a median filter would.
  std::vector<leapdb::Nanoseconds> distances;
  for (const Sample& s : samples_) distances.push_back(std::chrono::abs(s.offset - median));
  const leapdb::Nanoseconds spread = median_offset(distances);
  std::vector<const Sample*> kept;
  for (const Sample& s : samples_) {
    if (std::chrono::abs(s.offset - median) <= std::max(3 * spread, s.error)) kept.push_back(&s);
  }

  Fit out;
  out.samples = kept.size();
  out.line.at = newest.at;
  // Seconds before the newest reading, and nanoseconds from the median: small, exact in double.
  const double span = static_cast<double>((newest.at - kept.front()->at).count()) / kNanosPerSecond;
  double slope = 0, intercept = 0;
  if (kept.size() >= 3 && span >= 2.0) {
    double sum_t = 0, sum_y = 0;
    for (const Sample* s : kept) {
      sum_t += static_cast<double>((s->at - newest.at).count()) / kNanosPerSecond;
      sum_y += static_cast<double>((s->offset - median).count());
    }
    const double n = static_cast<double>(kept.size());
    const double mean_t = sum_t / n, mean_y = sum_y / n;
    double stt = 0, sty = 0;
    for (const Sample* s : kept) {
      const double t = static_cast<double>((s->at - newest.at).count()) / kNanosPerSecond - mean_t;
      stt += t * t;
      sty += t * (static_cast<double>((s->offset - median).count()) - mean_y);
    }
    slope = sty / stt;  // ns per s: ppb
    if (std::abs(slope) > kMaxRatePpm * 1e3) slope = 0;
    intercept = mean_y - slope * mean_t;  // at the newest reading
  } else {
    double sum_y = 0;
    for (const Sample* s : kept) sum_y += static_cast<double>((s->offset - median).count());
    intercept = sum_y / static_cast<double>(kept.size());
  }
  double squares = 0;
  for (const Sample* s : kept) {
    const double t = static_cast<double>((s->at - newest.at).count()) / kNanosPerSecond;
    const double miss = static_cast<double>((s->offset - median).count()) - (intercept + slope * t);
    squares += miss * miss;
  }
  const double scatter = std::sqrt(squares / static_cast<double>(kept.size()));
  out.line.offset = median + leapdb::Nanoseconds{std::llround(intercept)};
  out.line.rate = leapdb::Rate::from_ppm(slope / 1e3);
  out.error = worst_error + leapdb::Nanoseconds{std::llround(2 * scatter)};
  return out;
}

}  // namespace reference
