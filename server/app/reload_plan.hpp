#pragma once
// Pure. What a reload may change while smeard serves, and what only a restart can: decided from
// the old and the new configuration alone, before anything is opened or read.

#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"

namespace app {

struct ReloadPlan {
  std::vector<std::string> refused;   // the reload is refused whole, each naming the file and key
  std::vector<std::string> deferred;  // settings that take effect only at the next restart
  // For each source of the new configuration, the old one it continues (settings unchanged):
  // that one keeps its state, samples and clock. The others are opened anew; old sources no
  // new one continues are closed.
  std::vector<std::optional<std::size_t>> kept_sources;
  bool leapdb_changed = false;  // the leap files or their settings: a new watcher
};

// `rate_tables`: whether the workers' rate-limit tables were allocated at start; `cores`: this
// machine's, which `workers: auto` means.
ReloadPlan plan_reload(const config::Config& old, const config::Config& next, bool rate_tables, unsigned cores);

// Worker threads per listener: as configured, or one per core (at least one).
unsigned workers_per_listener(const config::Config& config, unsigned cores);

// Whether two source entries measure the same thing the same way (selection options aside,
// which change live).
bool same_source(const config::ReferenceSource& a, const config::ReferenceSource& b);

}  // namespace app
