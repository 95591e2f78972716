#include "server/app/serving_state.hpp"

namespace app {
namespace {

ntp::RefidConvention convention(config::RefidConvention refid) {
  switch (refid) {
    case config::RefidConvention::ntpd: return ntp::RefidConvention::ntpd;
    case config::RefidConvention::chrony: return ntp::RefidConvention::chrony;
    case config::RefidConvention::reference: return ntp::RefidConvention::reference;
  }
  return ntp::RefidConvention::reference;
}

}  // namespace

PlanResult plan_serving(const config::Config& config, std::shared_ptr<const leapdb::LeapTable> table,
                        leapdb::UtcTime origin) {
  PlanResult result;
  ServingPlan plan;
  if (!table) table = std::make_shared<const leapdb::LeapTable>();

  std::map<std::string, std::uint8_t, std::less<>> index;
  for (const auto& [name, timescale] : config.timescales) {
    if (plan.timescales.size() == 255) {
      result.problems.push_back("more than 255 timescales");
      return result;
    }
    const leapdb::LeapTable own =
        timescale.rehearsal ? leapdb::with_extra_leap(*table, timescale.rehearsal->leap_at, timescale.rehearsal->sign)
                            : *table;
    smear::Smearer::Result made = smear::Smearer::make(own, timescale.profile, timescale.announce);
    if (!made.smearer) {
      // With a rehearsal, the smear that cannot be made is most likely the rehearsal's.
      const bool rehearsed = timescale.rehearsal.has_value();
      result.problems.push_back(
          config::Problem{rehearsed ? timescale.rehearsal->location : timescale.location,
                          "timescales." + name + (rehearsed ? ".rehearsal.leap_at" : ".smear"),
                          made.error + (rehearsed ? "; a rehearsal must be one smear window away from every leap" : "")}
              .to_string());
      continue;
    }
    index.emplace(name, static_cast<std::uint8_t>(plan.timescales.size()));
    plan.timescales.push_back(ntp::TimescaleView{name, std::make_shared<const smear::Smearer>(std::move(*made.smearer)),
                                                 convention(timescale.refid), timescale.rehearsal.has_value(), {}, {}});
    plan.timescales.back().nts_id = nts::timescale_id(name);
    for (std::size_t other = 0; other + 1 < plan.timescales.size(); ++other) {
      // NTS would hand one's cookies to the other: as unlikely as 1 in 2^32 a pair, but checked.
      if (plan.timescales[other].nts_id == plan.timescales.back().nts_id) {
        result.problems.push_back(config::Problem{timescale.location, "timescales." + name,
                                                  "its NTS cookie id is the same as " + plan.timescales[other].name +
                                                      "'s: rename one"}
                                      .to_string());
      }
    }
  }
  if (!result.problems.empty()) return result;

  // The configuration was validated; a name missing here is a bug, reported rather than thrown.
  for (const config::Listener& listener : config.listeners) {
    const auto found = index.find(listener.timescale);
    if (found == index.end()) {
      result.problems.push_back(listener.key + ".timescale: no timescale named '" + listener.timescale + "'");
      return result;
    }
    plan.listener_timescale.push_back(found->second);
  }
  for (const config::ClientPin& pin : config.clients) {
    const auto found = index.find(pin.timescale);
    if (found == index.end()) {
      result.problems.push_back("clients: no timescale named '" + pin.timescale + "'");
      return result;
    }
    plan.policy.pins.push_back(ntp::Pin{{pin.network, pin.prefix_length}, found->second, pin.key_required});
  }
  plan.policy.deny = config.client_policy.mismatch == config::ClientPolicy::Mismatch::deny;
  for (const config::Network& network : config.access.allow) {
    plan.policy.access.allow.push_back({network.network, network.prefix_length});
  }
  for (const config::Network& network : config.access.deny) {
    plan.policy.access.deny.push_back({network.network, network.prefix_length});
  }
  plan.policy.access.kod = config.access.denied == config::Access::Denied::kod;
  plan.policy.access.min_version = static_cast<std::uint8_t>(config.access.min_version);
  plan.policy.rate_limit = {config.ratelimit.enabled, config.ratelimit.interval, config.ratelimit.burst,
                            config.ratelimit.leak};
  plan.policy.sticky = config.client_policy.sticky;
  plan.policy.mixed_window = config.client_policy.mixed_window;
  plan.policy.interleaved = config.interleaved;

  plan.clock.table = table;
  if (const config::ReferenceSource* simulated = config.reference.simulated()) {
    plan.clock.kind = ntp::ReferenceClock::Kind::simulated;
    plan.clock.start = table->to_tai(simulated->start);
    plan.clock.origin = origin;
    plan.clock.rate_numerator = simulated->rate_numerator;
    plan.clock.rate_denominator = simulated->rate_denominator;
  }
  result.plan = std::move(plan);
  return result;
}

ntp::Snapshot make_snapshot(const ServingPlan& plan, const ReferenceView& reference) {
  ntp::Snapshot snapshot;
  snapshot.precision = reference.precision;
  snapshot.quality = reference.quality;
  snapshot.clock = plan.clock;
  if (snapshot.clock.kind == ntp::ReferenceClock::Kind::system) snapshot.clock.correction = reference.correction;
  snapshot.clock.steady = snapshot.clock.steady_around(reference.read_at);
  const leapdb::TaiTime now = snapshot.clock.to_tai(reference.read_at);
  // Whole seconds, rounded down: the reference time may say the update was older, never newer.
  const leapdb::TaiTime updated = std::chrono::floor<std::chrono::seconds>(reference.quality.last_update);
  snapshot.timescales = plan.timescales;
  for (ntp::TimescaleView& timescale : snapshot.timescales) {
    timescale.reference_time = timescale.smearer->at(updated).time;
    timescale.steady = timescale.smearer->steady_around(now);
  }
  snapshot.listener_timescale = plan.listener_timescale;
  snapshot.policy = plan.policy;
  return snapshot;
}

}  // namespace app
