// NTS on the NTP port: a request built as an NTS client (chrony) builds it, checked; the reply
// opened as that client opens it; every tampered byte refused.
#include "server/nts/fields.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <memory>
#include <random>
#include <vector>

#include "server/ntp/packet.hpp"
#include "tests/unit/server/nts/ntp_client.hpp"
#include "tests/unit/server/nts/released.hpp"

namespace {

using namespace nts_client;

struct Reply {
  std::array<std::byte, ntp::kMaxPacketLength> bytes{};
  std::size_t length = 0;
};

Reply reply_to(std::mt19937_64& random, const Bytes& req, const nts::Request& checked, const nts::CookieKey& key) {
  Reply r;
  std::ranges::copy(std::span{req}.first(ntp::kHeaderLength), r.bytes.begin());
  r.bytes[0] = std::byte{0x24};
  std::array<std::byte, nts::kReplyRandomness> randomness{};
  std::ranges::copy(random_bytes(random, randomness.size()), randomness.begin());
  nts::ReplySeal seal;
  r.length = nts::write_reply(r.bytes, req.size(), checked, key, randomness, seal);
  REQUIRE(r.length > 0);
  r.bytes[47] = std::byte{0x77};  // the transmit timestamp goes in last, before sealing
  nts::seal_reply(r.bytes, seal);
  return r;
}

}  // namespace

TEST_CASE("an NTS request verifies, and its reply opens to one fresh cookie per cookie sent and placeholder") {
  std::mt19937_64 random{8915};
  const Server s = server(random);
  for (const auto aead : {nts::Aead::aes_siv_cmac_256, nts::Aead::aes_siv_cmac_512}) {
    const Client c = client(random, s, aead);
    for (const std::size_t placeholders : {0U, 1U, 3U, 5U, 8U}) {
      CAPTURE(placeholders);
      // 8 fit with AES-SIV-CMAC-256 cookies and ask for one more than is sent; 5 with -512.
      if (48 + 36 + 40 + (placeholders + 1) * (4 + c.cookie.size()) > ntp::kMaxPacketLength) continue;
      const Bytes req = request(random, c, placeholders);
      nts::Request checked;
      REQUIRE(check(req, s.keys, checked) == nts::RequestCheck::ok);
      CHECK(checked.cookie == c.agreed);
      CHECK(checked.placeholders == placeholders);
      const Reply r = reply_to(random, req, checked, s.keys[1]);
      CHECK(r.length <= req.size());  // never an amplifier
      const auto cookies = open_reply(std::span{r.bytes}.first(r.length), c);
      REQUIRE(cookies.size() == std::min<std::size_t>(placeholders + 1, nts::kMaxFreshCookies));
      for (const Bytes& fresh : cookies) {
        CHECK(nts::open_cookie(s.keys, fresh) == c.agreed);  // same keys, same timescale
        CHECK(fresh != c.cookie);                            // and unlinkable to the old one
      }
    }
  }
}

TEST_CASE("the reply's authenticator covers its header: a changed transmit timestamp does not open") {
  std::mt19937_64 random{1};
  const Server s = server(random);
  const Client c = client(random, s);
  const Bytes req = request(random, c, 0);
  nts::Request checked;
  REQUIRE(check(req, s.keys, checked) == nts::RequestCheck::ok);
  Reply r = reply_to(random, req, checked, s.keys[1]);
  REQUIRE(open_reply(std::span{r.bytes}.first(r.length), c).size() == 1);
  r.bytes[47] ^= std::byte{1};
  CHECK(open_reply(std::span{r.bytes}.first(r.length), c).empty());
}

TEST_CASE("any changed byte of a request is refused: NAK where the identifier survives, else nothing") {
  std::mt19937_64 random{2};
  const Server s = server(random);
  const Client c = client(random, s);
  Bytes req = request(random, c, 1);
  for (std::size_t at = 0; at < req.size(); ++at) {
    CAPTURE(at);
    req[at] ^= std::byte{0x10};
    nts::Request checked;
    const auto layout = ntp::parse_layout(req, 4);
    if (layout.layout) {
      const auto verdict = nts::check_request(req, layout.layout->extensions, s.keys, checked);
      CHECK((verdict == nts::RequestCheck::nak || verdict == nts::RequestCheck::malformed));
    }
    req[at] ^= std::byte{0x10};
  }
  nts::Request checked;
  CHECK(check(req, s.keys, checked) == nts::RequestCheck::ok);
}

TEST_CASE("a cookie from a rotated-out period gets a NAK that echoes the identifier") {
  std::mt19937_64 random{3};
  const Server s = server(random);
  const Client c = client(random, s);  // sealed in period 42
  const Bytes req = request(random, c, 0);
  nts::Request checked;
  CHECK(check(req, std::span{s.keys}.first(1), checked) == nts::RequestCheck::nak);
  CHECK(std::ranges::equal(checked.unique_id, c.unique_id));
  std::array<std::byte, ntp::kMaxPacketLength> nak{};
  const std::size_t length = nts::write_nak(nak, checked.unique_id);
  CHECK(length == ntp::kHeaderLength + 4 + 32);
  CHECK(u16(nak, 48) == nts::kUniqueIdentifierField);
  CHECK(u16(nak, 50) == 36);
  CHECK(std::ranges::equal(std::span{nak}.subspan(52, 32), c.unique_id));
}

TEST_CASE("fields missing, repeated, too short or after the authenticator: dropped; none at all: plain NTP") {
  std::mt19937_64 random{4};
  const Server s = server(random);
  const Client c = client(random, s);
  nts::Request checked;
  CHECK(check(Bytes(48, std::byte{0}), s.keys, checked) == nts::RequestCheck::not_nts);
  Bytes unrelated(48, std::byte{0});
  field(unrelated, 0x2005, Bytes(28));
  CHECK(check(unrelated, s.keys, checked) == nts::RequestCheck::not_nts);

  // A unique identifier alone asks for replay protection, not NTS (RFC 8915 §5.3).
  Bytes identified(48, std::byte{0});
  field(identified, nts::kUniqueIdentifierField, c.unique_id);
  CHECK(check(identified, s.keys, checked) == nts::RequestCheck::not_nts);

  Bytes trailing = request(random, c, 0);
  field(trailing, 0x2005, Bytes(28));  // unauthenticated
  CHECK(check(trailing, s.keys, checked) == nts::RequestCheck::malformed);

  Client short_id = c;
  short_id.unique_id.resize(28);
  CHECK(check(request(random, short_id, 0), s.keys, checked) == nts::RequestCheck::malformed);

  Bytes no_authenticator(48, std::byte{0});
  field(no_authenticator, nts::kUniqueIdentifierField, c.unique_id);
  field(no_authenticator, nts::kCookieField, c.cookie);
  CHECK(check(no_authenticator, s.keys, checked) == nts::RequestCheck::malformed);

  Bytes two_cookies(48, std::byte{0});
  field(two_cookies, nts::kUniqueIdentifierField, c.unique_id);
  field(two_cookies, nts::kCookieField, c.cookie);
  Bytes rest = request(random, c, 0);
  two_cookies.insert(two_cookies.end(), rest.begin() + 48 + 36, rest.end());  // cookie, authenticator
  CHECK(check(two_cookies, s.keys, checked) == nts::RequestCheck::malformed);
}

TEST_CASE("placeholders of another length ask for nothing; the reply never outgrows the request") {
  std::mt19937_64 random{5};
  const Server s = server(random);
  const Client c = client(random, s);
  Bytes packet(48, std::byte{0});
  field(packet, nts::kUniqueIdentifierField, c.unique_id);
  field(packet, nts::kCookieField, c.cookie);
  field(packet, nts::kCookiePlaceholderField, Bytes(16));
  const auto nonce = random_bytes(random, 16);
  Bytes sealed(nts::kTagLength);
  REQUIRE(nts::seal(c.agreed.aead, std::span{c.agreed.c2s}.first(32), nonce, packet, {}, sealed));
  Bytes body{std::byte{0}, std::byte{16}, std::byte{0}, std::byte{16}};
  body.insert(body.end(), nonce.begin(), nonce.end());
  body.insert(body.end(), sealed.begin(), sealed.end());
  field(packet, nts::kAuthenticatorField, body);
  nts::Request checked;
  REQUIRE(check(packet, s.keys, checked) == nts::RequestCheck::ok);
  CHECK(checked.placeholders == 0);
  // A buffer (or request) too short for even one cookie gets no reply written.
  std::array<std::byte, ntp::kMaxPacketLength> reply{};
  std::array<std::byte, nts::kReplyRandomness> randomness{};
  nts::ReplySeal seal;
  CHECK(nts::write_reply(reply, 48 + 36 + 40 + 100, checked, s.keys[1], randomness, seal) == 0);
  CHECK(nts::write_reply(reply, packet.size(), checked, s.keys[1], randomness, seal) <= packet.size());
}

TEST_CASE("a nonce shorter than 16 bytes verifies when Additional Padding makes up the difference") {
  std::mt19937_64 random{6};
  const Server s = server(random);
  const Client c = client(random, s);
  nts::Request checked;
  for (const std::size_t nonce_length : {1u, 12u, 13u, 15u, 24u}) {
    CAPTURE(nonce_length);
    const Bytes padded = request(random, c, 0, nonce_length);
    REQUIRE(check(padded, s.keys, checked) == nts::RequestCheck::ok);
    // The reply's 16-byte nonce still fits in the request's length.
    const Reply r = reply_to(random, padded, checked, s.keys[1]);
    CHECK(r.length <= padded.size());
    CHECK(open_reply(std::span{r.bytes}.first(r.length), c).size() == 1);
    if (nonce_length < 13)
      CHECK(check(request(random, c, 0, nonce_length, false), s.keys, checked) == nts::RequestCheck::malformed);
  }
}

TEST_CASE("write_request: chronyd's layout, and nothing written that does not fit") {
  std::mt19937_64 random{7};
  const Server s = server(random);
  const Client c = client(random, s);
  const Bytes nonce = random_bytes(random, 16);
  const nts::ClientRequest fields{
      c.unique_id, c.cookie, 2, c.agreed.aead, std::span{c.agreed.c2s}.first(nts::key_length(c.agreed.aead)), nonce};
  const std::size_t expected = ntp::kHeaderLength + 36 + 3 * (4 + c.cookie.size()) + 4 + 4 + 16 + nts::kTagLength;
  Bytes packet(expected, std::byte{0});
  packet[0] = std::byte{0x23};
  REQUIRE(nts::write_request(packet, fields) == expected);
  nts::Request checked;
  CHECK(check(packet, s.keys, checked) == nts::RequestCheck::ok);
  CHECK(checked.placeholders == 2);

  Bytes short_by_one(expected - 1, std::byte{0});
  CHECK(nts::write_request(short_by_one, fields) == 0);
  nts::ClientRequest wrong_key = fields;
  wrong_key.c2s = wrong_key.c2s.first(16);
  CHECK(nts::write_request(packet, wrong_key) == 0);
}

TEST_CASE("a checked request and a reply's seal wipe the session keys they hold when they are destroyed") {
  std::mt19937_64 random{6};
  const auto s = server(random);
  const auto c = client(random, s);
  const auto req = request(random, c, 0);
  auto checked = std::make_unique<nts::Request>();
  REQUIRE(check(req, s.keys, *checked) == nts::RequestCheck::ok);
  auto seal = std::make_unique<nts::ReplySeal>();
  std::array<std::byte, ntp::kMaxPacketLength> reply{};
  const std::array<std::byte, nts::kReplyRandomness> randomness{std::byte{1}};
  REQUIRE(nts::write_reply(reply, req.size(), *checked, s.keys[1], randomness, *seal) > 0);
  const auto s2c = std::span{c.agreed.s2c}.first(nts::key_length(c.agreed.aead));
  REQUIRE(std::ranges::equal(std::span{seal->s2c}.first(s2c.size()), s2c));
  REQUIRE(std::ranges::equal(std::span{checked->cookie.s2c}.first(s2c.size()), s2c));
  const std::uintptr_t request_at = released::address_of(checked.get());
  const std::uintptr_t seal_at = released::address_of(seal.get());
  const released::Watch watch{s2c};
  checked.reset();
  seal.reset();
  CHECK(watch.saw_release_of(request_at));
  CHECK(watch.saw_release_of(seal_at));
  CHECK(watch.blocks_holding_pattern() == 0);
}
