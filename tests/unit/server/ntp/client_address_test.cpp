// A socket address as the responder sees it: IPv4 mapped into IPv6, the port in host order.
#include "server/ntp/client_address.hpp"

#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>

namespace {

template <class Address>
sockaddr_storage storage_of(const Address& address) {
  sockaddr_storage storage{};
  std::memcpy(&storage, &address, sizeof address);
  return storage;
}

}  // namespace

TEST_CASE("ClientAddress::from: IPv4 is held IPv4-mapped, the port in host order") {
  sockaddr_in v4{};
  v4.sin_family = AF_INET;
  v4.sin_port = htons(40123);
  v4.sin_addr.s_addr = htonl(0xC0000201);  // 192.0.2.1
  const ntp::ClientAddress client = ntp::ClientAddress::from(storage_of(v4));
  CHECK(client == ntp::ClientAddress{{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1}, 40123});
  CHECK(client.is_ipv4());
}

TEST_CASE("ClientAddress::from: IPv6 as it came, an IPv4-mapped one the same as IPv4") {
  sockaddr_in6 v6{};
  v6.sin6_family = AF_INET6;
  v6.sin6_port = htons(123);
  const std::array<std::uint8_t, 16> ip{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x42};
  std::memcpy(&v6.sin6_addr, ip.data(), 16);
  const ntp::ClientAddress client = ntp::ClientAddress::from(storage_of(v6));
  CHECK(client == ntp::ClientAddress{ip, 123});
  CHECK_FALSE(client.is_ipv4());

  // A dual-stack socket hands IPv4 clients over as ::ffff:a.b.c.d.
  const std::array<std::uint8_t, 16> mapped{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1};
  std::memcpy(&v6.sin6_addr, mapped.data(), 16);
  CHECK(ntp::ClientAddress::from(storage_of(v6)).is_ipv4());
  CHECK(ntp::ClientAddress::from(storage_of(v6)).ip == mapped);
}

TEST_CASE("ClientAddress::from: another family is ::, port 0") {
  sockaddr_storage unix_socket{};
  unix_socket.ss_family = AF_UNIX;
  CHECK(ntp::ClientAddress::from(unix_socket) == ntp::ClientAddress{});
  CHECK_FALSE(ntp::ClientAddress{}.is_ipv4());
}
