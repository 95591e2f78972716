#pragma once
// A leap-second table as a value, and what it answers: TAI-UTC at any instant, the next leap,
// whether it has expired. Built by the parsers (parse.hpp) from any source format.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "leapdb/time.hpp"

namespace leapdb {

struct Leap {
  // The first UTC instant with the new TAI-UTC: midnight at the start of a month.
  UtcTime effective;
  // +1: 23:59:60 is inserted at the end of the previous day; -1: 23:59:59 is deleted.
  int sign = 1;
  int tai_utc = 0;  // TAI - UTC in seconds from `effective` on
  int line = 0;     // where the source stated it (0: not applicable)

  // The UTC day whose last minute has 61 (or 59) seconds.
  std::chrono::sys_days day() const { return std::chrono::floor<std::chrono::days>(effective) - std::chrono::days{1}; }
  friend bool operator==(const Leap& a, const Leap& b) {
    return a.effective == b.effective && a.sign == b.sign && a.tai_utc == b.tai_utc;
  }
};

enum class Format { leap_seconds_list, tzdata_leapseconds, tzif };
std::string_view to_string(Format format);

enum class HashStatus { ok, missing, mismatch, not_applicable };
std::string_view to_string(HashStatus status);  // "ok", "missing", "mismatch", "n/a"

struct LeapTable {
  std::string source;
  Format format = Format::leap_seconds_list;
  HashStatus hash = HashStatus::not_applicable;
  // TAI - UTC before the first leap. 10 s since 1972-01-01; earlier instants, when UTC was
  // not yet an integer offset from TAI, are given the same value.
  int initial_tai_utc = 10;
  std::vector<Leap> leaps;  // strictly increasing
  std::optional<UtcTime> expires;
  std::optional<UtcTime> last_update;

  int tai_utc_at(UtcTime t) const;
  int tai_utc_at(TaiTime t) const;
  TaiTime to_tai(UtcTime t) const;
  // An inserted second comes out as 23:59:59 a second time, as NTP and POSIX clocks show it.
  // A deleted second's instants map to the following midnight.
  UtcTime to_utc(TaiTime t) const;
  // The first leap strictly after t, or nullptr.
  const Leap* next_leap_after(UtcTime t) const;
  // A leap takes effect in (t - guard, t + guard]: POSIX readings that close are ambiguous.
  bool leap_within(UtcTime t, Nanoseconds guard) const;
  bool expired_at(UtcTime t) const { return expires && t >= *expires; }
};

// A copy of the table with one more leap taking effect at `effective` (any instant: rehearsal
// leaps need not fall at a month's start); later leaps shift by its sign.
LeapTable with_extra_leap(const LeapTable& table, UtcTime effective, int sign);

// RFC 3339 for the UTC reading of a TAI instant, naming an inserted second 23:59:60.
std::string format_utc(const LeapTable& table, TaiTime t);

}  // namespace leapdb
