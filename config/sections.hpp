#pragma once
// The sections of the configuration file, each read in its own file, and the checks that need
// more than one section. Private to the config library.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "config/reader.hpp"

namespace config {

void read_listeners(Cursor in, std::vector<Listener>& listeners);
void read_timescales(Cursor in, std::map<std::string, Timescale, std::less<>>& timescales);
void read_reference(Cursor in, Reference& reference);
// A list of networks, as access.allow takes them (also metrics.allow); `if_empty` finishes the
// message for an empty list.
void read_networks(Cursor in, std::vector<Network>& networks, std::string_view if_empty);
void read_access(Cursor in, Access& access);
void read_ratelimit(Cursor in, RateLimit& limit);
void read_client_policy(Cursor in, ClientPolicy& policy);
// After keys and timescales, which its entries refer to.
void read_clients(Cursor in, const Config& config, std::vector<ClientPin>& clients);
void read_nts(Cursor in, std::optional<Nts>& nts);

// Names that must exist in another section, addresses used twice, and where NTS-KE listeners
// send their clients (which may fill in a KE listener's port).
void validate(Config& config, Problems& problems);

}  // namespace config
