#pragma once
// Migration from another NTP daemon: a chrony.conf, an ntp.conf (ntpd or NTPsec) or an ntpd-rs
// ntp.toml turned into a smeard configuration. Pure: the file's text in, YAML text and the
// problems found out. Every directive either lands in the YAML with a comment naming the line it
// came from, or is listed as a comment saying why smeard has no equivalent.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace config::import {

enum class Format : std::uint8_t { chrony, ntpd, ntpd_rs };

std::string_view to_string(Format format);             // "chrony", "ntpd", "ntpd-rs"
std::optional<Format> parse_format(std::string_view);  // the same names

// The format a file's content is written in, from the directives only one daemon has; nullopt
// when nothing tells.
std::optional<Format> guess_format(std::string_view text);

// A line that cannot be translated because it is not what its daemon accepts.
struct Error {
  int line = 0;           // 1-based; 0 when the file as a whole is wrong
  std::string directive;  // the directive or TOML key, e.g. "server", "source.mode"
  std::string message;
  std::string to_string(std::string_view file) const;  // "FILE:LINE: DIRECTIVE: MESSAGE"
};

struct Result {
  std::string yaml;  // complete smeard configuration; empty when there are errors
  std::vector<Error> errors;
};

// `file` is the input's name as the comments should name it (e.g. "/etc/chrony/chrony.conf").
// The YAML, when there is one, is a configuration config::parse accepts: what it would refuse is
// an error naming the input line it comes from.
Result translate(std::string_view text, std::string_view file, Format format);

}  // namespace config::import
