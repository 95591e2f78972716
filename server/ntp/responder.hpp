#pragma once
// The server's answer to one request: a pure function of the request bytes, who sent it,
// when it arrived and the published snapshot. No sockets and no clocks here; the I/O layer
// stamps the transmit time with stamp_transmit() as late as it can.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "leapdb/time.hpp"
#include "server/ntp/client_address.hpp"
#include "server/ntp/packet.hpp"
#include "server/ntp/snapshot.hpp"

namespace ntp {

// A reply is the header, plus a 4-byte crypto-NAK when the request carried a MAC we cannot
// verify. It is never longer than the request.
inline constexpr std::size_t kMaxReplyLength = kHeaderLength + 4;

enum class DropReason : std::uint8_t {
  too_short,
  too_long,
  not_word_aligned,
  bad_extension_field,
  bad_mac_length,
  bad_version,
  unsupported_mode,
};
inline constexpr std::size_t kDropReasonCount = 7;
std::string_view to_string(DropReason reason);

struct Decision {
  std::size_t reply_length = 0;  // 0: drop
  DropReason drop_reason = DropReason::too_short;
  bool replied() const { return reply_length != 0; }
};

Decision handle(std::span<const std::byte> request, const ClientAddress& client, leapdb::UtcTime received,
                const Snapshot& snapshot, std::span<std::byte, kMaxReplyLength> reply);

void stamp_transmit(std::span<std::byte, kMaxReplyLength> reply, leapdb::UtcTime transmit);

}  // namespace ntp
