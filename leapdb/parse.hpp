#pragma once
// Parsers for every form leap data comes in, from bytes already read: IERS/NIST
// leap-seconds.list, tzdata's leapseconds, and TZif files with leap records (right/UTC).
// Pure: no files, no clocks. Each problem names the source, the line (or byte offset for
// TZif) and the field, so an operator can go straight to it.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "leapdb/table.hpp"

namespace leapdb {

struct Problem {
  std::string source;
  int line = 0;  // 1-based; 0 when the problem is about the whole file
  std::string field;
  std::string message;
  std::string to_string() const;  // "SOURCE:LINE: FIELD: MESSAGE"
};

struct ParseOptions {
  // A leap-seconds.list without its #h line is accepted with a warning. A hash that does not
  // match is never accepted.
  bool allow_unhashed = false;
};

struct ParseResult {
  // What could be read, even when there are problems, so a damaged file can still be shown;
  // only a result without problems may be served.
  LeapTable table;
  std::vector<Problem> problems;
  std::vector<Problem> warnings;
  bool ok() const { return problems.empty(); }
};

// Detects the format from the content.
ParseResult parse(std::string_view bytes, std::string_view source, const ParseOptions& options = {});

ParseResult parse_leap_seconds_list(std::string_view text, std::string_view source, const ParseOptions& options = {});
ParseResult parse_tzdata_leapseconds(std::string_view text, std::string_view source);
ParseResult parse_tzif(std::string_view bytes, std::string_view source);

// Checks what every format must satisfy: TAI-UTC moves by exactly one at each leap, leaps
// fall at the start of a month, strictly increase, and expiry comes after the last update.
void validate(const LeapTable& table, std::vector<Problem>& problems);

// Several sources must agree on every leap both cover (up to the earlier of their expiries,
// or their last leap when one has no expiry). Returns the problem naming the first
// difference, if any.
std::optional<Problem> compare(const LeapTable& a, const LeapTable& b);

// The table to serve from several that agree: the one that expires last (then the one
// updated last). Assumes compare() found no difference.
const LeapTable& most_recent(const std::vector<LeapTable>& tables);

}  // namespace leapdb
