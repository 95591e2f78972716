#pragma once
// The client's side of one exchange, as pure functions: build a request, judge the reply,
// compute offset and delay (RFC 5905 §8) from the four timestamps.

#include <array>
#include <cstddef>
#include <span>
#include <string>

#include "leapdb/time.hpp"
#include "server/ntp/packet.hpp"

namespace ntp {

std::array<std::byte, kHeaderLength> build_client_request(Timestamp transmit, std::uint8_t version = 4);

enum class ReplyProblem : std::uint8_t { none, too_short, not_server_mode, origin_mismatch, kiss_of_death };
std::string_view to_string(ReplyProblem problem);

struct ReplyCheck {
  ReplyProblem problem = ReplyProblem::none;
  Header header;
};

// A reply belongs to our request only if it echoes our transmit timestamp as its origin.
ReplyCheck check_reply(std::span<const std::byte> reply, Timestamp sent_transmit);

struct Sample {
  leapdb::Nanoseconds offset{0};  // server minus client
  leapdb::Nanoseconds delay{0};   // round trip less the server's processing
  leapdb::UtcTime server_transmit{};
};

// t1: client send time, t4: client receive time, both on the client's clock.
Sample measure(const Header& reply, leapdb::UtcTime t1, leapdb::UtcTime t4);

// Four ASCII characters for stratum 0 and 1 (kiss codes, reference names); the IPv4 address
// (or IPv6 hash) of the upstream server, dotted, above.
std::string format_reference_id(std::uint8_t stratum, std::uint32_t reference_id);

}  // namespace ntp
