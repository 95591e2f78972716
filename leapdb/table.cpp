#include "leapdb/table.hpp"

#include <algorithm>

namespace leapdb {

std::string_view to_string(Format format) {
  switch (format) {
    case Format::leap_seconds_list: return "leap-seconds.list";
    case Format::tzdata_leapseconds: return "tzdata leapseconds";
    case Format::tzif: return "TZif";
  }
  return "unknown";
}

std::string_view to_string(HashStatus status) {
  switch (status) {
    case HashStatus::ok: return "ok";
    case HashStatus::missing: return "missing";
    case HashStatus::mismatch: return "mismatch";
    case HashStatus::not_applicable: return "n/a";
  }
  return "n/a";
}

int LeapTable::tai_utc_at(UtcTime t) const {
  // The last leap in force at t; a deleted second's instants already count as after it.
  const auto after = std::upper_bound(leaps.begin(), leaps.end(), t, [](UtcTime value, const Leap& leap) {
    return value < (leap.sign < 0 ? leap.effective - std::chrono::seconds{1} : leap.effective);
  });
  return after == leaps.begin() ? initial_tai_utc : std::prev(after)->tai_utc;
}

int LeapTable::tai_utc_at(TaiTime t) const {
  // In TAI the offset changes where the changed second begins: at 23:59:60 for an inserted
  // second (so it comes out as a repeated 23:59:59), at the new midnight for a deleted one.
  const auto after = std::upper_bound(leaps.begin(), leaps.end(), t, [](TaiTime value, const Leap& leap) {
    const int previous = leap.tai_utc - leap.sign;
    const auto starts = TaiTime{leap.effective.time_since_epoch()} + std::chrono::seconds{previous} -
                        (leap.sign > 0 ? std::chrono::seconds{0} : std::chrono::seconds{1});
    return value < starts;
  });
  return after == leaps.begin() ? initial_tai_utc : std::prev(after)->tai_utc;
}

TaiTime LeapTable::to_tai(UtcTime t) const {
  // One search serves both questions: the next leap, and (from the one before it) the offset.
  const auto next = std::upper_bound(leaps.begin(), leaps.end(), t,
                                     [](UtcTime value, const Leap& leap) { return value < leap.effective; });
  int offset = next == leaps.begin() ? initial_tai_utc : std::prev(next)->tai_utc;
  // Instants inside a deleted second do not exist in UTC: treat them as the next midnight.
  if (next != leaps.end() && next->sign < 0 && t >= next->effective - std::chrono::seconds{1}) {
    t = next->effective;
    offset = next->tai_utc;
  }
  return TaiTime{t.time_since_epoch()} + std::chrono::seconds{offset};
}

UtcTime LeapTable::to_utc(TaiTime t) const {
  return UtcTime{t.time_since_epoch()} - std::chrono::seconds{tai_utc_at(t)};
}

LeapTable with_extra_leap(const LeapTable& table, UtcTime effective, int sign) {
  LeapTable out = table;
  const auto at = std::upper_bound(out.leaps.begin(), out.leaps.end(), effective,
                                   [](UtcTime value, const Leap& leap) { return value < leap.effective; });
  const int before = at == out.leaps.begin() ? out.initial_tai_utc : std::prev(at)->tai_utc;
  const auto inserted = out.leaps.insert(at, Leap{effective, sign, before + sign, 0});
  for (auto later = std::next(inserted); later != out.leaps.end(); ++later) later->tai_utc += sign;
  return out;
}

std::string format_utc(const LeapTable& table, TaiTime t) {
  const UtcTime utc = table.to_utc(t);
  std::string text = format_rfc3339(utc);
  // Inside an inserted second to_utc repeats 23:59:59; the first 23:59:59 maps back to t.
  if (table.to_tai(utc) != t) text.replace(17, 2, "60");
  return text;
}

const Leap* LeapTable::next_leap_after(UtcTime t) const {
  const auto it = std::upper_bound(leaps.begin(), leaps.end(), t,
                                   [](UtcTime value, const Leap& leap) { return value < leap.effective; });
  return it == leaps.end() ? nullptr : &*it;
}

bool LeapTable::leap_within(UtcTime t, Nanoseconds guard) const {
  const Leap* next = next_leap_after(t - guard);
  return next != nullptr && next->effective <= t + guard;
}

}  // namespace leapdb
