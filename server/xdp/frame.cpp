#include "server/xdp/frame.hpp"

#include <algorithm>

namespace xdp {
namespace {

constexpr std::size_t kEthernetHeader = 14;
constexpr std::size_t kIpv4Header = 20;
constexpr std::size_t kIpv6Header = 40;
constexpr std::size_t kUdpHeader = 8;
constexpr std::uint16_t kEthertypeIpv4 = 0x0800;
constexpr std::uint16_t kEthertypeIpv6 = 0x86DD;
constexpr std::uint8_t kProtocolUdp = 17;
constexpr std::uint8_t kReplyHopLimit = 64;
constexpr std::uint16_t kMoreFragmentsAndOffset = 0x3FFF;
constexpr std::uint16_t kDontFragment = 0x4000;
constexpr std::array<std::uint8_t, 12> kIpv4MappedPrefix{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

std::uint8_t load8(std::span<const std::byte> bytes, std::size_t at) {
  return std::to_integer<std::uint8_t>(bytes[at]);
}

std::uint16_t load16(std::span<const std::byte> bytes, std::size_t at) {
  return static_cast<std::uint16_t>(load8(bytes, at) << 8 | load8(bytes, at + 1));
}

void store16(std::span<std::byte> bytes, std::size_t at, std::uint16_t value) {
  bytes[at] = static_cast<std::byte>(value >> 8);
  bytes[at + 1] = static_cast<std::byte>(value);
}

// RFC 1071: the one's-complement sum of big-endian 16-bit words, an odd last byte padded with
// zero; folded when the sum is taken.
std::uint64_t add_words(std::span<const std::byte> bytes, std::uint64_t sum = 0) {
  std::size_t i = 0;
  for (; i + 1 < bytes.size(); i += 2) sum += load16(bytes, i);
  if (i < bytes.size()) sum += static_cast<std::uint64_t>(load8(bytes, i)) << 8;
  return sum;
}

std::uint16_t fold(std::uint64_t sum) {
  while (sum >> 16 != 0) sum = (sum & 0xFFFF) + (sum >> 16);
  return static_cast<std::uint16_t>(sum);
}

std::uint16_t checksum(std::uint64_t sum) { return static_cast<std::uint16_t>(~fold(sum)); }

void copy_address(std::span<const std::byte> bytes, std::uint8_t* to, std::size_t length) {
  for (std::size_t i = 0; i < length; ++i) to[i] = load8(bytes, i);
}

// UDP after the IP header; `udp` is exactly what the IP header says remains.
std::variant<RequestFrame, FrameDrop> parse_udp(RequestFrame request, std::span<const std::byte> udp,
                                                std::size_t udp_offset, std::size_t max_payload) {
  // The UDP checksum is not verified: with checksum offload (veth included) a locally sent
  // request carries only a partial one.
  const std::uint16_t udp_length = load16(udp, 4);
  if (udp_length < kUdpHeader || udp_length != udp.size()) return FrameDrop::bad_frame;
  request.client.port = load16(udp, 0);
  request.destination_port = load16(udp, 2);
  request.payload_offset = udp_offset + kUdpHeader;
  request.payload_length = udp_length - kUdpHeader;
  if (request.payload_length > max_payload) return FrameDrop::too_long;
  return request;
}

std::variant<RequestFrame, FrameDrop> parse_ipv4(std::span<const std::byte> ip, std::size_t max_payload) {
  if (ip.size() < kIpv4Header) return FrameDrop::bad_frame;
  const std::uint8_t version_ihl = load8(ip, 0);
  const std::size_t header = (version_ihl & 0xFu) * 4;
  const std::uint16_t total_length = load16(ip, 2);
  if (version_ihl >> 4 != 4 || header < kIpv4Header) return FrameDrop::bad_frame;
  if (total_length < header + kUdpHeader || total_length > ip.size()) return FrameDrop::bad_frame;
  if (header != kIpv4Header) return FrameDrop::ip_options;
  if (load8(ip, 9) != kProtocolUdp || (load16(ip, 6) & kMoreFragmentsAndOffset) != 0) return FrameDrop::bad_frame;
  if (fold(add_words(ip.first(kIpv4Header))) != 0xFFFF) return FrameDrop::bad_checksum;
  RequestFrame request;
  std::ranges::copy(kIpv4MappedPrefix, request.client.ip.begin());
  std::ranges::copy(kIpv4MappedPrefix, request.destination.begin());
  copy_address(ip.subspan(12, 4), &request.client.ip[12], 4);
  copy_address(ip.subspan(16, 4), &request.destination[12], 4);
  return parse_udp(request, ip.subspan(kIpv4Header, total_length - kIpv4Header), kEthernetHeader + kIpv4Header,
                   max_payload);
}

std::variant<RequestFrame, FrameDrop> parse_ipv6(std::span<const std::byte> ip, std::size_t max_payload) {
  if (ip.size() < kIpv6Header) return FrameDrop::bad_frame;
  const std::uint16_t payload_length = load16(ip, 4);
  if (load8(ip, 0) >> 4 != 6 || load8(ip, 6) != kProtocolUdp) return FrameDrop::bad_frame;
  if (payload_length < kUdpHeader || payload_length > ip.size() - kIpv6Header) return FrameDrop::bad_frame;
  RequestFrame request;
  request.ipv6 = true;
  copy_address(ip.subspan(8, 16), request.client.ip.data(), 16);
  copy_address(ip.subspan(24, 16), request.destination.data(), 16);
  return parse_udp(request, ip.subspan(kIpv6Header, payload_length), kEthernetHeader + kIpv6Header, max_payload);
}

}  // namespace

std::variant<RequestFrame, FrameDrop> parse_request(std::span<const std::byte> frame, std::size_t max_payload) {
  if (frame.size() < kEthernetHeader) return FrameDrop::bad_frame;
  const std::uint16_t ethertype = load16(frame, 12);
  if (ethertype == kEthertypeIpv4) return parse_ipv4(frame.subspan(kEthernetHeader), max_payload);
  if (ethertype == kEthertypeIpv6) return parse_ipv6(frame.subspan(kEthernetHeader), max_payload);
  return FrameDrop::bad_frame;
}

std::size_t make_reply(std::span<std::byte> frame, const RequestFrame& request, std::size_t reply_length) {
  std::swap_ranges(frame.begin(), frame.begin() + 6, frame.begin() + 6);
  const std::span<std::byte> ip = frame.subspan(kEthernetHeader);
  const std::size_t udp_length = kUdpHeader + reply_length;
  std::uint64_t pseudo_header = kProtocolUdp + udp_length;
  std::size_t ip_header = kIpv6Header;
  if (request.ipv6) {
    ip[0] = std::byte{0x60};  // version 6; traffic class and flow label 0
    ip[1] = ip[2] = ip[3] = std::byte{0};
    store16(ip, 4, static_cast<std::uint16_t>(udp_length));
    ip[6] = std::byte{kProtocolUdp};
    ip[7] = std::byte{kReplyHopLimit};
    std::swap_ranges(ip.begin() + 8, ip.begin() + 24, ip.begin() + 24);
    pseudo_header = add_words(ip.subspan(8, 32), pseudo_header);
  } else {
    ip_header = kIpv4Header;
    ip[0] = std::byte{0x45};  // version 4, no options
    ip[1] = std::byte{0};
    store16(ip, 2, static_cast<std::uint16_t>(kIpv4Header + udp_length));
    store16(ip, 4, 0);
    store16(ip, 6, kDontFragment);
    ip[8] = std::byte{kReplyHopLimit};
    ip[9] = std::byte{kProtocolUdp};
    store16(ip, 10, 0);
    std::swap_ranges(ip.begin() + 12, ip.begin() + 16, ip.begin() + 16);
    store16(ip, 10, checksum(add_words(ip.first(kIpv4Header))));
    pseudo_header = add_words(ip.subspan(12, 8), pseudo_header);
  }
  const std::span<std::byte> udp = ip.subspan(ip_header, udp_length);
  std::swap_ranges(udp.begin(), udp.begin() + 2, udp.begin() + 2);
  store16(udp, 4, static_cast<std::uint16_t>(udp_length));
  store16(udp, 6, 0);
  const std::uint16_t udp_checksum = checksum(add_words(udp, pseudo_header));
  // RFC 768: 0 would mean "no checksum" (and IPv6 receivers drop it), so a computed 0 is sent as all ones.
  store16(udp, 6, udp_checksum == 0 ? 0xFFFF : udp_checksum);
  return kEthernetHeader + ip_header + udp_length;
}

}  // namespace xdp
