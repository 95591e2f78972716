#pragma once
// The Ethernet frames the XDP program redirects to userspace: a request's addresses and where
// its UDP payload lies, and the request turned into its reply in place. Pure: no sockets, no
// clocks, no allocation; never reads or writes past the frame it is given.

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <variant>

#include "server/ntp/client_address.hpp"

namespace xdp {

// Why a frame is not served; each is a reason of smeard_drops_total.
enum class FrameDrop : std::uint8_t { bad_frame, ip_options, too_long, bad_checksum };

struct RequestFrame {
  ntp::ClientAddress client;                   // source IP (IPv4 held IPv4-mapped) and port
  std::array<std::uint8_t, 16> destination{};  // destination IP, same representation
  std::uint16_t destination_port = 0;
  bool ipv6 = false;
  std::size_t payload_offset = 0;  // where the UDP payload starts in the frame
  std::size_t payload_length = 0;  // from the UDP length field (Ethernet padding excluded)
};

// A frame as the XDP program passes it: Ethernet II (no VLAN tag), then IPv4 or IPv6, then UDP.
// Payloads longer than max_payload are too_long.
std::variant<RequestFrame, FrameDrop> parse_request(std::span<const std::byte> frame, std::size_t max_payload);

// Turns the request's frame, whose UDP payload has already been overwritten in place with the
// reply (reply_length bytes at payload_offset), into the reply frame: Ethernet source/destination
// swapped, IP addresses swapped, UDP ports swapped, IPv4 total length, TTL 64, id 0, DF set, no
// options, TOS 0, header checksum; IPv6 payload length, hop limit 64, traffic class and flow label
// 0; UDP length and a full UDP checksum (a computed 0 is sent as 0xFFFF). Returns the reply's
// frame length. Precondition: frame.size() >= payload_offset + reply_length, and the reply fits
// the 16-bit length fields.
std::size_t make_reply(std::span<std::byte> frame, const RequestFrame& request, std::size_t reply_length);

}  // namespace xdp
