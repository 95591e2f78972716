#include "server/reference/upstream/resolver.hpp"

#include <arpa/inet.h>
#include <netdb.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>
#include <thread>

namespace reference::upstream {

std::optional<Address> address_of(const sockaddr* address, std::size_t length) {
  Address out;
  if (length >= sizeof(sockaddr_in) && address->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(address);
    std::memcpy(out.bytes.data(), &in->sin_addr, 4);
    out.port = ntohs(in->sin_port);
    return out;
  }
  if (length >= sizeof(sockaddr_in6) && address->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(address);
    out.family = Address::Family::ipv6;
    std::memcpy(out.bytes.data(), &in6->sin6_addr, 16);
    out.port = ntohs(in6->sin6_port);
    return out;
  }
  return std::nullopt;
}

socklen_t to_sockaddr(const Address& address, sockaddr_storage& storage) {
  storage = {};
  if (address.family == Address::Family::ipv4) {
    auto* in = reinterpret_cast<sockaddr_in*>(&storage);
    in->sin_family = AF_INET;
    in->sin_port = htons(address.port);
    std::memcpy(&in->sin_addr, address.bytes.data(), 4);
    return sizeof(sockaddr_in);
  }
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&storage);
  in6->sin6_family = AF_INET6;
  in6->sin6_port = htons(address.port);
  std::memcpy(&in6->sin6_addr, address.bytes.data(), 16);
  return sizeof(sockaddr_in6);
}

Resolved resolve(const std::string& host, std::uint16_t port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  Resolved out;
  if (const int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found); rc != 0) {
    out.error = rc == EAI_SYSTEM ? std::strerror(errno) : ::gai_strerror(rc);
    return out;
  }
  for (const addrinfo* i = found; i != nullptr; i = i->ai_next) {
    const std::optional<Address> a = address_of(i->ai_addr, i->ai_addrlen);
    if (a && std::ranges::find(out.addresses, *a) == out.addresses.end()) out.addresses.push_back(*a);
  }
  ::freeaddrinfo(found);
  if (out.addresses.empty()) out.error = "no IPv4 or IPv6 address";
  return out;
}

std::future<Resolved> resolve_in_background(const std::string& host, std::uint16_t port) {
  std::promise<Resolved> promise;
  std::future<Resolved> future = promise.get_future();
  try {
    std::thread([promise = std::move(promise), host, port]() mutable {
      promise.set_value(resolve(host, port));
    }).detach();
  } catch (const std::system_error& e) {
    std::promise<Resolved> failed;
    future = failed.get_future();
    failed.set_value(Resolved{{}, std::string{"cannot start a resolver thread: "} + e.what()});
  }
  return future;
}

}  // namespace reference::upstream
