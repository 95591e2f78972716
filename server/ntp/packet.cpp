#include "server/ntp/packet.hpp"

namespace ntp {
namespace {

std::uint32_t read_u32(std::span<const std::byte> b, std::size_t at) {
  return (std::to_integer<std::uint32_t>(b[at]) << 24) | (std::to_integer<std::uint32_t>(b[at + 1]) << 16) |
         (std::to_integer<std::uint32_t>(b[at + 2]) << 8) | std::to_integer<std::uint32_t>(b[at + 3]);
}

void write_u32(std::span<std::byte> b, std::size_t at, std::uint32_t v) {
  b[at] = static_cast<std::byte>(v >> 24);
  b[at + 1] = static_cast<std::byte>(v >> 16);
  b[at + 2] = static_cast<std::byte>(v >> 8);
  b[at + 3] = static_cast<std::byte>(v);
}

Timestamp read_timestamp(std::span<const std::byte> b, std::size_t at) {
  return Timestamp{read_u32(b, at), read_u32(b, at + 4)};
}

void write_timestamp(std::span<std::byte> b, std::size_t at, Timestamp ts) {
  write_u32(b, at, ts.seconds);
  write_u32(b, at + 4, ts.fraction);
}

std::size_t read_u16(std::span<const std::byte> b, std::size_t at) {
  return (std::to_integer<std::size_t>(b[at]) << 8) | std::to_integer<std::size_t>(b[at + 1]);
}

// Legacy MAC sizes: crypto-NAK (key id 0 alone), then key id + a 128-bit (MD5, AES-CMAC),
// 160-bit (SHA-1), 256-, 384- or 512-bit (SHA-2) digest.
constexpr bool is_mac_length(std::size_t n) { return n == 4 || n == 20 || n == 24 || n == 36 || n == 52 || n == 68; }
// Up to this length a tail is never an extension field (RFC 7822: the last is 28 bytes or more).
constexpr std::size_t kMaxShortMacLength = 24;
constexpr std::size_t kMinExtensionFieldLength = 16;
constexpr std::size_t kMinLastExtensionFieldLength = 28;

bool is_field_start(std::span<const std::byte> rest) {
  const std::size_t length = read_u16(rest, 2);
  return length >= kMinExtensionFieldLength && length % 4 == 0 && length <= rest.size();
}

// How an NTPv4 tail splits into extension fields and then a MAC: the MAC's length (0: none),
// or nothing when it cannot. Fields are preferred, so a SHA-2 MAC (longer than 24 bytes) is
// only a tail that does not read as fields; a key id whose low 16 bits read as a field length
// makes one ambiguous (RFC 7822 section 7.5), which SHA-2 key ids below 16 never do.
std::optional<std::size_t> split_tail(std::span<const std::byte> rest) {
  if (rest.empty()) return 0;
  if (rest.size() > kMaxShortMacLength && is_field_start(rest)) {
    const std::size_t length = read_u16(rest, 2);
    if (length == rest.size()) {
      if (length >= kMinLastExtensionFieldLength) return 0;
    } else if (const auto mac = split_tail(rest.subspan(length))) {
      return mac;
    }
  }
  if (is_mac_length(rest.size())) return rest.size();
  return std::nullopt;
}

}  // namespace

Header decode_header(std::span<const std::byte, kHeaderLength> bytes) {
  const auto first = std::to_integer<std::uint8_t>(bytes[0]);
  Header h;
  h.leap = static_cast<LeapIndicator>(first >> 6);
  h.version = static_cast<std::uint8_t>((first >> 3) & 0x7);
  h.mode = static_cast<Mode>(first & 0x7);
  h.stratum = std::to_integer<std::uint8_t>(bytes[1]);
  h.poll = static_cast<std::int8_t>(std::to_integer<std::uint8_t>(bytes[2]));
  h.precision = static_cast<std::int8_t>(std::to_integer<std::uint8_t>(bytes[3]));
  h.root_delay = read_u32(bytes, 4);
  h.root_dispersion = read_u32(bytes, 8);
  h.reference_id = read_u32(bytes, 12);
  h.reference_time = read_timestamp(bytes, 16);
  h.origin_time = read_timestamp(bytes, 24);
  h.receive_time = read_timestamp(bytes, 32);
  h.transmit_time = read_timestamp(bytes, 40);
  return h;
}

void encode_header(const Header& h, std::span<std::byte, kHeaderLength> bytes) {
  bytes[0] = static_cast<std::byte>((static_cast<unsigned>(h.leap) << 6) | ((h.version & 0x7u) << 3) |
                                    (static_cast<unsigned>(h.mode) & 0x7u));
  bytes[1] = static_cast<std::byte>(h.stratum);
  bytes[2] = static_cast<std::byte>(h.poll);
  bytes[3] = static_cast<std::byte>(h.precision);
  write_u32(bytes, 4, h.root_delay);
  write_u32(bytes, 8, h.root_dispersion);
  write_u32(bytes, 12, h.reference_id);
  write_timestamp(bytes, 16, h.reference_time);
  write_timestamp(bytes, 24, h.origin_time);
  write_timestamp(bytes, 32, h.receive_time);
  write_timestamp(bytes, 40, h.transmit_time);
}

void encode_timestamp(Timestamp ts, std::span<std::byte, 8> bytes) { write_timestamp(bytes, 0, ts); }

LayoutResult parse_layout(std::span<const std::byte> packet, std::uint8_t version) {
  if (packet.size() < kHeaderLength) return {std::nullopt, LayoutError::too_short};
  if (packet.size() > kMaxPacketLength) return {std::nullopt, LayoutError::too_long};
  if (packet.size() % 4 != 0) return {std::nullopt, LayoutError::not_word_aligned};

  std::span<const std::byte> rest = packet.subspan(kHeaderLength);
  Layout layout;
  if (version == 4 && !rest.empty()) {
    const std::optional<std::size_t> mac = split_tail(rest);
    if (!mac) {
      const bool field_error = rest.size() > kMaxShortMacLength && !is_field_start(rest);
      return {std::nullopt, field_error ? LayoutError::bad_extension_field : LayoutError::bad_mac_length};
    }
    layout.extensions = rest.first(rest.size() - *mac);
    for_each_extension_field(layout.extensions, [&layout](const ExtensionField&) { ++layout.extension_count; });
    rest = rest.subspan(rest.size() - *mac);
  }
  if (!rest.empty() && !is_mac_length(rest.size())) return {std::nullopt, LayoutError::bad_mac_length};
  layout.mac = rest;
  return {layout, LayoutError::too_short};
}

}  // namespace ntp
