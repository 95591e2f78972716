#include "server/reference/upstream/clock.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>
#include <vector>

namespace reference::upstream {

namespace {

double ns(leapdb::Nanoseconds d) { return static_cast<double>(d.count()); }

}  // namespace

leapdb::Nanoseconds LineFit::value_at(leapdb::Nanoseconds x) const {
  const double dy = intercept_ns + slope_ppm * 1e-6 * ns(x - first.x);
  return first.y + leapdb::Nanoseconds{std::llround(dy)};
}

std::optional<LineFit> fit_line(std::span<const Point> points) {
  if (points.size() < 2) return std::nullopt;
  const Point first = points.front();
  double sx = 0, sy = 0;
  for (const Point& p : points) sx += ns(p.x - first.x), sy += ns(p.y - first.y);
  const double n = static_cast<double>(points.size());
  const double mx = sx / n, my = sy / n;
  double sxx = 0, sxy = 0;
  for (const Point& p : points) {
    const double dx = ns(p.x - first.x) - mx;
    sxx += dx * dx;
    sxy += dx * (ns(p.y - first.y) - my);
  }
  if (sxx <= 0) return std::nullopt;
  LineFit fit;
  fit.first = first;
  const double slope = sxy / sxx;
  fit.slope_ppm = slope * 1e6;
  fit.intercept_ns = my - slope * mx;
  if (points.size() < 3) {
    fit.slope_stderr_ppm = std::numeric_limits<double>::infinity();
    return fit;
  }
  double residuals = 0;
  for (const Point& p : points) {
    const double r = ns(p.y - first.y) - (fit.intercept_ns + slope * ns(p.x - first.x));
    residuals += r * r;
  }
  fit.slope_stderr_ppm = std::sqrt(residuals / (n - 2) / sxx) * 1e6;
  return fit;
}

std::optional<Drift> parse_drift(std::string_view text, std::string& error) {
  const std::size_t end = text.find('\n');
  const std::string_view line = text.substr(0, end);
  Drift drift;
  const char* p = line.data();
  const char* const last = line.data() + line.size();
  const auto number = [&](double& value, const char* field) {
    while (p < last && *p == ' ') ++p;
    const auto [next, ec] = std::from_chars(p, last, value);
    if (ec != std::errc{} || !std::isfinite(value)) {
      error = std::string{field} + ": expected a number";
      return false;
    }
    p = next;
    return true;
  };
  if (!number(drift.ppm, "frequency (ppm)") || !number(drift.stderr_ppm, "standard error (ppm)")) return std::nullopt;
  while (p < last && (*p == ' ' || *p == '\r')) ++p;
  if (p != last) {
    error = "unexpected text after the standard error";
    return std::nullopt;
  }
  if (std::abs(drift.ppm) > SoftwareClock::kMaxSlewPpm || drift.stderr_ppm < 0) {
    error = "frequency (ppm): out of range (at most 500 ppm, a non-negative error)";
    return std::nullopt;
  }
  return drift;
}

std::string format_drift(const Drift& drift) {
  char text[64];
  std::snprintf(text, sizeof text, "%.6f %.6f\n", drift.ppm, drift.stderr_ppm);
  return text;
}

SoftwareClock::SoftwareClock(std::optional<Drift> stored) {
  if (stored) frequency_ = *stored, frequency_known_ = true, from_store_ = true;
}

double SoftwareClock::slew_ppm() const {
  return std::clamp(ns(pending_) / ns(kSlewTimeConstant) * 1e6, -kMaxSlewPpm, kMaxSlewPpm);
}

double SoftwareClock::rate_ppm_at(leapdb::Nanoseconds) const { return frequency_.ppm + slew_ppm(); }

leapdb::Nanoseconds SoftwareClock::phase_at(leapdb::Nanoseconds raw) const {
  SoftwareClock copy = *this;
  if (raw < at_) return phase_ + leapdb::Rate::from_ppm(frequency_.ppm).over(raw - at_);
  copy.advance(raw);
  return copy.phase_;
}

void SoftwareClock::advance(leapdb::Nanoseconds raw) {
  if (raw <= at_) return;
  const leapdb::Nanoseconds elapsed = raw - at_;
  // The exponential of chrony's slew, piecewise at the tick: pending/τ a second, bounded.
  leapdb::Nanoseconds slew = leapdb::Rate::from_ppm(slew_ppm()).over(elapsed);
  if (std::abs(slew.count()) > std::abs(pending_.count())) slew = pending_;
  phase_ += leapdb::Rate::from_ppm(frequency_.ppm).over(elapsed) + slew;
  pending_ -= slew;
  at_ = raw;
}

std::optional<leapdb::Nanoseconds> SoftwareClock::update(leapdb::Nanoseconds raw, leapdb::Nanoseconds measured) {
  points_.push_back({raw, measured});
  if (points_.size() > kRegressionPoints) points_.erase(points_.begin());
  const bool was_known = frequency_known_;
  if (was_known) ++known_updates_;
  if (updates_++ == 0) {
    at_ = raw, phase_ = measured, pending_ = {};
    return std::nullopt;
  }
  advance(raw);

  const std::optional<LineFit> fit = fit_line(points_);
  const leapdb::Nanoseconds span = points_.back().x - points_.front().x;
  if (fit && points_.size() >= 3 && span >= kProvisionalSpan && std::abs(fit->slope_ppm) <= kMaxSlewPpm) {
    const bool good = points_.size() >= kLockPoints && span >= kLockSpan && fit->slope_stderr_ppm <= kLockStderrPpm;
    // A stored drift stays until the regression knows the frequency as well; once known, a
    // noisier stretch does not make it unknown again.
    if (good || !from_store_) frequency_ = Drift{fit->slope_ppm, fit->slope_stderr_ppm}, from_store_ = false;
    frequency_known_ = frequency_known_ || good;
  }
  const leapdb::Nanoseconds target = fit && points_.size() >= 3 ? fit->value_at(raw) : measured;
  const leapdb::Nanoseconds error = target - phase_at(raw);
  // Until the frequency is known nothing is served from this clock: it follows the measurements.
  if (!was_known) {
    phase_ += error;
    pending_ = {};
    return std::nullopt;
  }
  if (known_updates_ <= kStepUpdates && std::abs(error.count()) > kStepThreshold.count()) {
    phase_ += error;
    pending_ = {};
    return error;
  }
  pending_ = error;
  return std::nullopt;
}

}  // namespace reference::upstream
