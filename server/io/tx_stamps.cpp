#include "server/io/tx_stamps.hpp"

#include <algorithm>
#include <cstdint>

namespace io {
namespace {

constexpr std::size_t kEthernetHeader = 14;
constexpr std::size_t kIpv6Header = 40;
constexpr std::size_t kUdpHeader = 8;
constexpr unsigned kUdp = 17;

unsigned byte_at(std::span<const std::byte> bytes, std::size_t i) { return std::to_integer<unsigned>(bytes[i]); }

std::span<const std::byte> after_ip(std::span<const std::byte> packet) {
  if (packet.empty()) return {};
  std::size_t header = 0;
  const unsigned version = byte_at(packet, 0) >> 4;
  if (version == 4) {
    header = (byte_at(packet, 0) & 0x0f) * 4u;
    if (header < 20 || packet.size() < header || byte_at(packet, 9) != kUdp) return {};
  } else if (version == 6) {
    // A next header other than UDP (an extension header) is not one of our replies.
    if (packet.size() < kIpv6Header || byte_at(packet, 6) != kUdp) return {};
    header = kIpv6Header;
  } else {
    return {};
  }
  const std::span<const std::byte> udp = packet.subspan(header);
  if (udp.size() < kUdpHeader) return {};
  const std::size_t length = (byte_at(udp, 4) << 8) | byte_at(udp, 5);
  if (length < kUdpHeader) return {};
  // The error queue's buffer may cut the copy short: the NTP header is all we read of it.
  return udp.subspan(kUdpHeader, std::min(length, udp.size()) - kUdpHeader);
}

}  // namespace

// Ethernet first, when its type names the IP version that follows it: an IPv4 header's bytes 12
// and 13 (its source address) rarely look like that, and never with the version repeated after.
std::span<const std::byte> looped_udp_payload(std::span<const std::byte> frame) {
  if (frame.size() > kEthernetHeader) {
    const unsigned ethertype = (byte_at(frame, 12) << 8) | byte_at(frame, 13);
    const unsigned version = byte_at(frame, kEthernetHeader) >> 4;
    if ((ethertype == 0x0800 && version == 4) || (ethertype == 0x86dd && version == 6)) {
      if (const auto payload = after_ip(frame.subspan(kEthernetHeader)); !payload.empty()) return payload;
    }
  }
  return after_ip(frame);
}

}  // namespace io
