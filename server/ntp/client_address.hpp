#pragma once

#include <array>
#include <cstdint>
#include <cstring>

struct sockaddr_storage;

namespace ntp {

// A client's source address; IPv4 is held IPv4-mapped (::ffff:a.b.c.d) so policy code sees
// one shape for both families.
struct ClientAddress {
  std::array<std::uint8_t, 16> ip{};
  std::uint16_t port = 0;

  // What recvmsg() or accept() wrote; a family other than IPv4 and IPv6 gives ::, port 0.
  static ClientAddress from(const sockaddr_storage& address);
  bool is_ipv4() const;
  friend bool operator==(const ClientAddress&, const ClientAddress&) = default;
};

// A keyed hash of the address (not the port): the seed keeps clients from aiming at one slot
// of the tables indexed by it.
class AddressHasher {
 public:
  explicit AddressHasher(std::uint64_t seed) : seed_(seed | 1), mixed_seed_(mix(seed_)) {}
  std::uint64_t operator()(const std::array<std::uint8_t, 16>& ip) const {
    std::uint64_t high = 0, low = 0;
    std::memcpy(&high, ip.data(), 8);
    std::memcpy(&low, ip.data() + 8, 8);
    // IPv4 clients (::ffff:a.b.c.d) all share the high half: its mix is computed once.
    return mix((high == 0 ? mixed_seed_ : mix(high ^ seed_)) ^ low);
  }

 private:
  static std::uint64_t mix(std::uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
  }
  std::uint64_t seed_;
  std::uint64_t mixed_seed_;
};

}  // namespace ntp
