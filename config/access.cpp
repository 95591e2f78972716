// Who is served and how: access (allow and deny), clients (networks pinned to a timescale),
// ratelimit, and client_policy.
#include "config/sections.hpp"

namespace config {

namespace {

std::optional<Network> read_network(const Cursor& in) {
  auto network = in.as(parse_network, "is not a network such as 10.0.0.0/8 or 2001:db8::/32");
  if (network) network->location = in.location();
  return network;
}

std::optional<int> parse_log2_interval(std::string_view text) {
  const auto n = parse_whole<int>(text);
  return n && *n >= -4 && *n <= 12 ? n : std::nullopt;
}

}  // namespace

void read_networks(Cursor in, std::vector<Network>& networks, std::string_view if_empty) {
  if (!in.list()) return;
  if (in.size() == 0) in.fail("an empty list " + std::string{if_empty});
  for (const Cursor& item : in.items()) {
    if (auto network = read_network(item)) networks.push_back(std::move(*network));
  }
}

void read_access(Cursor in, Access& access) {
  if (!in.map()) return;
  read_networks(in["allow"], access.allow, "would serve nobody; leave allow out to serve everyone");
  read_networks(in["deny"], access.deny, "denies nobody; leave deny out");
  access.denied = in["denied"]
                      .one_of<Access::Denied>({{"kod", Access::Denied::kod}, {"drop", Access::Denied::drop}},
                                              "kod (a KoD DENY reply) or drop")
                      .value_or(access.denied);
  access.min_version =
      in["min_version"].count(4, {1, "must be an NTP version from 1 to 4"}).value_or(access.min_version);
  in.no_other_keys();
}

void read_clients(Cursor in, const Config& config, std::vector<ClientPin>& clients) {
  if (in.is_null() || !in.list()) return;
  for (Cursor item : in.items()) {
    if (!item.map()) continue;
    Cursor networks = item["networks"];
    Cursor timescale = item["timescale"];
    const Cursor flag = item["key_required"];
    item.no_other_keys();
    const bool key_required = flag.boolean().value_or(false);
    if (key_required && !config.keys) flag.fail("needs a keys file (keys: PATH)");
    const auto name = timescale.required().string();
    if (name && (name->empty() || !config.timescales.contains(*name))) {
      timescale.fail("no timescale named '" + *name + "' under timescales");
    }
    if (!networks.required().list()) continue;
    for (const Cursor& item_network : networks.items()) {
      if (auto network = read_network(item_network)) {
        clients.push_back(ClientPin{std::move(*network), name.value_or(""), key_required});
      }
    }
  }
}

void read_ratelimit(Cursor in, RateLimit& limit) {
  if (!in.map()) return;
  limit.enabled = true;
  limit.interval = in["interval"]
                       .as(parse_log2_interval, "is not a log2 of seconds from -4 (1/16 s) to 12 (4096 s)")
                       .value_or(limit.interval);
  limit.burst = in["burst"].count(255, {1, "must be from 1 to 255"}).value_or(limit.burst);
  limit.leak = in["leak"].count(8).value_or(limit.leak);
  limit.table_size = in["table_size"].power_of_two(1024, 1u << 24).value_or(limit.table_size);
  in.no_other_keys();
}

void read_client_policy(Cursor in, ClientPolicy& policy) {
  if (!in.map()) return;
  using Mismatch = ClientPolicy::Mismatch;
  policy.mismatch =
      in["mismatch"]
          .one_of<Mismatch>({{"deny", Mismatch::deny}, {"drop", Mismatch::drop}}, "deny (a KoD DENY reply) or drop")
          .value_or(policy.mismatch);
  policy.sticky = in["sticky"].seconds(30 * 86400).value_or(policy.sticky);
  policy.mixed_window = in["mixed_window"].seconds(30 * 86400).value_or(policy.mixed_window);
  policy.table_size = in["table_size"].power_of_two(1024, 1u << 26).value_or(policy.table_size);
  in.no_other_keys();
}

}  // namespace config
