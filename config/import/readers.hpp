#pragma once
// One reader per daemon's format, each filling a Draft. Private to the import library. Pure.

#include <string_view>

#include "config/import/draft.hpp"

namespace config::import {

Draft read_chrony(std::string_view text, std::string_view file);
Draft read_ntp_conf(std::string_view text, std::string_view file);
Draft read_ntp_toml(std::string_view text, std::string_view file);

// Reasons shared by chrony and ntpd directives.
inline constexpr std::string_view kNeverSteers =
    "no equivalent: smeard never steps, slews or disciplines the system clock; it serves time from its own "
    "software clock";
inline constexpr std::string_view kOwnSelection =
    "no equivalent: smeard's filter and selection of servers are its own and have no such tuning";
inline constexpr std::string_view kNoLogFiles =
    "no equivalent: smeard logs to standard error (the journal) and exports its statistics on metrics.listen";
inline constexpr std::string_view kNoRemoteControl =
    "no equivalent: smeard takes no commands over the network; status and metrics are served read-only on "
    "metrics.listen";
inline constexpr std::string_view kRunsUnderSystemd =
    "not needed: systemd starts smeard (Type=notify), and it runs as the user named by `user:`";

}  // namespace config::import
