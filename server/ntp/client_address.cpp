#include "server/ntp/client_address.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>

namespace ntp {
namespace {

constexpr std::array<std::uint8_t, 12> kIpv4MappedPrefix{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

}  // namespace

ClientAddress ClientAddress::from(const sockaddr_storage& address) {
  ClientAddress client;
  if (address.ss_family == AF_INET) {
    sockaddr_in v4{};
    std::memcpy(&v4, &address, sizeof v4);
    std::ranges::copy(kIpv4MappedPrefix, client.ip.begin());
    std::memcpy(&client.ip[12], &v4.sin_addr, 4);
    client.port = ntohs(v4.sin_port);
  } else if (address.ss_family == AF_INET6) {
    sockaddr_in6 v6{};
    std::memcpy(&v6, &address, sizeof v6);
    std::memcpy(client.ip.data(), &v6.sin6_addr, 16);
    client.port = ntohs(v6.sin6_port);
  }
  return client;
}

bool ClientAddress::is_ipv4() const {
  return std::equal(kIpv4MappedPrefix.begin(), kIpv4MappedPrefix.end(), ip.begin());
}

}  // namespace ntp
