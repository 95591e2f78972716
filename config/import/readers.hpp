#pragma once
// One reader per daemon's format, each filling a Draft. Private to the import library. Pure.

#include <string_view>

#include "config/import/draft.hpp"

namespace config::import {

Draft read_chrony(std::string_view text, std::string_view file);
Draft read_ntp_conf(std::string_view text, std::string_view file);
Draft read_ntp_toml(std::string_view text, std::string_view file);

// The first line of `text` (without its newline), which is left holding the rest.
inline std::string_view take_line(std::string_view& text) {
  const std::size_t end = text.find('\n');
  const std::string_view line = text.substr(0, end);
  text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
  return line;
}

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

// Per-server options with no equivalent, in chrony and ntpd alike.
inline constexpr std::string_view kNoBurstStart =
    "no equivalent: smeard polls at the source's poll interval from the start";
inline constexpr std::string_view kNoBurst =
    "no equivalent: smeard polls at the source's poll interval";
inline constexpr std::string_view kOnePollInterval =
    "no per-server equivalent: the upstream source has one poll interval (poll:)";
inline constexpr std::string_view kWholeSourceOptions =
    "no per-server equivalent: prefer, trust, require and noselect belong to a whole source";
inline constexpr std::string_view kNoDevice =
    "no equivalent: smeard reads PHC, SHM and SOCK reference clocks, whose devices it names itself";
inline constexpr std::string_view kNoFudge =
    "no equivalent: smeard's reference clocks have no such calibration";

}  // namespace config::import
