// NTS-KE records: what a client such as chrony sends, parsed as it arrives; every malformed
// request named; the response's records byte for byte.
#include "server/nts/ke_records.hpp"

#include <doctest/doctest.h>

#include <vector>

namespace {

using Bytes = std::vector<std::byte>;
using Status = nts::KeParse::Status;

void put(Bytes& out, std::initializer_list<unsigned> values) {
  for (unsigned v : values) out.push_back(static_cast<std::byte>(v));
}

// One record: type with the critical bit as given, then 16-bit values as its body.
Bytes record(unsigned type, bool critical, std::initializer_list<unsigned> u16s) {
  Bytes out;
  const unsigned head = type | (critical ? 0x8000u : 0u);
  put(out, {head >> 8, head & 0xFF, static_cast<unsigned>(u16s.size() * 2) >> 8, static_cast<unsigned>(u16s.size() * 2) & 0xFF});
  for (unsigned v : u16s) put(out, {v >> 8, v & 0xFF});
  return out;
}

Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

const std::array<nts::Aead, 2> kSupported{nts::Aead::aes_siv_cmac_512, nts::Aead::aes_siv_cmac_256};
const Bytes kEnd = record(0, true, {});

nts::KeParse parse(const Bytes& b) { return nts::parse_ke_request(b, kSupported); }

}  // namespace

TEST_CASE("chrony's request: NTPv4 and AES-SIV-CMAC-256, complete only once End of Message is in") {
  // chronyd 4.3 sends exactly this.
  const Bytes request = cat({record(1, true, {0}), record(4, false, {15}), kEnd});
  for (std::size_t n = 0; n < request.size(); ++n) {
    CAPTURE(n);
    CHECK(parse(Bytes(request.begin(), request.begin() + static_cast<std::ptrdiff_t>(n))).status == Status::incomplete);
  }
  const auto p = parse(request);
  REQUIRE(p.status == Status::complete);
  CHECK(p.length == request.size());
  CHECK(p.request.ntpv4);
  CHECK(p.request.aead == nts::Aead::aes_siv_cmac_256);
  // Bytes after End of Message are not part of it.
  CHECK(parse(cat({request, record(1, true, {0})})).length == request.size());
}

TEST_CASE("the AEAD is the client's first choice among those supported; other protocols are no NTPv4") {
  auto p = parse(cat({record(1, true, {0}), record(4, true, {30, 15, 17}), kEnd}));
  CHECK(p.request.aead == nts::Aead::aes_siv_cmac_256);
  p = parse(cat({record(1, true, {0}), record(4, true, {30}), kEnd}));
  REQUIRE(p.status == Status::complete);
  CHECK_FALSE(p.request.aead.has_value());
  p = parse(cat({record(1, true, {0x8001, 7}), kEnd}));
  REQUIRE(p.status == Status::complete);
  CHECK_FALSE(p.request.ntpv4);
  const std::array<nts::Aead, 1> only256{nts::Aead::aes_siv_cmac_256};
  CHECK(nts::parse_ke_request(cat({record(1, true, {0}), record(4, true, {17, 15}), kEnd}), only256).request.aead ==
        nts::Aead::aes_siv_cmac_256);
}

TEST_CASE("unknown records: critical ones are refused with their own error, others skipped") {
  auto p = parse(cat({record(1, true, {0}), record(4, false, {15}), record(0x1234, false, {1, 2}), kEnd}));
  CHECK(p.status == Status::complete);
  // Servers and ports a client asks for, and cookies it sends, change nothing.
  p = parse(cat({record(1, true, {0}), record(4, false, {15}), record(6, false, {0x6162}), record(7, true, {123}),
                 record(5, false, {9}), kEnd}));
  CHECK(p.status == Status::complete);
  p = parse(cat({record(1, true, {0}), record(0x1234, true, {}), kEnd}));
  CHECK(p.status == Status::error);
  CHECK(p.error == nts::KeError::unrecognized_critical_record);
  CHECK(p.detail == "critical record of unknown type 4660");
}

TEST_CASE("bad requests are named") {
  const auto bad = [](const Bytes& b) {
    const auto p = parse(b);
    CHECK(p.status == Status::error);
    CHECK(p.error == nts::KeError::bad_request);
    return p.detail;
  };
  CHECK(bad(kEnd) == "no Next Protocol Negotiation record");
  CHECK(bad(cat({record(4, true, {15}), kEnd})) == "no Next Protocol Negotiation record");
  CHECK(bad(cat({record(1, true, {0}), kEnd})) == "NTPv4 without an AEAD record");
  CHECK(bad(cat({record(1, true, {0}), record(1, true, {0}), record(4, true, {15}), kEnd})) ==
        "two Next Protocol Negotiation records");
  CHECK(bad(cat({record(1, true, {0}), record(4, true, {15}), record(4, true, {15}), kEnd})) ==
        "two AEAD Algorithm Negotiation records");
  CHECK(bad(cat({record(1, true, {0}), record(4, true, {15}), record(0, true, {0})})) == "End of Message with a body");
  CHECK(bad(cat({record(1, true, {0}), record(4, true, {15}), record(2, true, {1}), kEnd})) ==
        "an Error or Warning record from a client");
  Bytes odd = record(1, true, {0});
  odd[3] = std::byte{1};
  odd.pop_back();
  CHECK(bad(cat({odd, kEnd})) == "Next Protocol Negotiation of odd length");
}

TEST_CASE("the response: protocol, AEAD, cookies, then server and port as critical records, then End") {
  nts::KeResponse r;
  r.ntpv4 = true;
  r.aead = nts::Aead::aes_siv_cmac_256;
  r.cookies = {Bytes(3, std::byte{0xC1}), Bytes(2, std::byte{0xC2})};
  r.server = "ab";
  r.port = 12345;
  Bytes expected = cat({record(1, true, {0}), record(4, true, {15})});
  put(expected, {0x00, 0x05, 0x00, 0x03, 0xC1, 0xC1, 0xC1, 0x00, 0x05, 0x00, 0x02, 0xC2, 0xC2});
  put(expected, {0x80, 0x06, 0x00, 0x02, 'a', 'b'});
  expected = cat({expected, record(7, true, {12345}), kEnd});
  CHECK(nts::encode_ke_response(r) == expected);
  // No common AEAD: the protocol and an empty AEAD record, no cookies; no NTPv4: an empty
  // protocol list.
  r.aead.reset();
  CHECK(nts::encode_ke_response(r) == cat({record(1, true, {0}), record(4, true, {}), kEnd}));
  r.ntpv4 = false;
  CHECK(nts::encode_ke_response(r) == cat({record(1, true, {}), kEnd}));
  CHECK(nts::encode_ke_error(nts::KeError::bad_request) == cat({record(2, true, {1}), kEnd}));
}

namespace {

const std::array<nts::Aead, 1> kOffered{nts::Aead::aes_siv_cmac_256};

nts::KeResponseParse answer(const Bytes& b) { return nts::parse_ke_response(b, kOffered); }

Bytes cookie_record(std::size_t length) {
  Bytes out;
  put(out, {0, 5, static_cast<unsigned>(length >> 8), static_cast<unsigned>(length & 0xFF)});
  for (std::size_t i = 0; i < length; ++i) out.push_back(static_cast<std::byte>(i));
  return out;
}

Bytes text_record(unsigned type, std::string_view text) {
  Bytes out;
  const unsigned head = type | 0x8000u;
  put(out, {head >> 8, head & 0xFF, static_cast<unsigned>(text.size() >> 8), static_cast<unsigned>(text.size() & 0xFF)});
  for (const char c : text) out.push_back(static_cast<std::byte>(c));
  return out;
}

}  // namespace

TEST_CASE("the client's request is what our own server parses: NTPv4 and the AEADs offered, in order") {
  const std::array<nts::Aead, 2> offered{nts::Aead::aes_siv_cmac_512, nts::Aead::aes_siv_cmac_256};
  const Bytes request = nts::encode_ke_request(offered);
  CHECK(request == cat({record(1, true, {0}), record(4, true, {17, 15}), kEnd}));
  const auto p = parse(request);
  REQUIRE(p.status == Status::complete);
  CHECK(p.request.ntpv4);
  CHECK(p.request.aead == nts::Aead::aes_siv_cmac_512);
}

TEST_CASE("a response from our own server is read back whole, and is complete only at End of Message") {
  nts::KeResponse sent;
  sent.ntpv4 = true;
  sent.aead = nts::Aead::aes_siv_cmac_256;
  for (int i = 0; i < 8; ++i) sent.cookies.push_back(Bytes(104, static_cast<std::byte>(i)));
  sent.server = "ntp.example.net";
  sent.port = 1123;
  const Bytes response = nts::encode_ke_response(sent);
  for (std::size_t n = 0; n < response.size(); ++n) {
    CAPTURE(n);
    CHECK(answer(Bytes(response.begin(), response.begin() + static_cast<std::ptrdiff_t>(n))).status ==
          nts::KeResponseParse::Status::incomplete);
  }
  const auto got = answer(response);
  REQUIRE(got.status == nts::KeResponseParse::Status::complete);
  CHECK(got.response.ntpv4);
  CHECK(got.response.aead == nts::Aead::aes_siv_cmac_256);
  CHECK(got.response.cookies == sent.cookies);
  CHECK(got.response.server == "ntp.example.net");
  CHECK(got.response.port == 1123);

  // Without server and port the client keeps the KE server's address and port 123.
  sent.server.clear();
  sent.port.reset();
  const auto plain = answer(nts::encode_ke_response(sent));
  REQUIRE(plain.status == nts::KeResponseParse::Status::complete);
  CHECK(plain.response.server.empty());
  CHECK_FALSE(plain.response.port.has_value());
}

TEST_CASE("a response the client must not use is an error saying why") {
  const Bytes ntpv4 = record(1, true, {0});
  const Bytes aead = record(4, true, {15});
  const Bytes cookie = cookie_record(104);
  const auto error_of = [](const Bytes& b) {
    const auto p = answer(b);
    CHECK(p.status == nts::KeResponseParse::Status::error);
    CHECK(p.response.cookies.empty());
    return p.detail;
  };
  CHECK(error_of(cat({record(2, true, {1}), kEnd})) == "the server answered with error 1");
  CHECK(error_of(cat({ntpv4, aead, record(3, true, {7}), cookie, kEnd})) == "the server answered with warning 7");
  CHECK(error_of(cat({record(1, true, {}), kEnd})) == "the server did not agree to NTPv4");
  CHECK(error_of(cat({record(1, true, {5}), aead, cookie, kEnd})) == "the server did not agree to NTPv4");
  CHECK(error_of(cat({aead, cookie, kEnd})) == "the server did not agree to NTPv4");
  CHECK(error_of(cat({ntpv4, record(4, true, {}), kEnd})) == "the server agreed to none of the AEADs offered");
  CHECK(error_of(cat({ntpv4, record(4, true, {17}), cookie, kEnd})) == "the server agreed to none of the AEADs offered");
  CHECK(error_of(cat({ntpv4, cookie, kEnd})) == "the server agreed to none of the AEADs offered");
  CHECK(error_of(cat({ntpv4, aead, kEnd})) == "the server sent no cookie");
  CHECK(error_of(cat({ntpv4, aead, cookie_record(0), kEnd})) == "an empty cookie");
  CHECK(error_of(cat({ntpv4, ntpv4, aead, cookie, kEnd})) == "two Next Protocol Negotiation records");
  CHECK(error_of(cat({ntpv4, aead, aead, cookie, kEnd})) == "two AEAD Algorithm Negotiation records");
  CHECK(error_of(cat({ntpv4, aead, cookie, record(7, true, {1, 2}), kEnd})) ==
        "an NTPv4 Port Negotiation record of length 4");
  CHECK(error_of(cat({ntpv4, aead, cookie, text_record(6, "bad name"), kEnd})) ==
        "an NTPv4 server name that is not printable ASCII");
  CHECK(error_of(cat({ntpv4, aead, cookie, text_record(6, ""), kEnd})) ==
        "an NTPv4 server name that is not printable ASCII");
  CHECK(error_of(cat({ntpv4, aead, cookie, record(0x4242, true, {}), kEnd})) == "critical record of unknown type 16962");
  // An unknown record that is not critical is skipped.
  CHECK(answer(cat({ntpv4, aead, cookie, record(0x4242, false, {1}), kEnd})).status ==
        nts::KeResponseParse::Status::complete);
}
