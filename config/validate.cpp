// Checks across sections, once every section is read.
#include <algorithm>

#include "config/sections.hpp"

namespace config {

namespace {

// The NTP listener a client's requests to `ip`:`port` reach: the one bound to that address, else
// its family's wildcard, as the kernel chooses. A wildcard `ip` stands for any local address.
const Listener* reached_at(const Config& config, const SocketAddress& ip, std::uint16_t port) {
  const Listener* wildcard = nullptr;
  for (const Listener& l : config.listeners) {
    if (l.address.family != ip.family || l.address.port != port) continue;
    if (l.address.is_wildcard()) {
      if (wildcard == nullptr) wildcard = &l;
    } else if (!ip.is_wildcard() && l.address.bytes == ip.bytes) {
      return &l;
    }
  }
  return wildcard;
}

// Without a Server record a client asks for time at the address it reached NTS-KE at, on the
// Port record's port (123 without one): that must be a listener of the KE listener's timescale,
// or every cookie it holds is NAKed there.
void check_handover(Problems& problems, const Config& config, NtsKeListener& ke) {
  const std::string where = ke.key + ".address";
  if (!ke.port) {
    const auto reachable = std::find_if(config.listeners.begin(), config.listeners.end(), [&](const Listener& l) {
      return l.timescale == ke.timescale && reached_at(config, ke.address, l.address.port) == &l;
    });
    if (reachable == config.listeners.end()) {
      problems.add(ke.location, where,
                   "its clients ask for time at the address they reached it at, where no NTP listener of timescale '" +
                       ke.timescale + "' answers" + (ke.address.is_wildcard() ? " on every address" : "") +
                       "; add one, or set server and port");
      return;
    }
    if (reachable->address.port != 123) ke.port = reachable->address.port;
  }
  const std::uint16_t port = ke.port.value_or(123);
  const Listener* reached = reached_at(config, ke.address, port);
  // A wildcard KE listener is reached at every address, each of which must lead to the timescale.
  for (const Listener& l : config.listeners) {
    const bool reaches_it =
        &l == reached || (ke.address.is_wildcard() && l.address.family == ke.address.family && l.address.port == port);
    if (reaches_it && l.timescale != ke.timescale) {
      problems.add(ke.location, where,
                   "its clients would ask for time at " + l.address.to_string() + " (" + l.key + "), which serves '" +
                       l.timescale + "', not '" + ke.timescale + "'; set server, or the port of a listener of '" +
                       ke.timescale + "'");
      return;
    }
  }
  if (reached == nullptr) {
    problems.add(ke.location, where,
                 "its clients ask for time at the address they reached it at, port " + std::to_string(port) +
                     ", where no NTP listener answers; set server, or the port of a listener of timescale '" +
                     ke.timescale + "'");
  }
}

void validate_nts(Config& config, Problems& problems) {
  if (!config.nts) return;
  auto& listeners = config.nts->listeners;
  for (std::size_t i = 0; i < listeners.size(); ++i) {
    NtsKeListener& ke = listeners[i];
    if (ke.timescale_location.line > 0 && !ke.timescale.empty()) {
      const auto ntp = std::find_if(config.listeners.begin(), config.listeners.end(),
                                    [&](const Listener& l) { return l.timescale == ke.timescale; });
      if (ntp == config.listeners.end()) {
        problems.add(ke.timescale_location, ke.key + ".timescale",
                     "no NTP listener serves a timescale named '" + ke.timescale + "'");
      } else if (ke.server.empty() && ke.address.port != 0) {
        check_handover(problems, config, ke);
      } else if (!ke.port && ntp->address.port != 123) {
        ke.port = ntp->address.port;  // another host's listeners: the operator's word for where
      }
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (ke.address.port != 0 && listeners[j].address == ke.address) {
        problems.add(ke.location, ke.key + ".address",
                     ke.address.to_string() + " is already used by " + listeners[j].key);
      }
    }
    if (config.metrics.listen && ke.address.port != 0 && *config.metrics.listen == ke.address) {
      problems.add(ke.location, ke.key + ".address", ke.address.to_string() + " is already used by metrics.listen");
    }
  }
}

void validate_listeners(const Config& config, Problems& problems) {
  for (std::size_t i = 0; i < config.listeners.size(); ++i) {
    const Listener& listener = config.listeners[i];
    if (listener.timescale_location.line > 0 && !listener.timescale.empty() &&
        !config.timescales.contains(listener.timescale)) {
      problems.add(listener.timescale_location, listener.key + ".timescale",
                   "no timescale named '" + listener.timescale + "' under timescales");
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (listener.address.port != 0 && config.listeners[j].address == listener.address) {
        problems.add(listener.location, listener.key + ".address",
                     listener.address.to_string() + " is already used by " + config.listeners[j].key);
      }
    }
  }
}

}  // namespace

void validate(Config& config, Problems& problems) {
  validate_listeners(config, problems);
  validate_nts(config, problems);
}

}  // namespace config
