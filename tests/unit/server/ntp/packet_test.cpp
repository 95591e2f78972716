#include "server/ntp/packet.hpp"

#include <doctest/doctest.h>

#include <vector>

using ntp::LayoutError;

namespace {

std::vector<std::byte> packet_of(std::size_t length) { return std::vector<std::byte>(length, std::byte{0}); }

// Appends an extension field of `length` bytes (header included) with the given type.
void add_extension_field(std::vector<std::byte>& packet, std::uint16_t type, std::size_t length) {
  packet.push_back(static_cast<std::byte>(type >> 8));
  packet.push_back(static_cast<std::byte>(type));
  packet.push_back(static_cast<std::byte>(length >> 8));
  packet.push_back(static_cast<std::byte>(length));
  for (std::size_t i = 4; i < length; ++i) packet.push_back(std::byte{0xAB});
}

}  // namespace

TEST_CASE("header round trip keeps every field") {
  ntp::Header h;
  h.leap = ntp::LeapIndicator::remove;
  h.version = 3;
  h.mode = ntp::Mode::server;
  h.stratum = 2;
  h.poll = -6;
  h.precision = -23;
  h.root_delay = 0x0001'0203;
  h.root_dispersion = 0x0405'0607;
  h.reference_id = 0x4750'5300;
  h.reference_time = {1, 2};
  h.origin_time = {3, 4};
  h.receive_time = {5, 6};
  h.transmit_time = {0xFFFF'FFFFu, 0x8000'0000u};
  std::array<std::byte, ntp::kHeaderLength> bytes{};
  ntp::encode_header(h, bytes);
  CHECK(std::to_integer<int>(bytes[0]) == ((2 << 6) | (3 << 3) | 4));
  CHECK(std::to_integer<int>(bytes[2]) == 0xFA);
  CHECK(ntp::decode_header(bytes) == h);
}

TEST_CASE("every first byte decodes to its three fields") {
  for (unsigned first = 0; first < 256; ++first) {
    std::array<std::byte, ntp::kHeaderLength> bytes{};
    bytes[0] = static_cast<std::byte>(first);
    const ntp::Header h = ntp::decode_header(bytes);
    CHECK(static_cast<unsigned>(h.leap) == first >> 6);
    CHECK(h.version == ((first >> 3) & 7));
    CHECK(static_cast<unsigned>(h.mode) == (first & 7));
    std::array<std::byte, ntp::kHeaderLength> again{};
    ntp::encode_header(h, again);
    CHECK(again == bytes);
  }
}

TEST_CASE("layout: lengths") {
  CHECK(ntp::parse_layout(packet_of(0), 4).error == LayoutError::too_short);
  CHECK(ntp::parse_layout(packet_of(47), 4).error == LayoutError::too_short);
  CHECK(ntp::parse_layout(packet_of(49), 4).error == LayoutError::not_word_aligned);
  CHECK(ntp::parse_layout(packet_of(50), 3).error == LayoutError::not_word_aligned);
  CHECK(ntp::parse_layout(packet_of(ntp::kMaxPacketLength + 4), 4).error == LayoutError::too_long);
  const auto plain = ntp::parse_layout(packet_of(48), 4);
  REQUIRE(plain.layout);
  CHECK(plain.layout->extension_count == 0);
  CHECK(plain.layout->mac.empty());
}

TEST_CASE("layout: legacy MACs") {
  for (const std::uint8_t version : std::initializer_list<std::uint8_t>{1, 2, 3, 4}) {
    CAPTURE(version);
    for (const std::size_t mac : {4u, 20u, 24u, 36u, 52u, 68u}) {
      CAPTURE(mac);
      auto packet = packet_of(48 + mac);
      packet[48 + 3] = std::byte{3};  // key id 3: never a field length
      const auto result = ntp::parse_layout(packet, version);
      REQUIRE(result.layout);
      CHECK(result.layout->mac.size() == mac);
      CHECK(result.layout->extension_count == 0);
    }
    for (const std::size_t junk : {8u, 12u, 16u}) {
      CHECK(ntp::parse_layout(packet_of(48 + junk), version).error == LayoutError::bad_mac_length);
    }
  }
  // Before NTPv4 there are no extension fields: 28 trailing bytes are nothing valid.
  CHECK(ntp::parse_layout(packet_of(48 + 28), 3).error == LayoutError::bad_mac_length);
}

TEST_CASE("layout: in NTPv4 a 20- or 24-byte tail is a MAC, whatever its key id reads as (RFC 7822)") {
  // A SHA-2 MAC truncated to 20 bytes (ntpd, NTPsec, chrony in NTPv4) is 24 bytes: never an
  // extension field, as chrony parses it, even when the key id's low half reads as a length.
  for (const std::size_t mac : {20u, 24u}) {
    for (const std::uint8_t id : {std::uint8_t{3}, std::uint8_t{16}, std::uint8_t{20}, std::uint8_t{24}}) {
      CAPTURE(mac);
      CAPTURE(id);
      auto alone = packet_of(48 + mac);
      alone[48 + 3] = std::byte{id};
      const auto result = ntp::parse_layout(alone, 4);
      REQUIRE(result.layout);
      CHECK(result.layout->extension_count == 0);
      CHECK(result.layout->mac.size() == mac);
      auto after_field = packet_of(48);
      add_extension_field(after_field, 0x0204, 16);
      after_field.resize(after_field.size() + mac);
      after_field[48 + 16 + 3] = std::byte{id};
      const auto with_field = ntp::parse_layout(after_field, 4);
      REQUIRE(with_field.layout);
      CHECK(with_field.layout->extension_count == 1);
      CHECK(with_field.layout->extensions.size() == 16);
      CHECK(with_field.layout->mac.size() == mac);
    }
  }
}

TEST_CASE("layout: RFC 7822 extension fields") {
  SUBCASE("one field without MAC must be at least 28 bytes") {
    auto p = packet_of(48);
    add_extension_field(p, 0x0104, 28);
    const auto result = ntp::parse_layout(p, 4);
    REQUIRE(result.layout);
    CHECK(result.layout->extension_count == 1);
    CHECK(result.layout->extensions.size() == 28);
    CHECK(result.layout->mac.empty());
    int seen = 0;
    ntp::for_each_extension_field(result.layout->extensions, [&](const ntp::ExtensionField& field) {
      CHECK(field.type == 0x0104);
      CHECK(field.value.size() == 24);
      ++seen;
    });
    CHECK(seen == 1);
  }
  SUBCASE("short fields followed by a MAC") {
    auto p = packet_of(48);
    add_extension_field(p, 0x0204, 16);
    add_extension_field(p, 0x0304, 16);
    p.resize(p.size() + 20);  // key id + MD5
    const auto result = ntp::parse_layout(p, 4);
    REQUIRE(result.layout);
    CHECK(result.layout->extension_count == 2);
    CHECK(result.layout->mac.size() == 20);
  }
  SUBCASE("a field followed by a SHA-256 MAC, and a field as long as one") {
    auto p = packet_of(48);
    add_extension_field(p, 0x0204, 16);
    const std::size_t mac_at = p.size();
    p.resize(p.size() + 36);  // key id + SHA-256
    p[mac_at + 3] = std::byte{2};
    const auto with_mac = ntp::parse_layout(p, 4);
    REQUIRE(with_mac.layout);
    CHECK(with_mac.layout->extension_count == 1);
    CHECK(with_mac.layout->mac.size() == 36);
    auto q = packet_of(48);
    add_extension_field(q, 0x0104, 36);
    const auto field = ntp::parse_layout(q, 4);
    REQUIRE(field.layout);
    CHECK(field.layout->extension_count == 1);
    CHECK(field.layout->mac.empty());
  }
  SUBCASE("a short last field without MAC is refused") {
    auto p = packet_of(48);
    add_extension_field(p, 0x0104, 28);
    add_extension_field(p, 0x0204, 16);
    // 16 trailing bytes would be a MAC of impossible length.
    CHECK(ntp::parse_layout(p, 4).error == LayoutError::bad_mac_length);
  }
  SUBCASE("bad field lengths") {
    for (const std::size_t claimed : {0u, 4u, 12u, 30u, 64u}) {
      CAPTURE(claimed);
      auto p = packet_of(48);
      add_extension_field(p, 0x0104, 32);
      p[48 + 2] = static_cast<std::byte>(claimed >> 8);
      p[48 + 3] = static_cast<std::byte>(claimed);
      CHECK(ntp::parse_layout(p, 4).error == LayoutError::bad_extension_field);
    }
  }
  SUBCASE("the same bytes are no extension fields to NTPv3") {
    auto p = packet_of(48);
    add_extension_field(p, 0x0104, 28);
    CHECK(ntp::parse_layout(p, 3).error == LayoutError::bad_mac_length);
  }
}

TEST_CASE("layout never reads out of bounds on arbitrary tails") {
  // Every tail of up to 64 bytes, filled with every pattern of a length byte.
  for (std::size_t tail = 0; tail <= 64; tail += 4) {
    for (unsigned fill = 0; fill < 256; fill += 3) {
      auto p = packet_of(48 + tail);
      for (std::size_t i = 48; i < p.size(); ++i) p[i] = static_cast<std::byte>(fill + i);
      const auto result = ntp::parse_layout(p, 4);
      if (result.layout) {
        CHECK(result.layout->extensions.size() + result.layout->mac.size() == tail);
      }
    }
  }
}
