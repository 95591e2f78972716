#pragma once
// The server's answer to one request: a pure function of the request, who sent it, on which
// listener, when it arrived (in TAI) and the published snapshot, plus the shared client
// history (memory only) that sticky mode and the mixed-client detector need. No sockets and no
// clocks here; the I/O layer stamps the transmit time with stamp_transmit() as late as it can.
//
// Policy order: well-formed -> pinned to another timescale? -> stuck to another timescale?
// -> answer on this listener's timescale. The mixed-client detector looks at every
// well-formed request.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "leapdb/time.hpp"
#include "server/ntp/client_address.hpp"
#include "server/ntp/client_history.hpp"
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
  wrong_timescale,  // pinned or stuck to another timescale, and the policy says drop
};
inline constexpr std::size_t kDropReasonCount = 8;
std::string_view to_string(DropReason reason);

struct Request {
  std::span<const std::byte> bytes;
  ClientAddress client;
  std::uint8_t listener = 0;
  leapdb::TaiTime received{};
};

struct Decision {
  std::size_t reply_length = 0;  // 0: drop
  DropReason drop_reason = DropReason::too_short;
  bool kiss_of_death = false;     // the reply is a KoD DENY
  bool pin_violation = false;     // asked a timescale its pin forbids
  bool sticky_violation = false;  // asked a timescale other than the one it is stuck to
  bool mixed = false;             // seen on another timescale within the mixed window
  std::uint8_t other_timescale = 0;
  bool replied() const { return reply_length != 0; }
};

Decision handle(const Request& request, const Snapshot& snapshot, ClientHistory* history,
                std::span<std::byte, kMaxReplyLength> reply);

void stamp_transmit(std::span<std::byte, kMaxReplyLength> reply, leapdb::TaiTime transmit,
                    const TimescaleView& timescale);

// The ntpd convention: 254.x.y.z, the low 24 bits the signed offset in 2.22 fixed point.
std::uint32_t ntpd_smear_refid(leapdb::Nanoseconds offset);
inline constexpr std::uint32_t kChronySmearRefid = 0x7F7F01FF;  // 127.127.1.255
inline constexpr std::uint32_t kKissDeny = 0x44454E59;          // "DENY"

}  // namespace ntp
