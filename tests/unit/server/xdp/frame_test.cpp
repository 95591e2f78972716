// The frames of the AF_XDP path: requests built byte by byte and parsed field by field, every
// truncation and single-field corruption dropped for its reason, and replies checked against
// sums computed here and against reference frames computed independently.
#include "server/xdp/frame.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "tests/unit/server/ntp/allocations.hpp"

namespace {

using Bytes = std::vector<std::uint8_t>;

constexpr std::array<std::uint8_t, 6> kServerMac{2, 0, 0, 0, 0, 1};
constexpr std::array<std::uint8_t, 6> kClientMac{2, 0, 0, 0, 0, 2};
constexpr std::array<std::uint8_t, 4> kClient4{192, 0, 2, 1};
constexpr std::array<std::uint8_t, 4> kServer4{198, 51, 100, 7};
constexpr std::array<std::uint8_t, 16> kClient6{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01};
constexpr std::array<std::uint8_t, 16> kServer6{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x23};
constexpr std::array<std::uint8_t, 16> kClient4Mapped{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1};
constexpr std::array<std::uint8_t, 16> kServer4Mapped{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 51, 100, 7};
constexpr std::uint16_t kClientPort = 40123;
constexpr std::uint16_t kServerPort = 123;

// Offsets in a frame without options or extension headers.
constexpr std::size_t kIp = 14;
constexpr std::size_t kUdp4 = kIp + 20;
constexpr std::size_t kUdp6 = kIp + 40;

// Reference frames written by tests/unit/server/xdp/reply_fixture.py (python3, struct, its own
// RFC 1071 checksum): requests as a client sends them (IPv4 TOS 0xb8, id 0x1234, TTL 5; IPv6
// traffic class 0xb8, flow label 0x12345, hop limit 3), and the replies carrying kReplyPayload.
// `reply_fixture.py --check-linux` showed Linux's UDP receive over veth accepting both replies
// and counting a copy with one payload bit changed as a checksum error.
constexpr std::array<std::uint8_t, 90> kIpv4Request{
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x08, 0x00, 0x45, 0xb8, 0x00, 0x4c,
    0x12, 0x34, 0x00, 0x00, 0x05, 0x11, 0xb6, 0x79, 0xc0, 0x00, 0x02, 0x01, 0xc6, 0x33, 0x64, 0x07, 0x9c, 0xbb,
    0x00, 0x7b, 0x00, 0x38, 0x28, 0xc9, 0x23, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b,
    0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d,
    0x1e, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f};
constexpr std::array<std::uint8_t, 98> kIpv4Reply{
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00, 0x45, 0x00, 0x00,
    0x54, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x4e, 0x5d, 0xc6, 0x33, 0x64, 0x07, 0xc0, 0x00, 0x02, 0x01,
    0x00, 0x7b, 0x9c, 0xbb, 0x00, 0x40, 0x9a, 0x7f, 0x24, 0x07, 0x0e, 0x15, 0x1c, 0x23, 0x2a, 0x31, 0x38,
    0x3f, 0x46, 0x4d, 0x54, 0x5b, 0x62, 0x69, 0x70, 0x77, 0x7e, 0x85, 0x8c, 0x93, 0x9a, 0xa1, 0xa8, 0xaf,
    0xb6, 0xbd, 0xc4, 0xcb, 0xd2, 0xd9, 0xe0, 0xe7, 0xee, 0xf5, 0xfc, 0x03, 0x0a, 0x11, 0x18, 0x1f, 0x26,
    0x2d, 0x34, 0x3b, 0x42, 0x49, 0x50, 0x57, 0x5e, 0x65, 0x6c, 0x73, 0x7a, 0x81};
constexpr std::array<std::uint8_t, 110> kIpv6Request{
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x86, 0xdd, 0x6b, 0x81, 0x23, 0x45, 0x00,
    0x38, 0x11, 0x03, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x23, 0x9c, 0xbb, 0x00,
    0x7b, 0x00, 0x38, 0xb8, 0x6f, 0x23, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d,
    0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20,
    0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f};
constexpr std::array<std::uint8_t, 118> kIpv6Reply{
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x86, 0xdd, 0x60, 0x00, 0x00,
    0x00, 0x00, 0x40, 0x11, 0x40, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x01, 0x23, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x01, 0x00, 0x7b, 0x9c, 0xbb, 0x00, 0x40, 0x2a, 0x26, 0x24, 0x07, 0x0e, 0x15, 0x1c, 0x23,
    0x2a, 0x31, 0x38, 0x3f, 0x46, 0x4d, 0x54, 0x5b, 0x62, 0x69, 0x70, 0x77, 0x7e, 0x85, 0x8c, 0x93, 0x9a,
    0xa1, 0xa8, 0xaf, 0xb6, 0xbd, 0xc4, 0xcb, 0xd2, 0xd9, 0xe0, 0xe7, 0xee, 0xf5, 0xfc, 0x03, 0x0a, 0x11,
    0x18, 0x1f, 0x26, 0x2d, 0x34, 0x3b, 0x42, 0x49, 0x50, 0x57, 0x5e, 0x65, 0x6c, 0x73, 0x7a, 0x81};
constexpr std::array<std::uint8_t, 56> kReplyPayload{
    0x24, 0x07, 0x0e, 0x15, 0x1c, 0x23, 0x2a, 0x31, 0x38, 0x3f, 0x46, 0x4d, 0x54, 0x5b, 0x62, 0x69, 0x70, 0x77, 0x7e,
    0x85, 0x8c, 0x93, 0x9a, 0xa1, 0xa8, 0xaf, 0xb6, 0xbd, 0xc4, 0xcb, 0xd2, 0xd9, 0xe0, 0xe7, 0xee, 0xf5, 0xfc, 0x03,
    0x0a, 0x11, 0x18, 0x1f, 0x26, 0x2d, 0x34, 0x3b, 0x42, 0x49, 0x50, 0x57, 0x5e, 0x65, 0x6c, 0x73, 0x7a, 0x81};

void put16(Bytes& bytes, std::size_t at, std::size_t value) {
  bytes.at(at) = static_cast<std::uint8_t>(value >> 8);
  bytes.at(at + 1) = static_cast<std::uint8_t>(value);
}

std::uint16_t get16(const Bytes& bytes, std::size_t at) {
  return static_cast<std::uint16_t>(bytes.at(at) << 8 | bytes.at(at + 1));
}

template <class Range>
void append(Bytes& bytes, const Range& range) {
  bytes.insert(bytes.end(), std::begin(range), std::end(range));
}

// One's-complement sum, folded; written apart from frame.cpp's: bytes taken one at a time.
std::uint32_t ones_sum(const Bytes& bytes, std::size_t from, std::size_t length, std::uint32_t sum = 0) {
  for (std::size_t i = 0; i < length; ++i)
    sum += i % 2 == 0 ? std::uint32_t{bytes.at(from + i)} << 8 : bytes.at(from + i);
  while (sum > 0xFFFF) sum = (sum & 0xFFFF) + (sum >> 16);
  return sum;
}

void fix_ipv4_checksum(Bytes& frame) {
  put16(frame, kIp + 10, 0);
  put16(frame, kIp + 10, ~ones_sum(frame, kIp, (frame.at(kIp) & 0xFu) * 4) & 0xFFFF);
}

// A UDP header and payload as a client sends it; the checksum is whatever offload left (here
// arbitrary), which the parser must not look at.
void append_udp(Bytes& frame, const Bytes& payload) {
  const std::size_t at = frame.size();
  frame.resize(at + 8);
  put16(frame, at, kClientPort);
  put16(frame, at + 2, kServerPort);
  put16(frame, at + 4, 8 + payload.size());
  put16(frame, at + 6, 0xBEEF);
  append(frame, payload);
}

Bytes ethernet(std::uint16_t ethertype) {
  Bytes frame;
  append(frame, kServerMac);
  append(frame, kClientMac);
  frame.resize(14);
  put16(frame, 12, ethertype);
  return frame;
}

Bytes ntp_payload(std::size_t length = 48) {
  Bytes payload(length);
  for (std::size_t i = 0; i < length; ++i) payload[i] = static_cast<std::uint8_t>(i == 0 ? 0x23 : i);
  return payload;
}

Bytes ipv4_frame(const Bytes& payload = ntp_payload(), const Bytes& options = {}) {
  Bytes frame = ethernet(0x0800);
  const std::size_t header = 20 + options.size();
  const std::size_t total = header + 8 + payload.size();
  append(frame, Bytes{static_cast<std::uint8_t>(0x40 | header / 4), 0, static_cast<std::uint8_t>(total >> 8),
                      static_cast<std::uint8_t>(total), 0xab, 0xcd, 0, 0, 64, 17, 0, 0});
  append(frame, kClient4);
  append(frame, kServer4);
  append(frame, options);
  fix_ipv4_checksum(frame);
  append_udp(frame, payload);
  return frame;
}

Bytes ipv6_frame(const Bytes& payload = ntp_payload()) {
  Bytes frame = ethernet(0x86DD);
  const std::size_t length = 8 + payload.size();
  append(frame,
         Bytes{0x60, 0, 0, 0, static_cast<std::uint8_t>(length >> 8), static_cast<std::uint8_t>(length), 17, 64});
  append(frame, kClient6);
  append(frame, kServer6);
  append_udp(frame, payload);
  return frame;
}

// Parsed from a copy exactly as long as the frame, so that a read past its end is caught
// under the sanitizers.
std::variant<xdp::RequestFrame, xdp::FrameDrop> parse(const Bytes& frame, std::size_t max_payload = 1200) {
  const std::vector<std::byte> exact(reinterpret_cast<const std::byte*>(frame.data()),
                                     reinterpret_cast<const std::byte*>(frame.data()) + frame.size());
  return xdp::parse_request(exact, max_payload);
}

xdp::RequestFrame parsed(const Bytes& frame, std::size_t max_payload = 1200) {
  const auto result = parse(frame, max_payload);
  REQUIRE(std::holds_alternative<xdp::RequestFrame>(result));
  return std::get<xdp::RequestFrame>(result);
}

std::string drop_of(const Bytes& frame, std::size_t max_payload = 1200) {
  const auto result = parse(frame, max_payload);
  if (std::holds_alternative<xdp::RequestFrame>(result)) return "parsed";
  switch (std::get<xdp::FrameDrop>(result)) {
    case xdp::FrameDrop::bad_frame:
      return "bad_frame";
    case xdp::FrameDrop::ip_options:
      return "ip_options";
    case xdp::FrameDrop::too_long:
      return "too_long";
    case xdp::FrameDrop::bad_checksum:
      return "bad_checksum";
  }
  return "?";
}

std::span<std::byte> writable(Bytes& frame) { return std::as_writable_bytes(std::span{frame}); }

// The request overwritten with `reply` as the worker does, then made into the reply frame in a
// buffer as large as a umem frame; the buffer is cut to the reply's length.
Bytes reply_to(const Bytes& request_frame, const Bytes& reply) {
  const xdp::RequestFrame request = parsed(request_frame);
  Bytes frame = request_frame;
  frame.resize(2048, 0xAA);
  std::ranges::copy(reply, frame.begin() + static_cast<std::ptrdiff_t>(request.payload_offset));
  const Bytes before = frame;
  const std::size_t length = xdp::make_reply(writable(frame), request, reply.size());
  CHECK(length == request.payload_offset + reply.size());
  const auto end = static_cast<std::ptrdiff_t>(length);
  CHECK(std::equal(frame.begin() + end, frame.end(), before.begin() + end));  // nothing written past the reply
  frame.resize(length);
  return frame;
}

// The UDP checksum verified as a receiver does: over the pseudo-header, header and payload.
std::uint32_t udp_sum(const Bytes& frame, bool ipv6) {
  const std::size_t udp = ipv6 ? kUdp6 : kUdp4;
  const std::size_t length = get16(frame, udp + 4);
  std::uint32_t sum = ipv6 ? ones_sum(frame, kIp + 8, 32) : ones_sum(frame, kIp + 12, 8);
  sum = ones_sum(Bytes{0, 17, static_cast<std::uint8_t>(length >> 8), static_cast<std::uint8_t>(length)}, 0, 4, sum);
  return ones_sum(frame, udp, length, sum);
}

}  // namespace

TEST_CASE("parse_request: an IPv4 request's every field") {
  const Bytes frame = ipv4_frame();
  const xdp::RequestFrame request = parsed(frame);
  CHECK(request.client.ip == kClient4Mapped);
  CHECK(request.client.port == kClientPort);
  CHECK(request.destination == kServer4Mapped);
  CHECK(request.destination_port == kServerPort);
  CHECK_FALSE(request.ipv6);
  CHECK(request.payload_offset == 42);
  CHECK(request.payload_length == 48);
  CHECK(Bytes(frame.begin() + 42, frame.end()) == ntp_payload());
}

TEST_CASE("parse_request: an IPv6 request's every field") {
  const Bytes frame = ipv6_frame();
  const xdp::RequestFrame request = parsed(frame);
  CHECK(request.client.ip == kClient6);
  CHECK(request.client.port == kClientPort);
  CHECK(request.destination == kServer6);
  CHECK(request.destination_port == kServerPort);
  CHECK(request.ipv6);
  CHECK(request.payload_offset == 62);
  CHECK(request.payload_length == 48);
  CHECK(Bytes(frame.begin() + 62, frame.end()) == ntp_payload());
}

TEST_CASE("parse_request: the reference requests parse as python built them") {
  const xdp::RequestFrame v4 = parsed(Bytes(kIpv4Request.begin(), kIpv4Request.end()));
  CHECK(v4.client == ntp::ClientAddress{kClient4Mapped, kClientPort});
  CHECK(v4.destination == kServer4Mapped);
  CHECK(v4.payload_length == 48);
  const xdp::RequestFrame v6 = parsed(Bytes(kIpv6Request.begin(), kIpv6Request.end()));
  CHECK(v6.client == ntp::ClientAddress{kClient6, kClientPort});
  CHECK(v6.destination == kServer6);
  CHECK(v6.payload_length == 48);
}

TEST_CASE("parse_request: a frame cut short anywhere is bad_frame") {
  const Bytes options = ipv4_frame(ntp_payload(), Bytes{1, 1, 1, 0});
  for (const Bytes& frame : {ipv4_frame(), ipv6_frame(), options, ipv4_frame(Bytes{}), ipv6_frame(Bytes{})}) {
    REQUIRE(drop_of(frame) != "bad_frame");
    for (std::size_t length = 0; length < frame.size(); ++length) {
      CAPTURE(frame.size());
      CAPTURE(length);
      CHECK(drop_of(Bytes(frame.begin(), frame.begin() + static_cast<std::ptrdiff_t>(length))) == "bad_frame");
    }
  }
}

TEST_CASE("parse_request: Ethernet padding after the datagram is not payload") {
  for (Bytes frame : {ipv4_frame(), ipv4_frame(Bytes{1, 2, 3}), ipv6_frame(Bytes{9})}) {
    const std::size_t length = parsed(frame).payload_length;
    frame.resize(std::max<std::size_t>(frame.size() + 7, 60), 0);
    CHECK(parsed(frame).payload_length == length);
  }
  // Shorter IP and UDP lengths that agree: what follows them is padding.
  Bytes frame = ipv4_frame();
  put16(frame, kIp + 2, get16(frame, kIp + 2) - 4);
  put16(frame, kUdp4 + 4, get16(frame, kUdp4 + 4) - 4);
  fix_ipv4_checksum(frame);
  CHECK(parsed(frame).payload_length == 44);
  frame = ipv6_frame();
  put16(frame, kIp + 4, get16(frame, kIp + 4) - 4);
  put16(frame, kUdp6 + 4, get16(frame, kUdp6 + 4) - 4);
  CHECK(parsed(frame).payload_length == 44);
}

TEST_CASE("parse_request: each IPv4 field corrupted alone gives its drop") {
  struct Case {
    const char* what;
    std::function<void(Bytes&)> corrupt;
    bool fix_checksum;
    const char* drop;
  };
  const std::size_t total = 20 + 8 + 48;
  const std::vector<Case> cases{
      {"ARP ethertype", [](Bytes& f) { put16(f, 12, 0x0806); }, false, "bad_frame"},
      {"IPv6 ethertype", [](Bytes& f) { put16(f, 12, 0x86DD); }, false, "bad_frame"},
      {"version 6", [](Bytes& f) { f[kIp] = 0x65; }, true, "bad_frame"},
      {"version 0", [](Bytes& f) { f[kIp] = 0x05; }, true, "bad_frame"},
      {"IHL 4", [](Bytes& f) { f[kIp] = 0x44; }, false, "bad_frame"},
      {"IHL 0", [](Bytes& f) { f[kIp] = 0x40; }, false, "bad_frame"},
      {"total length short of UDP", [&](Bytes& f) { put16(f, kIp + 2, 27); }, true, "bad_frame"},
      {"total length 0", [&](Bytes& f) { put16(f, kIp + 2, 0); }, true, "bad_frame"},
      {"total length past the frame", [&](Bytes& f) { put16(f, kIp + 2, total + 1); }, true, "bad_frame"},
      {"total length 65535", [&](Bytes& f) { put16(f, kIp + 2, 0xFFFF); }, true, "bad_frame"},
      {"total length one short", [&](Bytes& f) { put16(f, kIp + 2, total - 1); }, true, "bad_frame"},
      {"protocol TCP", [](Bytes& f) { f[kIp + 9] = 6; }, true, "bad_frame"},
      {"protocol ICMP", [](Bytes& f) { f[kIp + 9] = 1; }, true, "bad_frame"},
      {"more fragments", [](Bytes& f) { put16(f, kIp + 6, 0x2000); }, true, "bad_frame"},
      {"fragment offset 8", [](Bytes& f) { put16(f, kIp + 6, 0x0001); }, true, "bad_frame"},
      {"last fragment", [](Bytes& f) { put16(f, kIp + 6, 0x1FFF); }, true, "bad_frame"},
      {"checksum off by one", [](Bytes& f) { f[kIp + 11] ^= 1; }, false, "bad_checksum"},
      {"TTL changed in flight", [](Bytes& f) { f[kIp + 8] = 63; }, false, "bad_checksum"},
      {"source changed", [](Bytes& f) { f[kIp + 15] ^= 0x80; }, false, "bad_checksum"},
      {"destination changed", [](Bytes& f) { f[kIp + 16] ^= 1; }, false, "bad_checksum"},
      {"UDP length 7", [](Bytes& f) { put16(f, kUdp4 + 4, 7); }, false, "bad_frame"},
      {"UDP length 0", [](Bytes& f) { put16(f, kUdp4 + 4, 0); }, false, "bad_frame"},
      {"UDP length one short", [](Bytes& f) { put16(f, kUdp4 + 4, 55); }, false, "bad_frame"},
      {"UDP length one long", [](Bytes& f) { put16(f, kUdp4 + 4, 57); }, false, "bad_frame"},
      {"UDP length 65535", [](Bytes& f) { put16(f, kUdp4 + 4, 0xFFFF); }, false, "bad_frame"},
      // Neither is a reason to drop.
      {"don't fragment", [](Bytes& f) { put16(f, kIp + 6, 0x4000); }, true, "parsed"},
      {"UDP checksum", [](Bytes& f) { put16(f, kUdp4 + 6, 0x0001); }, false, "parsed"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.what);
    Bytes frame = ipv4_frame();
    REQUIRE(drop_of(frame) == "parsed");
    c.corrupt(frame);
    if (c.fix_checksum) fix_ipv4_checksum(frame);
    CHECK(drop_of(frame) == c.drop);
  }
}

TEST_CASE("parse_request: IPv4 options are ip_options, once the lengths are sound") {
  CHECK(drop_of(ipv4_frame(ntp_payload(), Bytes{1, 1, 1, 0})) == "ip_options");  // NOP NOP NOP EOL
  CHECK(drop_of(ipv4_frame(ntp_payload(), Bytes(40, 1))) == "ip_options");       // IHL 15
  Bytes bad_checksum = ipv4_frame(ntp_payload(), Bytes{1, 1, 1, 0});
  bad_checksum[kIp + 10] ^= 0xFF;
  CHECK(drop_of(bad_checksum) == "ip_options");
  // The options take the whole total length: no room for UDP.
  Bytes no_udp = ipv4_frame(Bytes{}, Bytes(8, 1));
  put16(no_udp, kIp + 2, 28 + 4);
  fix_ipv4_checksum(no_udp);
  CHECK(drop_of(no_udp) == "bad_frame");
  // IHL 15 in a frame too short for 60 bytes of header.
  Bytes short_frame = ipv4_frame(Bytes{});
  short_frame[kIp] = 0x4F;
  CHECK(drop_of(short_frame) == "bad_frame");
}

TEST_CASE("parse_request: VLAN-tagged frames are bad_frame (the kernel serves them)") {
  for (const std::size_t tpid : {0x8100u, 0x88A8u}) {
    const Bytes untagged = ipv4_frame();
    Bytes tagged(untagged.begin(), untagged.begin() + 12);
    tagged.resize(16);
    put16(tagged, 12, tpid);
    put16(tagged, 14, 42);  // VLAN 42
    tagged.insert(tagged.end(), untagged.begin() + 12, untagged.end());
    CHECK(drop_of(tagged) == "bad_frame");
  }
}

TEST_CASE("parse_request: each IPv6 field corrupted alone gives its drop") {
  struct Case {
    const char* what;
    std::function<void(Bytes&)> corrupt;
    const char* drop;
  };
  const std::vector<Case> cases{
      {"IPv4 ethertype", [](Bytes& f) { put16(f, 12, 0x0800); }, "bad_frame"},
      {"version 4", [](Bytes& f) { f[kIp] = 0x40; }, "bad_frame"},
      {"version 7", [](Bytes& f) { f[kIp] = 0x70; }, "bad_frame"},
      {"hop-by-hop header", [](Bytes& f) { f[kIp + 6] = 0; }, "bad_frame"},
      {"fragment header", [](Bytes& f) { f[kIp + 6] = 44; }, "bad_frame"},
      {"routing header", [](Bytes& f) { f[kIp + 6] = 43; }, "bad_frame"},
      {"TCP", [](Bytes& f) { f[kIp + 6] = 6; }, "bad_frame"},
      {"payload length 7", [](Bytes& f) { put16(f, kIp + 4, 7); }, "bad_frame"},
      {"payload length 0 (jumbogram)", [](Bytes& f) { put16(f, kIp + 4, 0); }, "bad_frame"},
      {"payload length past the frame", [](Bytes& f) { put16(f, kIp + 4, 57); }, "bad_frame"},
      {"payload length one short", [](Bytes& f) { put16(f, kIp + 4, 55); }, "bad_frame"},
      {"UDP length 7", [](Bytes& f) { put16(f, kUdp6 + 4, 7); }, "bad_frame"},
      {"UDP length one short", [](Bytes& f) { put16(f, kUdp6 + 4, 55); }, "bad_frame"},
      {"UDP length one long", [](Bytes& f) { put16(f, kUdp6 + 4, 57); }, "bad_frame"},
      // Neither is a reason to drop.
      {"traffic class and flow label", [](Bytes& f) { put16(f, kIp, 0x6FFF), put16(f, kIp + 2, 0xFFFF); }, "parsed"},
      {"UDP checksum", [](Bytes& f) { put16(f, kUdp6 + 6, 0); }, "parsed"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.what);
    Bytes frame = ipv6_frame();
    REQUIRE(drop_of(frame) == "parsed");
    c.corrupt(frame);
    CHECK(drop_of(frame) == c.drop);
  }
  // A real extension header before UDP, lengths all consistent: still not ours.
  Bytes hop_by_hop = ipv6_frame();
  hop_by_hop.insert(hop_by_hop.begin() + kUdp6, {17, 0, 1, 4, 0, 0, 0, 0});  // next UDP, PadN
  hop_by_hop[kIp + 6] = 0;
  put16(hop_by_hop, kIp + 4, 8 + 8 + 48);
  CHECK(drop_of(hop_by_hop) == "bad_frame");
}

TEST_CASE("parse_request: too_long starts one byte past max_payload") {
  for (const Bytes& frame : {ipv4_frame(), ipv6_frame()}) {
    CHECK(parsed(frame, 48).payload_length == 48);
    CHECK(drop_of(frame, 47) == "too_long");
    CHECK(drop_of(frame, 0) == "too_long");
  }
  CHECK(parsed(ipv4_frame(Bytes{}), 0).payload_length == 0);
  CHECK(parsed(ipv6_frame(Bytes{}), 0).payload_length == 0);
  // A malformed frame is bad_frame whatever its length.
  Bytes frame = ipv4_frame();
  put16(frame, kUdp4 + 4, 57);
  CHECK(drop_of(frame, 10) == "bad_frame");
}

TEST_CASE("make_reply: the reference replies, byte for byte") {
  const Bytes payload(kReplyPayload.begin(), kReplyPayload.end());
  CHECK(reply_to(Bytes(kIpv4Request.begin(), kIpv4Request.end()), payload) ==
        Bytes(kIpv4Reply.begin(), kIpv4Reply.end()));
  CHECK(reply_to(Bytes(kIpv6Request.begin(), kIpv6Request.end()), payload) ==
        Bytes(kIpv6Reply.begin(), kIpv6Reply.end()));
}

TEST_CASE("make_reply: IPv4 reply fields and checksums, for short, odd and long replies") {
  for (const std::size_t request_length : {48u, 68u}) {
    for (const std::size_t reply_length : {0u, 1u, 47u, 48u, 49u, 68u, 69u, 1200u}) {
      CAPTURE(request_length);
      CAPTURE(reply_length);
      Bytes request_frame = ipv4_frame(ntp_payload(request_length));
      request_frame[kIp + 1] = 0xB8;  // DSCP EF
      put16(request_frame, kIp + 6, 0);
      request_frame[kIp + 8] = 1;
      fix_ipv4_checksum(request_frame);
      Bytes reply(reply_length);
      for (std::size_t i = 0; i < reply_length; ++i) reply[i] = static_cast<std::uint8_t>(0xFF - i);
      const Bytes frame = reply_to(request_frame, reply);
      CHECK(frame.size() == 42 + reply_length);
      CHECK(std::equal(kClientMac.begin(), kClientMac.end(), frame.begin()));
      CHECK(std::equal(kServerMac.begin(), kServerMac.end(), frame.begin() + 6));
      CHECK(get16(frame, 12) == 0x0800);
      CHECK(frame[kIp] == 0x45);
      CHECK(frame[kIp + 1] == 0);
      CHECK(get16(frame, kIp + 2) == 28 + reply_length);
      CHECK(get16(frame, kIp + 4) == 0);
      CHECK(get16(frame, kIp + 6) == 0x4000);
      CHECK(frame[kIp + 8] == 64);
      CHECK(frame[kIp + 9] == 17);
      CHECK(ones_sum(frame, kIp, 20) == 0xFFFF);
      CHECK(std::equal(kServer4.begin(), kServer4.end(), frame.begin() + kIp + 12));
      CHECK(std::equal(kClient4.begin(), kClient4.end(), frame.begin() + kIp + 16));
      CHECK(get16(frame, kUdp4) == kServerPort);
      CHECK(get16(frame, kUdp4 + 2) == kClientPort);
      CHECK(get16(frame, kUdp4 + 4) == 8 + reply_length);
      CHECK(get16(frame, kUdp4 + 6) != 0);
      CHECK(udp_sum(frame, false) == 0xFFFF);
      CHECK(Bytes(frame.begin() + 42, frame.end()) == reply);
      const xdp::RequestFrame again = parsed(frame);
      CHECK(again.client == ntp::ClientAddress{kServer4Mapped, kServerPort});
      CHECK(again.destination == kClient4Mapped);
      CHECK(again.destination_port == kClientPort);
      CHECK(again.payload_length == reply_length);
    }
  }
}

TEST_CASE("make_reply: IPv6 reply fields and checksum, for short, odd and long replies") {
  for (const std::size_t request_length : {48u, 68u}) {
    for (const std::size_t reply_length : {0u, 1u, 47u, 48u, 49u, 68u, 69u, 1200u}) {
      CAPTURE(request_length);
      CAPTURE(reply_length);
      Bytes request_frame = ipv6_frame(ntp_payload(request_length));
      put16(request_frame, kIp, 0x6B81);  // traffic class 0xb8, flow label 0x12345
      put16(request_frame, kIp + 2, 0x2345);
      request_frame[kIp + 7] = 1;
      Bytes reply(reply_length);
      for (std::size_t i = 0; i < reply_length; ++i) reply[i] = static_cast<std::uint8_t>(0xFF - i);
      const Bytes frame = reply_to(request_frame, reply);
      CHECK(frame.size() == 62 + reply_length);
      CHECK(std::equal(kClientMac.begin(), kClientMac.end(), frame.begin()));
      CHECK(std::equal(kServerMac.begin(), kServerMac.end(), frame.begin() + 6));
      CHECK(get16(frame, 12) == 0x86DD);
      CHECK(get16(frame, kIp) == 0x6000);
      CHECK(get16(frame, kIp + 2) == 0);
      CHECK(get16(frame, kIp + 4) == 8 + reply_length);
      CHECK(frame[kIp + 6] == 17);
      CHECK(frame[kIp + 7] == 64);
      CHECK(std::equal(kServer6.begin(), kServer6.end(), frame.begin() + kIp + 8));
      CHECK(std::equal(kClient6.begin(), kClient6.end(), frame.begin() + kIp + 24));
      CHECK(get16(frame, kUdp6) == kServerPort);
      CHECK(get16(frame, kUdp6 + 2) == kClientPort);
      CHECK(get16(frame, kUdp6 + 4) == 8 + reply_length);
      CHECK(get16(frame, kUdp6 + 6) != 0);
      CHECK(udp_sum(frame, true) == 0xFFFF);
      CHECK(Bytes(frame.begin() + 62, frame.end()) == reply);
      const xdp::RequestFrame again = parsed(frame);
      CHECK(again.client == ntp::ClientAddress{kServer6, kServerPort});
      CHECK(again.destination == kClient6);
      CHECK(again.destination_port == kClientPort);
      CHECK(again.payload_length == reply_length);
    }
  }
}

TEST_CASE("make_reply: a UDP checksum computing to 0 is sent as 0xFFFF") {
  for (const Bytes& request_frame : {ipv4_frame(), ipv6_frame()}) {
    const std::size_t udp = request_frame[12] == 0x08 ? kUdp4 : kUdp6;
    // With a last word of 0 the checksum is C; a last word of C makes the sum all ones, so
    // the checksum computes to 0.
    Bytes reply = ntp_payload(48);
    reply[46] = reply[47] = 0;
    const std::uint16_t first = get16(reply_to(request_frame, reply), udp + 6);
    REQUIRE(first != 0xFFFF);
    put16(reply, 46, first);
    const Bytes frame = reply_to(request_frame, reply);
    CHECK(get16(frame, udp + 6) == 0xFFFF);
    CHECK(udp_sum(frame, udp == kUdp6) == 0xFFFF);
  }
}

TEST_CASE("parse_request and make_reply allocate nothing") {
  Bytes v4 = ipv4_frame();
  Bytes v6 = ipv6_frame();
  v4.resize(2048);
  v6.resize(2048);
  const long before = test_allocations::count.load();
  for (Bytes* frame : {&v4, &v6}) {
    const auto result = xdp::parse_request(writable(*frame), 1200);
    REQUIRE(std::holds_alternative<xdp::RequestFrame>(result));
    xdp::make_reply(writable(*frame), std::get<xdp::RequestFrame>(result), 48);
  }
  CHECK(test_allocations::count.load() == before);
}
