#pragma once
// Opens one configured source: the one place that knows both the configuration and every
// source type. A source that cannot be opened (a missing device, a path that is not a PHC) is a
// problem naming the file, line and key, at start and on reload alike.

#include <cstdint>
#include <memory>
#include <string>
#include <variant>

#include "config/config.hpp"
#include "server/ntp/auth.hpp"
#include "server/reference/source.hpp"

namespace app {

// `precision`: the system clock's, measured at start; `keys`: the keys file in force, for
// upstream servers authenticated with a symmetric key.
std::variant<std::unique_ptr<reference::Source>, config::Problem> open_source(const config::ReferenceSource& settings,
                                                                               std::int8_t precision,
                                                                               std::shared_ptr<const ntp::KeyRing> keys);

// What open_source would refuse, found without taking anything a running smeard holds: a SOCK
// source's path is checked, not bound; an upstream's files are checked, its stored NTS session
// left alone and no request sent; an SHM segment is attached if it exists, never created.
// Devices are opened and closed again.
std::optional<config::Problem> check_source(const config::ReferenceSource& settings, std::int8_t precision,
                                            std::shared_ptr<const ntp::KeyRing> keys);

// What logs and `smearctl status` call the source: "system", "/dev/ptp0", "SHM(0)",
// "SOCK(/run/chrony.ttyS0.sock)", "upstream(ntp1.example.net, ...)", "simulated".
std::string source_name(const config::ReferenceSource& settings);

}  // namespace app
