// tzdata's leapseconds: "Leap YEAR MON DAY HH:MM:SS +|- S|R" per leap, "Expires YEAR MON DAY
// HH:MM:SS" (or, in releases that keep it commented out, "#Expires ..."), and the comments
// "#updated UNIX-SECONDS" and "#expires UNIX-SECONDS". TAI-UTC starts at 10 s.

#include <array>
#include <string>

#include "leapdb/lines.hpp"
#include "leapdb/parse.hpp"

namespace leapdb {
namespace {

std::optional<unsigned> month_number(std::string_view name) {
  static constexpr std::array<std::string_view, 12> kMonths{"jan", "feb", "mar", "apr", "may", "jun",
                                                            "jul", "aug", "sep", "oct", "nov", "dec"};
  if (name.size() < 3) return std::nullopt;
  for (std::size_t i = 0; i < kMonths.size(); ++i) {
    bool same = true;
    for (std::size_t j = 0; j < 3; ++j) {
      same = same && (name[j] | 0x20) == kMonths[i][j];
    }
    if (same) return static_cast<unsigned>(i + 1);
  }
  return std::nullopt;
}

struct DateTime {
  std::chrono::sys_days day;
  int hour = 0, minute = 0, second = 0;
};

// "YEAR MON DAY HH:MM:SS" from four fields; seconds may be 60 (a leap second's own label).
std::optional<DateTime> date_time(std::string_view year, std::string_view month, std::string_view day,
                                  std::string_view time) {
  const auto y = lines::integer(year);
  const auto m = month_number(month);
  const auto d = lines::integer(day);
  if (!y || !m || !d || time.size() != 8 || time[2] != ':' || time[5] != ':') return std::nullopt;
  const auto h = lines::integer(time.substr(0, 2));
  const auto mi = lines::integer(time.substr(3, 2));
  const auto s = lines::integer(time.substr(6, 2));
  if (!h || !mi || !s || *h > 23 || *mi > 59 || *s > 60 || *d < 1 || *d > 31) return std::nullopt;
  if (*y < 1900 || *y >= 2200) return std::nullopt;
  const std::chrono::year_month_day date{std::chrono::year{static_cast<int>(*y)}, std::chrono::month{*m},
                                         std::chrono::day{static_cast<unsigned>(*d)}};
  if (!date.ok()) return std::nullopt;
  return DateTime{std::chrono::sys_days{date}, static_cast<int>(*h), static_cast<int>(*mi), static_cast<int>(*s)};
}

}  // namespace

ParseResult parse_tzdata_leapseconds(std::string_view text, std::string_view source) {
  ParseResult result;
  LeapTable& table = result.table;
  table.source = std::string{source};
  table.format = Format::tzdata_leapseconds;
  table.hash = HashStatus::not_applicable;
  auto fail = [&](int line, std::string field, std::string message) {
    result.problems.push_back(Problem{table.source, line, std::move(field), std::move(message)});
  };

  std::optional<UtcTime> expires_line, expires_commented_line, expires_comment;
  int tai_utc = table.initial_tai_utc;
  bool any_leap_line = false;

  lines::for_each_line(text, [&](int number, std::string_view line) {
    const auto words = lines::fields(line);
    if (words.empty()) return;
    const std::string_view keyword = words[0];
    if (keyword == "#updated" || keyword == "#expires") {
      const auto seconds = words.size() >= 2 ? lines::integer(words[1]) : std::nullopt;
      const auto at = seconds ? lines::from_unix_seconds(*seconds) : std::nullopt;
      if (!at) {
        fail(number, std::string{keyword}, "expected a count of seconds since 1970, before 2200");
        return;
      }
      (keyword == "#updated" ? table.last_update : expires_comment) = at;
      return;
    }
    if (keyword == "Expires" || keyword == "#Expires") {
      const auto when = words.size() == 5 ? date_time(words[1], words[2], words[3], words[4]) : std::nullopt;
      if (!when || when->second > 59) {
        fail(number, std::string{keyword}, "expected 'Expires YEAR MON DAY HH:MM:SS'");
        return;
      }
      const UtcTime at = UtcTime{when->day} + std::chrono::hours{when->hour} + std::chrono::minutes{when->minute} +
                         std::chrono::seconds{when->second};
      (keyword == "Expires" ? expires_line : expires_commented_line) = at;
      return;
    }
    if (keyword.starts_with('#')) return;
    if (keyword != "Leap") {
      fail(number, std::string{keyword}, "unknown line; expected 'Leap' or 'Expires'");
      return;
    }
    any_leap_line = true;
    if (words.size() != 7) {
      fail(number, "Leap", "expected 'Leap YEAR MON DAY HH:MM:SS +|- S|R'");
      return;
    }
    const auto when = date_time(words[1], words[2], words[3], words[4]);
    if (!when) {
      fail(number, "date", "'" + std::string{words[1]} + " " + std::string{words[2]} + " " + std::string{words[3]} +
                               " " + std::string{words[4]} + "' is not a valid date and time");
      return;
    }
    if (words[5] != "+" && words[5] != "-") {
      fail(number, "correction", "'" + std::string{words[5]} + "' must be + (inserted) or - (deleted)");
      return;
    }
    if (words[6] != "S" && words[6] != "R" && words[6] != "Stationary" && words[6] != "Rolling") {
      fail(number, "R/S", "'" + std::string{words[6]} + "' must be S (stationary) or R (rolling)");
      return;
    }
    const int sign = words[5] == "+" ? 1 : -1;
    // The changed second is the last of its day: 23:59:60 when inserted, 23:59:59 when deleted.
    const int expected_second = sign > 0 ? 60 : 59;
    if (when->hour != 23 || when->minute != 59 || when->second != expected_second) {
      fail(number, "time",
           std::string{"must be "} + (sign > 0 ? "23:59:60 for an inserted" : "23:59:59 for a deleted") +
               " second, found " + std::string{words[4]});
      return;
    }
    tai_utc += sign;
    table.leaps.push_back(Leap{UtcTime{when->day + std::chrono::days{1}}, sign, tai_utc, number});
  });

  if (!any_leap_line) fail(0, "Leap", "no Leap lines: not a tzdata leapseconds file");
  table.expires = expires_line ? expires_line : expires_commented_line ? expires_commented_line : expires_comment;
  if (!table.expires) {
    result.warnings.push_back(
        Problem{table.source, 0, "Expires", "missing: the table cannot tell when it becomes stale"});
  }
  validate(table, result.problems);
  return result;
}

}  // namespace leapdb
