#include "leapdb/sources.hpp"

namespace leapdb {

Combined combine(const std::vector<SourceBytes>& inputs, const ParseOptions& options) {
  Combined out;
  for (const SourceBytes& input : inputs) {
    ParseResult result = parse(input.bytes, input.path, options);
    out.problems.insert(out.problems.end(), result.problems.begin(), result.problems.end());
    out.warnings.insert(out.warnings.end(), result.warnings.begin(), result.warnings.end());
    out.sources.push_back(std::move(result));
  }
  if (inputs.empty()) out.problems.push_back(Problem{"", 0, "files", "no leap files given"});
  // Disagreements are reported between the sources that are sound on their own.
  const ParseResult* reference = nullptr;
  for (const ParseResult& source : out.sources) {
    if (!source.ok()) continue;
    if (reference == nullptr) {
      reference = &source;
    } else if (auto difference = compare(reference->table, source.table)) {
      out.problems.push_back(*difference);
    }
  }
  if (!out.problems.empty()) return out;
  std::vector<LeapTable> tables;
  for (const ParseResult& source : out.sources) tables.push_back(source.table);
  out.table = most_recent(tables);
  return out;
}

std::string_view to_string(Freshness freshness) {
  switch (freshness) {
    case Freshness::fresh: return "fresh";
    case Freshness::expiring: return "expiring";
    case Freshness::expired: return "expired";
    case Freshness::unknown: return "unknown";
  }
  return "unknown";
}

Freshness freshness(const LeapTable& table, UtcTime now, Nanoseconds warning) {
  if (!table.expires) return Freshness::unknown;
  if (now >= *table.expires) return Freshness::expired;
  if (now >= *table.expires - warning) return Freshness::expiring;
  return Freshness::fresh;
}

}  // namespace leapdb
