#pragma once
// Several leap files taken together, all or nothing: each must parse and validate, and all
// must agree; then the most recent one is the table to serve.

#include <optional>
#include <string>
#include <vector>

#include "leapdb/parse.hpp"

namespace leapdb {

struct SourceBytes {
  std::string path;
  std::string bytes;
};

struct Combined {
  std::optional<LeapTable> table;    // set only when problems is empty
  std::vector<ParseResult> sources;  // one per input, in order
  std::vector<Problem> problems;     // of every source, then disagreements between the sound ones
  std::vector<Problem> warnings;
};

Combined combine(const std::vector<SourceBytes>& inputs, const ParseOptions& options = {});

enum class Freshness { fresh, expiring, expired, unknown };
std::string_view to_string(Freshness freshness);

// `expiring` once `now` is within `warning` of the expiry; `unknown` when there is none.
Freshness freshness(const LeapTable& table, UtcTime now, Nanoseconds warning);

}  // namespace leapdb
