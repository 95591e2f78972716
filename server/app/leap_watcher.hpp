#pragma once
// Keeps the daemon's leap table current: loads the configured files at start, reloads them
// when any changes on disk (checked on every control tick) or on SIGHUP, and logs when the
// table approaches expiry or expires. A set of files that fails to parse, validate or agree
// is refused with one log line per problem, and the table already in force stays.

#include <optional>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "leapdb/sources.hpp"
#include "server/io/file.hpp"

namespace app {

class LeapWatcher {
 public:
  explicit LeapWatcher(const config::LeapDb& settings);

  // The first load; false when the configured files are unusable (problems already logged).
  bool start(leapdb::UtcTime now);
  // Reloads if any file changed since the last attempt; logs expiry transitions.
  void poll(leapdb::UtcTime now);
  void reload(std::string_view reason, leapdb::UtcTime now);

  // nullptr when no leap files are configured.
  const leapdb::LeapTable* table() const { return table_ ? &*table_ : nullptr; }

 private:
  std::vector<std::optional<io::FileSignature>> signatures() const;
  bool load(std::string_view reason, leapdb::UtcTime now);
  void report_freshness(leapdb::UtcTime now, bool always);

  config::LeapDb settings_;
  std::vector<std::optional<io::FileSignature>> seen_;
  std::optional<leapdb::LeapTable> table_;
  leapdb::Freshness freshness_ = leapdb::Freshness::unknown;
};

}  // namespace app
