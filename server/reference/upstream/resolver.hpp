#pragma once
// Names and socket addresses for upstream associations: getaddrinfo, on the caller's thread or
// on one of its own, and the conversions between upstream::Address and the kernel's sockaddr.

#include <sys/socket.h>

#include <cstdint>
#include <future>
#include <optional>
#include <string>
#include <vector>

#include "server/reference/upstream/address.hpp"

namespace reference::upstream {

std::optional<Address> address_of(const sockaddr* address, std::size_t length);
socklen_t to_sockaddr(const Address& address, sockaddr_storage& storage);

struct Resolved {
  std::vector<Address> addresses;  // in the resolver's order, each once
  std::string error;               // when there are none
};

// Blocks for as long as the resolver takes.
Resolved resolve(const std::string& host, std::uint16_t port);

// getaddrinfo can take seconds and cannot be cancelled: it runs on a thread of its own, whose
// result the caller takes when it is there. A caller gone meanwhile (a reload, the end) does
// not wait for it: the thread finishes into a promise nobody reads.
std::future<Resolved> resolve_in_background(const std::string& host, std::uint16_t port);

}  // namespace reference::upstream
