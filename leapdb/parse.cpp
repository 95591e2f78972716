#include "leapdb/parse.hpp"

#include <algorithm>
#include <tuple>

#include "leapdb/lines.hpp"

namespace leapdb {

std::string Problem::to_string() const {
  std::string text = source;
  if (line > 0) text += ":" + std::to_string(line);
  text += ": ";
  if (!field.empty()) text += field + ": ";
  return text + message;
}

namespace {

std::string date_text(const Leap& leap) { return format_date(leap.day()); }

std::string describe(const Leap& leap) {
  return date_text(leap) + " (" + (leap.sign > 0 ? "+1" : "-1") + ", TAI-UTC " + std::to_string(leap.tai_utc) + ")";
}

// How far a table speaks with authority: its expiry, else its last leap.
std::optional<UtcTime> covered_until(const LeapTable& table) {
  if (table.expires) return table.expires;
  if (!table.leaps.empty()) return table.leaps.back().effective;
  return std::nullopt;
}

}  // namespace

ParseResult parse(std::string_view bytes, std::string_view source, const ParseOptions& options) {
  if (bytes.starts_with("TZif")) return parse_tzif(bytes, source);
  bool tzdata = false;
  lines::for_each_line(bytes, [&](int, std::string_view line) {
    const auto words = lines::fields(line);
    if (!words.empty() && (words[0] == "Leap" || words[0] == "Expires" || words[0] == "#Expires")) tzdata = true;
  });
  return tzdata ? parse_tzdata_leapseconds(bytes, source) : parse_leap_seconds_list(bytes, source, options);
}

void validate(const LeapTable& table, std::vector<Problem>& problems) {
  auto fail = [&](const Leap& leap, std::string field, std::string message) {
    problems.push_back(Problem{table.source, leap.line, std::move(field), std::move(message)});
  };
  int previous_tai_utc = table.initial_tai_utc;
  for (std::size_t i = 0; i < table.leaps.size(); ++i) {
    const Leap& leap = table.leaps[i];
    if (leap.sign != 1 && leap.sign != -1) fail(leap, "sign", "must be +1 or -1");
    if (leap.tai_utc - previous_tai_utc != leap.sign) {
      fail(leap, "TAI-UTC",
           "moves from " + std::to_string(previous_tai_utc) + " to " + std::to_string(leap.tai_utc) +
               " at " + date_text(leap) + "; it must move by exactly one at each leap");
    }
    if (!lines::is_start_of_month(leap.effective)) {
      fail(leap, "date", leapdb::format_rfc3339(leap.effective) + " is not the first second of a month");
    }
    if (i > 0 && leap.effective <= table.leaps[i - 1].effective) {
      fail(leap, "date", "leaps must strictly increase: " + date_text(leap) + " follows " + date_text(table.leaps[i - 1]));
    }
    previous_tai_utc = leap.tai_utc;
  }
  if (table.expires && table.last_update && *table.expires <= *table.last_update) {
    problems.push_back(Problem{table.source, 0, "expiry",
                               "expires (" + format_rfc3339(*table.expires) + ") no later than its last update (" +
                                   format_rfc3339(*table.last_update) + ")"});
  }
}

std::optional<Problem> compare(const LeapTable& a, const LeapTable& b) {
  const auto until_a = covered_until(a);
  const auto until_b = covered_until(b);
  const auto until = !until_a ? until_b : !until_b ? until_a : std::min(*until_a, *until_b);
  auto covered = [&](const Leap& leap) { return !until || leap.effective <= *until; };
  if (a.initial_tai_utc != b.initial_tai_utc) {
    return Problem{a.source, 0, "TAI-UTC",
                   "starts at " + std::to_string(a.initial_tai_utc) + " here but at " +
                       std::to_string(b.initial_tai_utc) + " in " + b.source};
  }
  std::size_t i = 0, j = 0;
  for (;;) {
    const Leap* x = i < a.leaps.size() && covered(a.leaps[i]) ? &a.leaps[i] : nullptr;
    const Leap* y = j < b.leaps.size() && covered(b.leaps[j]) ? &b.leaps[j] : nullptr;
    if (!x && !y) return std::nullopt;
    if (x && y && *x == *y) {
      ++i;
      ++j;
      continue;
    }
    // The earlier of the two is the first difference.
    if (x && (!y || x->effective <= y->effective)) {
      const bool same_day = y && y->effective == x->effective;
      return Problem{a.source, x->line, "leap " + date_text(*x),
                     "first difference: " + describe(*x) + " here, " +
                         (same_day ? describe(*y) : std::string{"absent"}) + " in " + b.source};
    }
    return Problem{b.source, y->line, "leap " + date_text(*y),
                   "first difference: " + describe(*y) + " here, absent in " + a.source};
  }
}

const LeapTable& most_recent(const std::vector<LeapTable>& tables) {
  return *std::max_element(tables.begin(), tables.end(), [](const LeapTable& a, const LeapTable& b) {
    return std::tie(a.expires, a.last_update) < std::tie(b.expires, b.last_update);
  });
}

}  // namespace leapdb
