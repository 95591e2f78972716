#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ctl {

struct Target {
  std::string host;
  std::string port;
  std::string to_string() const;  // "host:port", IPv6 in brackets
};

// "host", "host:port", "[v6]", "[v6]:port" or a bare IPv6 address.
std::optional<Target> parse_target(std::string_view text, std::string_view default_port = "123");

}  // namespace ctl
