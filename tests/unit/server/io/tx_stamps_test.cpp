#include "server/io/tx_stamps.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <vector>

namespace {

std::vector<std::byte> bytes(std::initializer_list<unsigned> values) {
  std::vector<std::byte> out;
  for (unsigned v : values) out.push_back(static_cast<std::byte>(v));
  return out;
}

void append(std::vector<std::byte>& to, const std::vector<std::byte>& more) {
  to.insert(to.end(), more.begin(), more.end());
}

std::vector<std::byte> udp(std::size_t payload, std::size_t cut = 0) {
  const std::size_t length = 8 + payload;
  auto out =
      bytes({0x00, 0x7b, 0xa0, 0x00, static_cast<unsigned>(length >> 8), static_cast<unsigned>(length & 0xff), 0, 0});
  for (std::size_t i = 0; i < payload - cut; ++i) out.push_back(static_cast<std::byte>(i));
  return out;
}

std::vector<std::byte> ipv4(std::size_t options_words = 0) {
  auto out = bytes(
      {0x45u + static_cast<unsigned>(options_words), 0, 0, 0, 0, 0, 0, 0, 64, 17, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1});
  out.resize(out.size() + options_words * 4);
  return out;
}

std::vector<std::byte> ipv6(unsigned next = 17) {
  std::vector<std::byte> out(40);
  out[0] = std::byte{0x60};
  out[6] = static_cast<std::byte>(next);
  return out;
}

std::vector<std::byte> ethernet(unsigned type) {
  auto out = bytes({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, type >> 8, type & 0xff});
  return out;
}

}  // namespace

TEST_CASE("the UDP payload of a looped-back reply, from IP or from Ethernet") {
  for (const auto& head : {std::vector<std::byte>{}, ethernet(0x0800)}) {
    auto frame = head;
    append(frame, ipv4());
    append(frame, udp(48));
    const auto payload = io::looped_udp_payload(frame);
    REQUIRE(payload.size() == 48);
    CHECK(payload[47] == std::byte{47});
  }
  auto v6 = ethernet(0x86dd);
  append(v6, ipv6());
  append(v6, udp(68));
  CHECK(io::looped_udp_payload(v6).size() == 68);
  auto options = ipv4(2);
  append(options, udp(48));
  CHECK(io::looped_udp_payload(options).size() == 48);
}

TEST_CASE("a looped-back reply cut short keeps what is there") {
  auto frame = ethernet(0x0800);
  append(frame, ipv4());
  append(frame, udp(1000, 900));
  CHECK(io::looped_udp_payload(frame).size() == 100);
}

TEST_CASE("what is not an IP/UDP frame has no payload") {
  CHECK(io::looped_udp_payload({}).empty());
  auto tcp = ipv4();
  tcp[9] = std::byte{6};
  append(tcp, udp(48));
  CHECK(io::looped_udp_payload(tcp).empty());
  auto extension = ipv6(0);  // hop-by-hop options first
  append(extension, udp(48));
  CHECK(io::looped_udp_payload(extension).empty());
  auto arp = ethernet(0x0806);
  append(arp, ipv4());
  append(arp, udp(48));
  CHECK(io::looped_udp_payload(arp).empty());
  auto short_udp = ipv4();
  append(short_udp, bytes({0, 123, 0, 123}));
  CHECK(io::looped_udp_payload(short_udp).empty());
  auto bad_length = ipv4();
  append(bad_length, bytes({0, 123, 0, 123, 0, 4, 0, 0}));  // shorter than its own header
  CHECK(io::looped_udp_payload(bad_length).empty());
}
