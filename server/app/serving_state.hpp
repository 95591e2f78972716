#pragma once
// Builds what workers serve from the configuration, the leap table and the reference: pure,
// so a reload can be built and checked completely before anything is published.

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "leapdb/table.hpp"
#include "server/ntp/snapshot.hpp"
#include "server/reference/system.hpp"

namespace app {

// The part of a snapshot that changes only with the configuration or the leap data.
struct ServingPlan {
  std::vector<ntp::TimescaleView> timescales;
  std::vector<std::uint8_t> listener_timescale;
  ntp::Policy policy;
  ntp::ReferenceClock clock;
};

struct PlanResult {
  std::optional<ServingPlan> plan;
  std::vector<std::string> problems;  // e.g. leaps closer than a timescale's smear window
};

// `origin`: the real-clock reading a simulated reference starts from.
PlanResult plan_serving(const config::Config& config, std::shared_ptr<const leapdb::LeapTable> table,
                        leapdb::UtcTime origin);

// A plan plus the reference's current state, at the real-clock reading `now`.
ntp::Snapshot make_snapshot(const ServingPlan& plan, const reference::ReferenceState& reference);

}  // namespace app
