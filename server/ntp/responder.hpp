#pragma once
// The server's answer to one request: a pure function of the request, who sent it, on which
// listener, when it arrived (in TAI) and the published snapshot, plus the shared client
// history (memory only) that sticky mode and the mixed-client detector need. No sockets and no
// clocks here; the I/O layer stamps the transmit time with stamp_transmit() as late as it can.
//
// Policy order: source port -> version -> mode -> layout -> access (deny, then allow) -> rate
// limit -> pinned or stuck to another timescale? -> MAC -> answer on this listener's
// timescale. The mixed-client detector looks at every request that gets that far.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <variant>

#include "leapdb/time.hpp"
#include "server/ntp/auth.hpp"
#include "server/ntp/client_address.hpp"
#include "server/ntp/client_history.hpp"
#include "server/ntp/interleaved.hpp"
#include "server/ntp/packet.hpp"
#include "server/ntp/rate_limit.hpp"
#include "server/ntp/snapshot.hpp"
#include "server/nts/fields.hpp"

namespace ntp {

// A reply is the header, plus the request's key id and a digest of the same length (whole or
// truncated to 20 bytes, as the request's) when it was authenticated, a 4-byte crypto-NAK when
// its MAC did not verify, or NTS's fields. Never longer than the request.
inline constexpr std::size_t kMaxReplyLength = kMaxPacketLength;

enum class DropReason : std::uint8_t {
  too_short,
  too_long,
  not_word_aligned,
  bad_extension_field,
  bad_mac_length,
  bad_version,
  unsupported_mode,
  wrong_timescale,  // pinned or stuck to another timescale, and the policy says drop
  bad_source_port,  // 0, or the echo (7) and chargen (19) services: reflection loops
  old_version,      // below access.min_version
  denied,           // by access, and the policy says drop
  rate_limited,     // over the limit, neither leaked nor sent a KoD
  key_required,     // no MAC from a network that must authenticate
  bad_nts,          // NTS fields missing, repeated, out of order, or no room for a cookie
  // Frames taken by AF_XDP, before the request is read: cut short or with lengths that disagree,
  // an IPv4 header with options, a bad IPv4 header checksum.
  bad_frame,
  ip_options,
  bad_checksum,
};
inline constexpr std::size_t kDropReasonCount = 17;
std::string_view to_string(DropReason reason);

struct Request {
  std::span<const std::byte> bytes;
  ClientAddress client;
  std::uint8_t listener = 0;
  leapdb::TaiTime received{};
  leapdb::UtcTime reading{};  // the system clock's receive reading: what rate limiting counts in
};

// The mutable state a worker answers with; any of them may be absent.
struct Tables {
  ClientHistory* history = nullptr;  // shared by all workers
  RateLimiter* limiter = nullptr;    // this worker's
  Authenticator* authenticator = nullptr;  // this worker's, for the snapshot's key ring
  // Fresh random bytes for this request's NTS reply (its nonce, its cookies' nonces); without
  // them NTS fields are ignored.
  const std::array<std::byte, nts::kReplyRandomness>* nts_randomness = nullptr;
  InterleavedTable* interleaved = nullptr;  // this worker's; without it every reply is basic
};

enum class AuthResult : std::uint8_t { none, ok, unknown_key, bad_length, bad_mac };
std::string_view to_string(AuthResult result);

inline constexpr std::uint32_t kKissDeny = 0x44454E59;  // "DENY"
inline constexpr std::uint32_t kKissRate = 0x52415445;  // "RATE"
inline constexpr std::uint32_t kKissCryp = 0x43525950;  // "CRYP": the crypto-NAK's header
// The kiss-o'-death codes we send; each value is its reply's reference id.
enum class Kiss : std::uint32_t { deny = kKissDeny, rate = kKissRate, crypto_nak = kKissCryp };

// Time for the client. sign() authenticates it once stamp_transmit() has written T3.
struct TimeReply {
  std::size_t length = kHeaderLength;
  MacKey mac_key{};                   // a symmetric-key MAC with this key and digest length, or
  std::optional<nts::ReplySeal> nts;  // NTS's authenticator, sealed over the fresh cookies
  // Interleaved mode (RFC 9769): the request asked for it, so save this reply's receive and
  // transmit timestamps once it is stamped; and when the previous reply's were found, the
  // transmit timestamp it left with, to send instead of this reply's own.
  bool save_interleaved = false;
  std::optional<Timestamp> interleaved_transmit;
};

// No time: the code as reference id, LI "alarm", stratum 0. A failed MAC adds four zero bytes
// (the crypto-NAK); a refused client whose MAC verified gets its DENY signed.
struct KissOfDeath {
  Kiss code = Kiss::deny;
  std::size_t length = kHeaderLength;
  MacKey mac_key{};
};

// A KoD header with code NTSN (nts::kKissNtsNak) and the request's unique identifier: a cookie or
// authenticator that failed, or a cookie for another timescale. The client goes back to key
// establishment, which hands it to its own listener.
struct NtsNak {
  std::size_t length = kHeaderLength;
};

struct Drop {
  DropReason reason = DropReason::too_short;
};

struct Decision {
  using Outcome = std::variant<Drop, TimeReply, KissOfDeath, NtsNak>;
  Outcome outcome;
  // What was learned about the client on the way, whatever the outcome; a drop before the
  // policy checks learned nothing.
  RateLimiter::Verdict rate = RateLimiter::Verdict::answer;
  AuthResult auth = AuthResult::none;
  bool pin_violation = false;     // asked a timescale its pin forbids
  bool sticky_violation = false;  // asked a timescale other than the one it is stuck to
  bool mixed = false;             // seen on another timescale within the mixed window
  std::uint8_t other_timescale = 0;

  template <class Alternative>
  const Alternative* as() const {  // null unless the outcome is that one
    return std::get_if<Alternative>(&outcome);
  }
  bool replied() const { return !std::holds_alternative<Drop>(outcome); }
  std::size_t reply_length() const;  // 0: a drop
  MacKey mac_key() const;            // the key and digest length sign() adds a MAC with; false: none
};

Decision handle(const Request& request, const Snapshot& snapshot, const Tables& tables,
                std::span<std::byte, kMaxReplyLength> reply);

// Writes the transmit time and returns what it wrote: `transmit` on the timescale, or for an
// interleaved reply the saved timestamp. Then sign() adds the MAC or the NTS authenticator
// when the decision says so: last, as either covers it.
Timestamp stamp_transmit(std::span<std::byte, kMaxReplyLength> reply, leapdb::TaiTime transmit,
                         const TimescaleView& timescale);
void write_transmit(std::span<std::byte, kMaxReplyLength> reply, Timestamp transmit);
// What a reply leaving at `transmit` says it left at, on the timescale.
Timestamp transmit_timestamp(leapdb::TaiTime transmit, const TimescaleView& timescale);
// The receive timestamp a reply carries (the key of its interleaved state).
Timestamp reply_receive(std::span<const std::byte> reply);
void sign(std::span<std::byte, kMaxReplyLength> reply, const Decision& decision, Authenticator& authenticator);
// Wipes the S2C key an NTS reply's decision holds, once sign() has sealed the reply with it: a
// worker keeps decisions in its buffers until the next batch overwrites them.
void forget_session_key(Decision& decision);

// The ntpd convention: 254.x.y.z, the low 24 bits the signed offset in 2.22 fixed point.
std::uint32_t ntpd_smear_refid(leapdb::Nanoseconds offset);
inline constexpr std::uint32_t kChronySmearRefid = 0x7F7F01FF;  // 127.127.1.255

}  // namespace ntp
