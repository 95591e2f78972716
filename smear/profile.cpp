#include "smear/profile.hpp"

#include <charconv>
#include <cmath>

namespace smear {
namespace {

constexpr leapdb::Nanoseconds seconds(std::int64_t s) { return leapdb::Nanoseconds{s * 1'000'000'000}; }

// The quadratic curve: accelerate at `wander` until half the second is absorbed (or the
// ceiling is reached, then hold it), decelerate symmetrically. Ramp and window are rounded to
// the nanosecond; from then on the curve is computed exactly from these integers.
struct QuadraticTiming {
  leapdb::Nanoseconds ramp;
  leapdb::Nanoseconds window;
};

QuadraticTiming quadratic_timing(double wander_ppm_per_s, double max_frequency_ppm) {
  const double acceleration = wander_ppm_per_s * 1e-6;  // 1/s^2
  double ramp = std::sqrt(1.0 / acceleration);          // each half, without a ceiling
  double plateau = 0;
  if (max_frequency_ppm > 0 && acceleration * ramp > max_frequency_ppm * 1e-6) {
    const double ceiling = max_frequency_ppm * 1e-6;
    ramp = ceiling / acceleration;
    plateau = (1.0 - acceleration * ramp * ramp) / ceiling;
  }
  return {leapdb::Nanoseconds{std::llround(ramp * 1e9)}, leapdb::Nanoseconds{std::llround((2 * ramp + plateau) * 1e9)}};
}

Profile make(std::string name, Shape shape, Anchor anchor, leapdb::Nanoseconds window) {
  Profile p;
  p.name = std::move(name);
  p.shape = shape;
  p.anchor = anchor;
  p.window = window;
  return p;
}

Profile quadratic(std::string name, Anchor anchor, double wander, double max_frequency) {
  const QuadraticTiming timing = quadratic_timing(wander, max_frequency);
  Profile p = make(std::move(name), Shape::quadratic, anchor, timing.window);
  p.ramp = timing.ramp;
  p.wander_ppm_per_s = wander;
  p.max_frequency_ppm = max_frequency;
  return p;
}

std::optional<Profile> preset(std::string_view name) {
  if (name == "none") return make("none", Shape::none, Anchor::center, {});
  if (name == "google" || name == "aws") return make(std::string{name}, Shape::linear, Anchor::center, seconds(86400));
  if (name == "google-2016") return make("google-2016", Shape::linear, Anchor::center, seconds(72000));
  if (name == "ntpd") return make("ntpd", Shape::cosine, Anchor::end, seconds(86400));
  if (name == "ntpsec") return make("ntpsec", Shape::linear, Anchor::end, seconds(86400));
  if (name == "chrony" || name == "meta") return quadratic(std::string{name}, Anchor::start, 0.001024, 0);
  return std::nullopt;
}

std::optional<double> number(std::string_view text) {
  double value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc{} || end != text.data() + text.size() || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

// Windows from a minute (a rehearsal) to 30 days; shorter ones would step clients, not slew them.
constexpr double kMinWindowSeconds = 60;
constexpr double kMaxWindowSeconds = 30 * 86400;

}  // namespace

std::string_view to_string(Shape shape) {
  switch (shape) {
    case Shape::none: return "none";
    case Shape::linear: return "linear";
    case Shape::cosine: return "cosine";
    case Shape::quadratic: return "quadratic";
  }
  return "none";
}

std::string_view to_string(Anchor anchor) {
  switch (anchor) {
    case Anchor::center: return "center";
    case Anchor::end: return "end";
    case Anchor::start: return "start";
  }
  return "center";
}

const std::vector<Preset>& presets() {
  static const std::vector<Preset> all{
      {"google", "linear over 24 h, noon to noon UTC around the leap (Google public NTP, AWS Time Sync)"},
      {"aws", "the same as google"},
      {"google-2016", "linear over 20 h, 10 h each side (Google's smear of 2012 to 2016)"},
      {"ntpd", "cosine over the 86400 s that end at the leap (ntpd 'leapsmearinterval 86400')"},
      {"ntpsec", "linear over the 86400 s that end at the leap (NTPsec 'leapsmearinterval 86400')"},
      {"chrony", "quadratic from the leap, wander 0.001024 ppm/s: 62500 s, peak 32 ppm (chronyd "
                 "'smoothtime 400 0.001024 leaponly', 'leapsecmode slew')"},
      {"meta", "the same as chrony (Meta's fleet)"},
      {"none", "no smear: true UTC, the leap announced and inserted or deleted"},
  };
  return all;
}

ProfileResult parse_profile(std::string_view spec) {
  if (auto p = preset(spec)) return {std::move(p), {}};
  const std::size_t colon = spec.find(':');
  const std::string_view shape_name = spec.substr(0, colon);
  Shape shape;
  if (shape_name == "linear") {
    shape = Shape::linear;
  } else if (shape_name == "cosine") {
    shape = Shape::cosine;
  } else if (shape_name == "quadratic") {
    shape = Shape::quadratic;
  } else {
    return {std::nullopt, "unknown profile '" + std::string{spec} +
                              "': use a preset (google, aws, google-2016, ntpd, ntpsec, chrony, meta, none) or "
                              "linear:, cosine:, quadratic: with settings"};
  }
  std::optional<double> window, wander;
  double max_frequency = 0;
  Anchor anchor = shape == Shape::quadratic ? Anchor::start : Anchor::center;
  std::string_view rest = colon == std::string_view::npos ? std::string_view{} : spec.substr(colon + 1);
  while (!rest.empty()) {
    const std::size_t comma = rest.find(',');
    const std::string_view item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    const std::size_t equals = item.find('=');
    const std::string_view key = item.substr(0, equals);
    const std::string_view value = equals == std::string_view::npos ? std::string_view{} : item.substr(equals + 1);
    const std::string what = "profile '" + std::string{spec} + "': ";
    if (key == "anchor") {
      if (value == "center") {
        anchor = Anchor::center;
      } else if (value == "end") {
        anchor = Anchor::end;
      } else if (value == "start") {
        anchor = Anchor::start;
      } else {
        return {std::nullopt, what + "anchor must be center, end or start"};
      }
    } else if (key == "window" && shape != Shape::quadratic) {
      window = number(value);
      if (!window || *window < kMinWindowSeconds || *window > kMaxWindowSeconds) {
        return {std::nullopt, what + "window must be a number of seconds from 60 to 2592000"};
      }
    } else if (key == "wander" && shape == Shape::quadratic) {
      wander = number(value);
      if (!wander || *wander <= 0 || *wander > 1000) return {std::nullopt, what + "wander must be ppm/s above 0"};
    } else if (key == "max_frequency" && shape == Shape::quadratic) {
      const auto f = number(value);
      if (!f || *f <= 0 || *f > 100000) return {std::nullopt, what + "max_frequency must be ppm above 0"};
      max_frequency = *f;
    } else {
      return {std::nullopt, what + "unknown setting '" + std::string{key} + "' for " + std::string{shape_name}};
    }
  }
  if (shape == Shape::quadratic) {
    if (!wander) return {std::nullopt, "profile '" + std::string{spec} + "': quadratic needs wander=PPM_PER_S"};
    Profile p = quadratic(std::string{spec}, anchor, *wander, max_frequency);
    const double seconds_long = static_cast<double>(p.window.count()) / 1e9;
    if (seconds_long < kMinWindowSeconds || seconds_long > kMaxWindowSeconds) {
      return {std::nullopt, "profile '" + std::string{spec} + "': wander and max_frequency give a " +
                                std::to_string(std::llround(seconds_long)) + " s smear; it must last 60 s to 30 days"};
    }
    // The exact curve squares the elapsed nanoseconds: ramps past 400000 s would overflow it.
    if (p.ramp > std::chrono::seconds{400'000}) {
      return {std::nullopt, "profile '" + std::string{spec} +
                                "': each quadratic ramp would last over 400000 s; use a larger wander"};
    }
    return {std::move(p), {}};
  }
  if (!window) return {std::nullopt, "profile '" + std::string{spec} + "': needs window=SECONDS"};
  return {make(std::string{spec}, shape, anchor, leapdb::Nanoseconds{std::llround(*window * 1e9)}), {}};
}

}  // namespace smear
