#pragma once
// Pure. An upstream server's address as a value: what the resolver found, what a socket is
// connected to, what reports show, and what replies name the server by when it is selected.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace reference::upstream {

struct Address {
  enum class Family : std::uint8_t { ipv4, ipv6 };
  Family family = Family::ipv4;
  std::array<std::uint8_t, 16> bytes{};  // network order; IPv4 uses the first 4
  std::uint16_t port = 123;

  std::string to_string() const;  // "192.0.2.1:123", "[2001:db8::1]:123"
  friend bool operator==(const Address&, const Address&) = default;
};

// A numeric "IPv4" or "IPv6" host (no brackets) with a port; none for anything else.
std::optional<Address> parse_address(std::string_view host, std::uint16_t port);

// The refid that names the server (RFC 5905 §7.3): an IPv4 address itself; for IPv6 the first
// four bytes of the MD5 digest of the 16-byte address, as ntpd and chrony (UTI_IPToRefid)
// compute it, the first byte most significant. An IPv4-mapped IPv6 address is its IPv4 one.
std::uint32_t reference_id(const Address& address);

}  // namespace reference::upstream
