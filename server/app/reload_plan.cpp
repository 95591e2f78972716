#include "server/app/reload_plan.hpp"

#include <algorithm>
#include <tuple>

namespace app {
namespace {

std::string listener_layout(const config::Config& config, unsigned cores) {
  std::string text = std::to_string(workers_per_listener(config, cores));
  for (const config::Listener& listener : config.listeners) {
    text += " " + listener.address.to_string();
    if (const auto& xdp = listener.xdp) {
      text += " xdp:" + xdp->interface + "/" + std::to_string(static_cast<int>(xdp->mode)) + "/" +
              std::to_string(static_cast<int>(xdp->zero_copy)) + "/" + (xdp->busy_poll ? "busy" : "wait");
    }
  }
  return text;
}

// Whether NTS is on, and where the KE server listens.
std::optional<std::vector<config::SocketAddress>> nts_layout(const config::Config& config) {
  if (!config.nts) return std::nullopt;
  std::vector<config::SocketAddress> addresses;
  for (const config::NtsKeListener& listener : config.nts->listeners) addresses.push_back(listener.address);
  return addresses;
}

bool same_networks(const std::vector<config::Network>& a, const std::vector<config::Network>& b) {
  return std::ranges::equal(a, b, [](const config::Network& x, const config::Network& y) {
    return x.network == y.network && x.prefix_length == y.prefix_length;
  });
}

auto nts_limits(const config::Nts& nts) {
  return std::tuple{nts.max_connections, nts.handshake_timeout, nts.rate_interval, nts.rate_burst};
}

auto measurement(const config::ReferenceSource& s) {
  return std::tie(s.type, s.refid, s.clock, s.device, s.timescale, s.ptp4l, s.unit, s.path, s.minsources, s.drift_file,
                  s.poll, s.start, s.rate_numerator, s.rate_denominator);
}

std::vector<std::optional<std::size_t>> kept_sources(const config::Reference& old, const config::Reference& next) {
  std::vector<std::optional<std::size_t>> kept(next.sources.size());
  std::vector<bool> taken(old.sources.size(), false);
  for (std::size_t i = 0; i < next.sources.size(); ++i) {
    for (std::size_t j = 0; j < old.sources.size() && !kept[i]; ++j) {
      if (!taken[j] && same_source(old.sources[j], next.sources[i])) kept[i] = j, taken[j] = true;
    }
  }
  return kept;
}

}  // namespace

bool same_source(const config::ReferenceSource& a, const config::ReferenceSource& b) {
  if (measurement(a) != measurement(b) || a.servers.size() != b.servers.size()) return false;
  for (std::size_t i = 0; i < a.servers.size(); ++i) {
    const auto entry = [](const config::UpstreamServer& s) {
      return std::tie(s.kind, s.host, s.port, s.max_sources, s.key_id, s.nts, s.nts_port, s.nts_ca);
    };
    if (entry(a.servers[i]) != entry(b.servers[i])) return false;
  }
  return a.nts_dump_dir == b.nts_dump_dir;
}

unsigned workers_per_listener(const config::Config& config, unsigned cores) {
  return config.workers != 0 ? config.workers : std::max(1u, cores);
}

ReloadPlan plan_reload(const config::Config& old, const config::Config& next, bool rate_tables, unsigned cores) {
  ReloadPlan plan;
  if (listener_layout(next, cores) != listener_layout(old, cores)) {
    plan.refused.push_back(next.source + ": listeners: listeners and workers can only change with a restart");
  }
  if (nts_layout(next) != nts_layout(old)) {
    plan.refused.push_back(next.source + ": nts: NTS and its listeners can only change with a restart");
  }
  if (next.client_policy.table_size != old.client_policy.table_size) {
    plan.deferred.push_back("client_policy.table_size takes effect at the next restart");
  }
  if (next.ratelimit.enabled && (!rate_tables || next.ratelimit.table_size != old.ratelimit.table_size)) {
    plan.deferred.push_back(rate_tables ? "ratelimit.table_size takes effect at the next restart"
                                        : "ratelimit.enabled takes effect at the next restart");
  }
  if (next.user != old.user || next.group != old.group) {
    plan.deferred.push_back("user and group take effect at the next restart");
  }
  if (next.metrics.listen != old.metrics.listen) {
    plan.deferred.push_back("metrics.listen takes effect at the next restart");
  }
  if (!same_networks(next.metrics.allow, old.metrics.allow) ||
      next.metrics.max_connections_per_address != old.metrics.max_connections_per_address) {
    plan.deferred.push_back("metrics.allow and max_connections_per_address take effect at the next restart");
  }
  if (next.nts && old.nts && nts_limits(*next.nts) != nts_limits(*old.nts)) {
    plan.deferred.push_back("nts.max_connections, handshake_timeout and ratelimit take effect at the next restart");
  }
  plan.kept_sources = kept_sources(old.reference, next.reference);
  plan.leapdb_changed = next.leapdb.files != old.leapdb.files ||
                        next.leapdb.allow_unhashed != old.leapdb.allow_unhashed ||
                        next.leapdb.expiry_warning_days != old.leapdb.expiry_warning_days;
  return plan;
}

}  // namespace app
