#pragma once
// What one timescale serves at any TAI instant: a leap table and a profile in, served time,
// its offset from true UTC, progress, frequency and leap indicator out. Pure and exact to the
// nanosecond: linear and quadratic curves are computed with 128-bit integers, the cosine in
// double precision (its error bound is proved in the tests).

#include <optional>
#include <string>
#include <vector>

#include "leapdb/table.hpp"
#include "smear/profile.hpp"

namespace smear {

struct Served {
  leapdb::UtcTime time;          // on the served timescale, counted like POSIX UTC
  leapdb::Nanoseconds offset;    // served time minus true UTC
  bool active = false;           // inside a smear window
  double progress = 0;           // 0..1 through the window of the nearest leap not yet fully smeared
  double frequency_ppm = 0;      // served rate minus 1 (negative: running slow)
  int leap_indicator = 0;        // 0 when smearing; on true UTC 1 (insert) or 2 (delete) while announced
};

// One leap's smear window on the TAI axis, and the offsets on either side of it.
struct Window {
  leapdb::TaiTime begins;
  leapdb::TaiTime ends;
  int sign = 1;
  int tai_utc_before = 0;
  leapdb::UtcTime leap;  // the leap's effective instant (midnight after the changed second)
};

// A stretch of TAI on which a timescale is TAI minus a constant: no smear in progress, no
// leap, the leap indicator unchanged. Workers answer from it without searching any table;
// outside it (or when it is empty) they ask Smearer::at.
struct Steady {
  leapdb::TaiTime from{};   // inclusive
  leapdb::TaiTime until{};  // exclusive; from == until: empty
  leapdb::Nanoseconds shift{0};  // TAI minus served time
  Served values;  // what at() returns in the stretch, but for `time`

  bool contains(leapdb::TaiTime t) const { return from <= t && t < until; }
};

class Smearer {
 public:
  struct Result;
  // Refuses leaps closer together than the profile's window. `announce` is how long before a
  // leap true UTC raises the leap indicator (the last UTC day, by default).
  static Result make(const leapdb::LeapTable& table, const Profile& profile,
                     leapdb::Nanoseconds announce = std::chrono::hours{24});

  Served at(leapdb::TaiTime t) const;
  // The same answer, from `steady` when it holds t: a hot path's shortcut.
  Served at(leapdb::TaiTime t, const Steady& steady) const {
    if (!steady.contains(t)) return at(t);
    Served out = steady.values;
    out.time = leapdb::UtcTime{t.time_since_epoch() - steady.shift};
    return out;
  }
  // The longest steady stretch around t, bounded by every instant where a smear begins or ends,
  // TAI-UTC changes or the leap indicator may change; empty while t is inside a smear.
  Steady steady_around(leapdb::TaiTime t) const;
  // The TAI instant at which this timescale serves `served` (the first one, to the nanosecond).
  leapdb::TaiTime unsmear(leapdb::UtcTime served) const;

  const Profile& profile() const { return profile_; }
  const leapdb::LeapTable& table() const { return table_; }
  const std::vector<Window>& windows() const { return windows_; }
  // The largest |frequency offset| the profile can reach, in ppm.
  double max_frequency_ppm() const;

 private:
  Smearer(leapdb::LeapTable table, Profile profile, std::vector<Window> windows, leapdb::Nanoseconds announce);
  // Nanoseconds of the leap absorbed after `elapsed` of a window `length` long, and how fast
  // (nanoseconds absorbed per nanosecond elapsed).
  std::int64_t absorbed_ns(std::int64_t elapsed, std::int64_t length) const;
  double absorbed_rate(std::int64_t elapsed, std::int64_t length) const;
  leapdb::UtcTime served_time(leapdb::TaiTime t) const;

  leapdb::LeapTable table_;
  Profile profile_;
  std::vector<Window> windows_;
  leapdb::Nanoseconds announce_;
};

struct Smearer::Result {
  std::optional<Smearer> smearer;
  std::string error;
};

}  // namespace smear
