#include "server/ntp/responder.hpp"

#include <algorithm>

namespace ntp {
namespace {

constexpr Decision drop(DropReason reason) { return Decision{0, reason}; }

DropReason drop_reason_for(LayoutError error) {
  switch (error) {
    case LayoutError::too_short: return DropReason::too_short;
    case LayoutError::too_long: return DropReason::too_long;
    case LayoutError::not_word_aligned: return DropReason::not_word_aligned;
    case LayoutError::bad_extension_field: return DropReason::bad_extension_field;
    case LayoutError::bad_mac_length: return DropReason::bad_mac_length;
  }
  return DropReason::too_short;
}

// NTPv1 (RFC 1059) has no mode field: its requests arrive with mode 0 and are answered
// like client requests. Control (6) and private (7) modes are never answered: they were
// the amplification vectors of monlist and friends.
bool is_client_request(const Header& request) {
  return request.mode == Mode::client || (request.mode == Mode::unspecified && request.version == 1);
}

}  // namespace

std::string_view to_string(DropReason reason) {
  switch (reason) {
    case DropReason::too_short: return "too_short";
    case DropReason::too_long: return "too_long";
    case DropReason::not_word_aligned: return "not_word_aligned";
    case DropReason::bad_extension_field: return "bad_extension_field";
    case DropReason::bad_mac_length: return "bad_mac_length";
    case DropReason::bad_version: return "bad_version";
    case DropReason::unsupported_mode: return "unsupported_mode";
  }
  return "unknown";
}

Decision handle(std::span<const std::byte> request, const ClientAddress& /*client: for access policy*/,
                leapdb::UtcTime received, const Snapshot& snapshot, std::span<std::byte, kMaxReplyLength> reply) {
  if (request.size() < kHeaderLength) return drop(DropReason::too_short);
  const Header in = decode_header(request.first<kHeaderLength>());
  if (in.version < 1 || in.version > 4) return drop(DropReason::bad_version);
  if (!is_client_request(in)) return drop(DropReason::unsupported_mode);
  const LayoutResult layout = parse_layout(request, in.version);
  if (!layout.layout) return drop(drop_reason_for(layout.error));

  Header out;
  out.leap = snapshot.leap;
  out.version = in.version;
  out.mode = Mode::server;
  out.stratum = snapshot.stratum;
  out.poll = in.poll;
  out.precision = snapshot.precision;
  out.root_delay = snapshot.root_delay;
  out.root_dispersion = snapshot.root_dispersion;
  out.reference_id = snapshot.reference_id;
  out.reference_time = to_ntp(snapshot.reference_time);
  out.origin_time = in.transmit_time;
  out.receive_time = to_ntp(received);
  encode_header(out, reply.first<kHeaderLength>());

  // A MAC with a key we do not hold is answered with a crypto-NAK (RFC 5905 §7.5), so an
  // authenticating client learns why instead of timing out. Extension fields we do not
  // implement are ignored, as RFC 7822 asks.
  const bool needs_crypto_nak = layout.layout->mac.size() > 4;
  if (!needs_crypto_nak) return Decision{kHeaderLength, DropReason::too_short};
  std::fill(reply.begin() + kHeaderLength, reply.end(), std::byte{0});
  return Decision{kMaxReplyLength, DropReason::too_short};
}

void stamp_transmit(std::span<std::byte, kMaxReplyLength> reply, leapdb::UtcTime transmit) {
  encode_timestamp(to_ntp(transmit), reply.subspan<kTransmitTimeOffset, 8>());
}

}  // namespace ntp
