#pragma once
// How an upstream association authenticates its exchanges (a symmetric key, NTS): one object
// per association, made for its address, that seals each request and opens each reply. Without
// one, requests go out as they are and every reply is taken on its own checks.

#include <cstddef>
#include <optional>
#include <span>
#include <vector>

#include "server/reference/source.hpp"
#include "server/reference/upstream/address.hpp"

namespace reference::upstream {

class Authentication {
 public:
  virtual ~Authentication() = default;
  // False while a request cannot be authenticated yet (NTS without cookies, its key
  // establishment under way): none is sent, and the poll counts as one without a reply.
  virtual bool ready() = 0;
  // Appends the authentication to the 48-byte request at the start of `packet` (as long as the
  // largest datagram); returns the total length to send, 0 when it cannot.
  virtual std::size_t seal(std::span<std::byte> packet) = 0;
  // True when `reply` (a whole datagram) is authentic for the last request sealed.
  virtual bool open(std::span<const std::byte> reply) = 0;
  // Where requests go instead of the association's address (NTS-KE's Server and Port records).
  virtual std::optional<Address> destination() const { return std::nullopt; }
  // What happened worth a log line since the last call.
  virtual std::vector<Notice> take_notices() { return {}; }
};

}  // namespace reference::upstream
