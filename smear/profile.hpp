#pragma once
// A smear profile as a value: the shape of the curve that spreads a leap second, how long it
// lasts and where it sits relative to the leap. Presets reproduce what fleets run today, so
// a fleet can move to smeard without its clients ever seeing two timescales.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "leapdb/time.hpp"

namespace smear {

enum class Shape { none, linear, cosine, quadratic };
enum class Anchor {
  center,  // half the window before the leap, half after (in UTC seconds)
  end,     // the window ends where the leap second begins
  start,   // the window starts where the leap second ends
};

struct Profile {
  std::string name;  // the preset's name, or the spec it was parsed from
  Shape shape = Shape::none;
  Anchor anchor = Anchor::center;
  // The window in UTC seconds. A window that spans the changed second lasts window + 1 SI
  // seconds for an inserted second (centred) and window - 1 for a deleted one (centred or
  // ending at the leap), as Google's noon-to-noon smear does.
  // For the quadratic shape it is derived from the wander (and the maximum frequency).
  leapdb::Nanoseconds window{0};
  // Quadratic only: how fast the frequency offset may change (ppm per second), and an
  // optional ceiling on it (ppm) that turns the middle of the curve into a straight plateau.
  double wander_ppm_per_s = 0;
  double max_frequency_ppm = 0;  // 0: no ceiling
  // Quadratic only: each accelerating half, derived from the above; window - 2 * ramp is the
  // plateau at the ceiling.
  leapdb::Nanoseconds ramp{0};
};

std::string_view to_string(Shape shape);
std::string_view to_string(Anchor anchor);

struct Preset {
  std::string_view name;
  std::string_view description;  // what it matches, and where that is documented
};
const std::vector<Preset>& presets();

struct ProfileResult {
  std::optional<Profile> profile;
  std::string error;  // set when there is no profile
};

// A preset name ("google", "aws", "google-2016", "ntpd", "ntpsec", "chrony", "meta", "none") or
// a custom spec "SHAPE:key=value,...": linear and cosine take window=SECONDS and
// anchor=center|end|start; quadratic takes wander=PPM_PER_S, optional max_frequency=PPM and
// anchor (default start).
ProfileResult parse_profile(std::string_view spec);

}  // namespace smear
