#pragma once
// The NTP packet (RFC 5905 §7.3) as values: a fixed 48-byte header, then for NTPv4 the
// extension fields of RFC 7822, then an optional legacy MAC. Decoding never reads past the
// span it is given and never fails on the header itself; layout errors are reported.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "server/ntp/timestamp.hpp"

namespace ntp {

inline constexpr std::size_t kHeaderLength = 48;
// Longest request we parse; anything longer is refused rather than truncated. Leaves room
// for NTS-sized extension fields while staying under the IPv6 minimum MTU.
inline constexpr std::size_t kMaxPacketLength = 1200;

enum class LeapIndicator : std::uint8_t { none = 0, insert = 1, remove = 2, unsynchronized = 3 };

enum class Mode : std::uint8_t {
  unspecified = 0,
  symmetric_active = 1,
  symmetric_passive = 2,
  client = 3,
  server = 4,
  broadcast = 5,
  control = 6,
  private_use = 7,
};

struct Header {
  LeapIndicator leap = LeapIndicator::none;
  std::uint8_t version = 4;
  Mode mode = Mode::client;
  std::uint8_t stratum = 0;
  std::int8_t poll = 0;
  std::int8_t precision = 0;
  std::uint32_t root_delay = 0;       // NTP short format
  std::uint32_t root_dispersion = 0;  // NTP short format
  std::uint32_t reference_id = 0;
  Timestamp reference_time;
  Timestamp origin_time;
  Timestamp receive_time;
  Timestamp transmit_time;
  friend bool operator==(const Header&, const Header&) = default;
};

Header decode_header(std::span<const std::byte, kHeaderLength> bytes);
void encode_header(const Header& header, std::span<std::byte, kHeaderLength> bytes);

// Byte offset of the transmit timestamp, so it can be written last, just before sending.
inline constexpr std::size_t kTransmitTimeOffset = 40;
void encode_timestamp(Timestamp ts, std::span<std::byte, 8> bytes);

enum class LayoutError : std::uint8_t {
  too_short,             // fewer than 48 bytes
  too_long,              // more than kMaxPacketLength
  not_word_aligned,      // length not a multiple of 4
  bad_extension_field,   // RFC 7822 length rules violated
  bad_mac_length,        // trailing bytes that are neither extension fields nor a MAC
};

struct ExtensionField {
  std::uint16_t type = 0;
  std::span<const std::byte> value;  // after the 4-byte field header, padding included
};

struct Layout {
  std::size_t extension_count = 0;
  std::span<const std::byte> extensions;  // all extension fields, headers included
  std::span<const std::byte> mac;         // key id + digest, or the 4-byte crypto-NAK
};

struct LayoutResult {
  std::optional<Layout> layout;
  LayoutError error = LayoutError::too_short;  // meaningful only without a layout
};

// Splits what follows the header. NTPv4 may carry extension fields (each at least 16 bytes,
// a multiple of 4; the last at least 28 when no MAC follows, which is how a trailing MAC of
// 4, 20 or 24 bytes is told apart; a SHA-2 MAC of 36, 52 or 68 bytes is one only where the
// tail does not read as fields). Earlier versions carry at most a MAC.
LayoutResult parse_layout(std::span<const std::byte> packet, std::uint8_t version);

// Calls visit(ExtensionField) for each field of a layout parse_layout accepted.
template <class Visitor>
void for_each_extension_field(std::span<const std::byte> extensions, Visitor&& visit) {
  while (extensions.size() >= 4) {
    const auto type = static_cast<std::uint16_t>((std::to_integer<unsigned>(extensions[0]) << 8) |
                                                 std::to_integer<unsigned>(extensions[1]));
    const std::size_t length = (std::to_integer<std::size_t>(extensions[2]) << 8) |
                               std::to_integer<std::size_t>(extensions[3]);
    if (length < 4 || length > extensions.size()) return;
    visit(ExtensionField{type, extensions.subspan(4, length - 4)});
    extensions = extensions.subspan(length);
  }
}

}  // namespace ntp
