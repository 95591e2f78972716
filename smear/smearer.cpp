#include "smear/smearer.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace smear {
namespace {

using leapdb::Int128;
using leapdb::Nanoseconds;
using leapdb::TaiTime;
using leapdb::UtcTime;
using std::chrono::seconds;

constexpr std::int64_t kSecondNs = 1'000'000'000;

// round(numerator / denominator) for numerator >= 0, denominator > 0.
std::int64_t rounded_quotient(Int128 numerator, Int128 denominator) {
  return static_cast<std::int64_t>((numerator + denominator / 2) / denominator);
}

// A leap by what it is: a real one at the end of its day, a rehearsal's at its instant.
std::string leap_text(const Window& w) {
  const std::chrono::sys_days day = std::chrono::floor<std::chrono::days>(w.leap);
  if (w.leap == day) return "the leap at the end of " + leapdb::format_date(day - std::chrono::days{1});
  std::string instant = leapdb::format_rfc3339(w.leap);
  if (const auto zeros = instant.find(".000000000Z"); zeros != std::string::npos) instant.replace(zeros, 11, "Z");
  return "the leap at " + instant;
}

// Quadratic timing fitted to a window of `length`: each ramp at most half of it.
struct Ramps {
  std::int64_t ramp;
  std::int64_t ramp_plus_plateau;  // r + p: the denominator of every branch
};

Ramps ramps(const Profile& profile, std::int64_t length) {
  const std::int64_t ramp = std::min(profile.ramp.count(), length / 2);
  return {ramp, length - ramp};
}

}  // namespace

Smearer::Smearer(leapdb::LeapTable table, Profile profile, std::vector<Window> windows, Nanoseconds announce)
    : table_(std::move(table)), profile_(std::move(profile)), windows_(std::move(windows)), announce_(announce) {}

Smearer::Result Smearer::make(const leapdb::LeapTable& table, const Profile& profile, Nanoseconds announce) {
  std::vector<Window> windows;
  if (profile.shape != Shape::none) {
    for (const leapdb::Leap& leap : table.leaps) {
      Window w;
      w.sign = leap.sign;
      w.tai_utc_before = leap.tai_utc - leap.sign;
      w.leap = leap.effective;
      const Nanoseconds midnight = leap.effective.time_since_epoch();
      const TaiTime midnight_tai{midnight + seconds{leap.tai_utc}};
      // Where the changed second begins in TAI: 23:59:60 for an inserted one; for a deleted
      // one there is no such second, and the new midnight follows 23:59:58 directly.
      const TaiTime changed = leap.sign > 0 ? midnight_tai - seconds{1} : midnight_tai;
      switch (profile.anchor) {
        case Anchor::center:
          w.begins = TaiTime{midnight - profile.window / 2 + seconds{w.tai_utc_before}};
          w.ends = TaiTime{midnight + profile.window / 2 + seconds{leap.tai_utc}};
          break;
        case Anchor::end:
          // Counted in UTC seconds, like the other anchors: the last `window` seconds of UTC
          // before the leap, which lasts one SI second less when 23:59:59 is deleted.
          w.begins = TaiTime{midnight - profile.window + seconds{w.tai_utc_before}};
          w.ends = changed;
          break;
        case Anchor::start:
          w.begins = midnight_tai;
          w.ends = midnight_tai + profile.window;
          break;
      }
      if (!windows.empty() && windows.back().ends > w.begins) {
        return {std::nullopt, leap_text(windows.back()) + " and " + leap_text(w) +
                                  " are closer than the '" + profile.name + "' smear window (" +
                                  std::to_string(profile.window.count() / kSecondNs) + " s): their smears would overlap"};
      }
      windows.push_back(w);
    }
  }
  return {Smearer{table, profile, std::move(windows), announce}, {}};
}

std::int64_t Smearer::absorbed_ns(std::int64_t elapsed, std::int64_t length) const {
  switch (profile_.shape) {
    case Shape::none: return 0;
    case Shape::linear: return rounded_quotient(Int128{elapsed} * kSecondNs, length);
    case Shape::cosine: {
      // Double is enough: the argument and the result are both off by under 1e-15 relative,
      // i.e. under 1e-6 ns on a one-second leap (tested against quad precision).
      const double phase = std::numbers::pi * static_cast<double>(elapsed) / static_cast<double>(length);
      return std::llround((1.0 - std::cos(phase)) / 2.0 * 1e9);
    }
    case Shape::quadratic: {
      const Ramps r = ramps(profile_, length);
      const Int128 denominator = Int128{2} * r.ramp * r.ramp_plus_plateau;
      if (elapsed <= r.ramp) return rounded_quotient(Int128{elapsed} * elapsed * kSecondNs, denominator);
      if (elapsed <= r.ramp_plus_plateau) {
        return rounded_quotient((Int128{2} * elapsed - r.ramp) * kSecondNs, Int128{2} * r.ramp_plus_plateau);
      }
      const Int128 left = length - elapsed;
      return kSecondNs - rounded_quotient(left * left * kSecondNs, denominator);
    }
  }
  return 0;
}

double Smearer::absorbed_rate(std::int64_t elapsed, std::int64_t length) const {
  const auto e = static_cast<double>(elapsed);
  const auto l = static_cast<double>(length);
  switch (profile_.shape) {
    case Shape::none: return 0;
    case Shape::linear: return 1e9 / l;
    case Shape::cosine: return 1e9 * std::numbers::pi / (2 * l) * std::sin(std::numbers::pi * e / l);
    case Shape::quadratic: {
      const Ramps r = ramps(profile_, length);
      const auto ramp = static_cast<double>(r.ramp);
      const auto rp = static_cast<double>(r.ramp_plus_plateau);
      if (elapsed <= r.ramp) return 1e9 * e / (ramp * rp);
      if (elapsed <= r.ramp_plus_plateau) return 1e9 / rp;
      return 1e9 * (l - e) / (ramp * rp);
    }
  }
  return 0;
}

UtcTime Smearer::served_time(TaiTime t) const {
  if (windows_.empty()) return table_.to_utc(t);
  const auto it = std::upper_bound(windows_.begin(), windows_.end(), t,
                                   [](TaiTime value, const Window& w) { return value < w.ends; });
  if (it == windows_.end()) {
    const Window& last = windows_.back();
    return UtcTime{t.time_since_epoch() - seconds{last.tai_utc_before + last.sign}};
  }
  const UtcTime before{t.time_since_epoch() - seconds{it->tai_utc_before}};
  if (t < it->begins) return before;
  const std::int64_t absorbed = absorbed_ns((t - it->begins).count(), (it->ends - it->begins).count());
  return before - Nanoseconds{it->sign * absorbed};
}

Served Smearer::at(TaiTime t) const {
  Served out;
  out.time = served_time(t);
  const UtcTime true_utc = table_.to_utc(t);
  out.offset = out.time - true_utc;
  if (profile_.shape == Shape::none) {
    const leapdb::Leap* next = table_.next_leap_after(true_utc);
    if (next != nullptr && next->effective - true_utc <= announce_) out.leap_indicator = next->sign > 0 ? 1 : 2;
    return out;
  }
  if (windows_.empty()) return out;
  // The window of the nearest leap not yet fully smeared, or the last one.
  auto it = std::lower_bound(windows_.begin(), windows_.end(), t,
                             [](const Window& w, TaiTime value) { return w.ends < value; });
  if (it == windows_.end()) it = std::prev(windows_.end());
  if (t < it->begins) return out;
  if (t >= it->ends) {
    out.progress = 1;
    return out;
  }
  const std::int64_t elapsed = (t - it->begins).count();
  const std::int64_t length = (it->ends - it->begins).count();
  out.active = true;
  out.progress = static_cast<double>(elapsed) / static_cast<double>(length);
  out.frequency_ppm = -it->sign * absorbed_rate(elapsed, length) * 1e6;
  return out;
}

Steady Smearer::steady_around(TaiTime t) const {
  TaiTime from = TaiTime::min();
  TaiTime until = TaiTime::max();
  const auto bound = [&](TaiTime edge) {
    if (edge <= t) from = std::max(from, edge);
    if (edge > t) until = std::min(until, edge);
  };
  for (const leapdb::Leap& leap : table_.leaps) {
    const seconds before{leap.tai_utc - leap.sign};
    const seconds after{leap.tai_utc};
    // Both midnights in TAI: between them lies the inserted second, or TAI-UTC changes.
    bound(TaiTime{leap.effective.time_since_epoch() + before} - seconds{1});
    bound(TaiTime{leap.effective.time_since_epoch() + before});
    bound(TaiTime{leap.effective.time_since_epoch() + after});
    // Where true UTC starts announcing it.
    bound(TaiTime{leap.effective.time_since_epoch() - announce_ + before});
  }
  for (const Window& w : windows_) {
    if (w.begins <= t && t < w.ends) return Steady{};
    bound(w.begins);
    bound(w.ends);
    bound(w.ends + Nanoseconds{1});  // at() reports progress 1 at the very end, 0 just after
  }
  Steady steady{from, until, t - TaiTime{served_time(t).time_since_epoch()}, at(t)};
  steady.values.time = UtcTime{};
  return steady;
}

TaiTime Smearer::unsmear(UtcTime served) const {
  if (windows_.empty()) return table_.to_tai(served);
  const auto served_end = [](const Window& w) {
    return UtcTime{w.ends.time_since_epoch() - seconds{w.tai_utc_before + w.sign}};
  };
  const auto it = std::upper_bound(windows_.begin(), windows_.end(), served,
                                   [&](UtcTime value, const Window& w) { return value < served_end(w); });
  if (it == windows_.end()) {
    const Window& last = windows_.back();
    return TaiTime{served.time_since_epoch() + seconds{last.tai_utc_before + last.sign}};
  }
  const TaiTime before{served.time_since_epoch() + seconds{it->tai_utc_before}};
  if (before < it->begins) return before;
  // Served time is non-decreasing through the window: find the first instant serving it.
  TaiTime low = it->begins;
  TaiTime high = it->ends;
  while (low < high) {
    const TaiTime middle = low + (high - low) / 2;
    if (served_time(middle) < served) {
      low = middle + Nanoseconds{1};
    } else {
      high = middle;
    }
  }
  return low;
}

double Smearer::max_frequency_ppm() const {
  double peak = 0;
  for (const Window& w : windows_) {
    const std::int64_t length = (w.ends - w.begins).count();
    const std::int64_t steepest = profile_.shape == Shape::cosine ? length / 2 : ramps(profile_, length).ramp;
    peak = std::max(peak, absorbed_rate(steepest, length) * 1e6);
  }
  return peak;
}

}  // namespace smear
