#pragma once
// Keeps the daemon's leap table current: loads the configured files at start, reloads them
// when any changes on disk (checked on every control tick) or on SIGHUP, and logs when the
// table approaches expiry or expires. A set of files that fails to parse, validate or agree,
// or that the caller's acceptor refuses (say, leaps too close for a smear), is refused with
// one log line per problem, and the table already in force stays.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "leapdb/sources.hpp"
#include "server/io/file.hpp"

namespace app {

class LeapWatcher {
 public:
  // Returns the problems that stop a new table from being used; empty to accept it.
  using Acceptor = std::function<std::vector<std::string>(std::shared_ptr<const leapdb::LeapTable>)>;

  explicit LeapWatcher(const config::LeapDb& settings);

  // The first load; false when the configured files are unusable (problems already logged).
  bool start(leapdb::UtcTime now, const Acceptor& accept);
  // Reloads if any file changed since the last attempt; logs expiry transitions. True when a
  // new table was accepted.
  bool poll(leapdb::UtcTime now, const Acceptor& accept);
  bool reload(std::string_view reason, leapdb::UtcTime now, const Acceptor& accept);

  // An empty table (no leaps known) when no leap files are configured.
  std::shared_ptr<const leapdb::LeapTable> table() const { return table_; }
  const config::LeapDb& settings() const { return settings_; }
  bool loaded() const { return loaded_; }

 private:
  std::vector<std::optional<io::FileSignature>> signatures() const;
  bool load(std::string_view reason, leapdb::UtcTime now, const Acceptor& accept);
  void report_freshness(leapdb::UtcTime now, bool always);

  config::LeapDb settings_;
  std::vector<std::optional<io::FileSignature>> seen_;
  std::shared_ptr<const leapdb::LeapTable> table_ = std::make_shared<const leapdb::LeapTable>();
  bool loaded_ = false;
  leapdb::Freshness freshness_ = leapdb::Freshness::unknown;
};

}  // namespace app
