#include "server/ctl/target.hpp"

#include <algorithm>

namespace ctl {

std::string Target::to_string() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + port;
  return host + ":" + port;
}

namespace {

bool is_port(std::string_view text) {
  return !text.empty() && text.size() <= 5 && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
         std::stoul(std::string{text}) <= 65535;
}

}  // namespace

std::optional<Target> parse_target(std::string_view text, std::string_view default_port) {
  if (text.empty()) return std::nullopt;
  if (text.front() == '[') {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos || close == 1) return std::nullopt;
    Target target{std::string{text.substr(1, close - 1)}, std::string{default_port}};
    const std::string_view rest = text.substr(close + 1);
    if (rest.empty()) return target;
    if (rest.front() != ':' || !is_port(rest.substr(1))) return std::nullopt;
    target.port = std::string{rest.substr(1)};
    return target;
  }
  const std::size_t colons = static_cast<std::size_t>(std::count(text.begin(), text.end(), ':'));
  if (colons > 1) return Target{std::string{text}, std::string{default_port}};  // bare IPv6
  if (colons == 0) return Target{std::string{text}, std::string{default_port}};
  const std::size_t colon = text.find(':');
  if (colon == 0 || !is_port(text.substr(colon + 1))) return std::nullopt;
  return Target{std::string{text.substr(0, colon)}, std::string{text.substr(colon + 1)}};
}

}  // namespace ctl
