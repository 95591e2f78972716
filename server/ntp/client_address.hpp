#pragma once

#include <array>
#include <cstdint>

namespace ntp {

// A client's source address; IPv4 is held IPv4-mapped (::ffff:a.b.c.d) so policy code sees
// one shape for both families.
struct ClientAddress {
  std::array<std::uint8_t, 16> ip{};
  std::uint16_t port = 0;
  friend bool operator==(const ClientAddress&, const ClientAddress&) = default;
};

}  // namespace ntp
