// Addresses as written in the file: listeners, networks and upstream servers.
#include <arpa/inet.h>

#include <algorithm>
#include <charconv>

#include "config/config.hpp"

namespace config {

bool SocketAddress::is_wildcard() const {
  const std::size_t length = family == Family::ipv4 ? 4 : 16;
  return std::all_of(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(length),
                     [](std::uint8_t b) { return b == 0; });
}

std::string SocketAddress::to_string() const {
  char text[INET6_ADDRSTRLEN] = {};
  if (family == Family::ipv4) {
    inet_ntop(AF_INET, bytes.data(), text, sizeof text);
    return std::string{text} + ":" + std::to_string(port);
  }
  inet_ntop(AF_INET6, bytes.data(), text, sizeof text);
  return "[" + std::string{text} + "]:" + std::to_string(port);
}

std::optional<SocketAddress> parse_socket_address(std::string_view text) {
  const std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon + 1 == text.size()) return std::nullopt;
  std::string_view host = text.substr(0, colon);
  const std::string_view port_text = text.substr(colon + 1);
  unsigned port = 0;
  const auto [end, error] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (error != std::errc{} || end != port_text.data() + port_text.size() || port > 65535) return std::nullopt;

  SocketAddress address;
  address.port = static_cast<std::uint16_t>(port);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    const std::string inner{host.substr(1, host.size() - 2)};
    if (inet_pton(AF_INET6, inner.c_str(), address.bytes.data()) != 1) return std::nullopt;
    address.family = SocketAddress::Family::ipv6;
    return address;
  }
  const std::string plain{host};
  if (inet_pton(AF_INET, plain.c_str(), address.bytes.data()) != 1) return std::nullopt;
  address.family = SocketAddress::Family::ipv4;
  return address;
}

std::optional<Network> parse_network(std::string_view text) {
  Network pin;
  pin.text = std::string{text};
  const std::size_t slash = text.find('/');
  const std::string address{text.substr(0, slash)};
  unsigned length = 0;
  unsigned max_length = 0;
  if (inet_pton(AF_INET, address.c_str(), pin.network.data() + 12) == 1) {
    pin.network[10] = pin.network[11] = 0xff;
    max_length = 32;
  } else if (inet_pton(AF_INET6, address.c_str(), pin.network.data()) == 1) {
    max_length = 128;
  } else {
    return std::nullopt;
  }
  length = max_length;
  if (slash != std::string_view::npos) {
    const std::string_view digits = text.substr(slash + 1);
    const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), length);
    if (digits.empty() || error != std::errc{} || end != digits.data() + digits.size() || length > max_length) {
      return std::nullopt;
    }
  }
  pin.prefix_length = length + (max_length == 32 ? 96 : 0);
  // Host bits set below the prefix are almost always a typo (10.1.2.3/8): refuse them.
  for (unsigned bit = pin.prefix_length; bit < 128; ++bit) {
    if ((pin.network[bit / 8] >> (7 - bit % 8)) & 1) return std::nullopt;
  }
  return pin;
}

std::optional<UpstreamServer> parse_upstream_server(std::string_view text) {
  UpstreamServer server;
  server.text = std::string{text};
  std::string_view host = text;
  std::optional<std::string_view> port;
  std::array<std::uint8_t, 16> scratch{};
  if (!text.empty() && text.front() == '[') {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = text.substr(1, close - 1);
    if (close + 1 < text.size()) {
      if (text[close + 1] != ':') return std::nullopt;
      port = text.substr(close + 2);
    }
    if (inet_pton(AF_INET6, std::string{host}.c_str(), scratch.data()) != 1) return std::nullopt;
  } else if (inet_pton(AF_INET6, std::string{text}.c_str(), scratch.data()) == 1) {
    host = text;  // a bare IPv6 address: every colon is its own
  } else if (const std::size_t colon = text.rfind(':'); colon != std::string_view::npos) {
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  if (port) {
    unsigned value = 0;
    const auto [end, error] = std::from_chars(port->data(), port->data() + port->size(), value);
    if (port->empty() || error != std::errc{} || end != port->data() + port->size() || value == 0 || value > 65535) {
      return std::nullopt;
    }
    server.port = static_cast<std::uint16_t>(value);
  }
  // A host name: letters, digits, hyphens and dots (RFC 1123), or an address.
  const bool name_like = !host.empty() && host.size() <= 253 && std::all_of(host.begin(), host.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
           c == ':';
  });
  if (!name_like || host.front() == '-' || host.front() == '.') return std::nullopt;
  server.host = std::string{host};
  return server;
}

}  // namespace config
