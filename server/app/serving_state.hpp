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

// What the reference contributes to a snapshot at one control tick.
struct ReferenceView {
  ntp::Correction correction;      // reference minus the system clock (system references)
  ntp::ServedQuality quality;      // what replies claim, and how it ages
  std::int8_t precision = -20;
  leapdb::UtcTime read_at{};       // the system-clock reading of the tick
};

// A plan plus the reference's current state.
ntp::Snapshot make_snapshot(const ServingPlan& plan, const ReferenceView& reference);

}  // namespace app
