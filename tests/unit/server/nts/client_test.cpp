// NTS as a client: requests our own server accepts, its replies opened and their cookies kept,
// every altered byte and every foreign reply refused, NAKs recognised, and the session through
// its text form.
#include "server/nts/client.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "server/nts/fields.hpp"
#include "server/ntp/packet.hpp"
#include "server/nts/cookie.hpp"

namespace {

using Bytes = std::vector<std::byte>;

template <std::size_t N>
std::array<std::byte, N> random_array(std::mt19937_64& random) {
  std::array<std::byte, N> out{};
  for (auto& b : out) b = static_cast<std::byte>(random() & 0xFF);
  return out;
}

// A server holding cookie keys, and a client session whose cookies it sealed, as after KE.
struct Pair {
  std::array<nts::CookieKey, 1> keys;
  nts::CookieContents agreed;
  nts::ClientSession session;
};

Pair key_established(std::mt19937_64& random, nts::Aead aead, std::size_t cookies = nts::kClientCookies) {
  Pair p;
  const auto master = random_array<32>(random);
  p.keys[0] = nts::derive_cookie_key(master, 7).value();
  p.agreed.aead = aead;
  p.agreed.c2s = random_array<nts::kMaxKeyLength>(random);
  p.agreed.s2c = random_array<nts::kMaxKeyLength>(random);
  // Only key_length(aead) bytes are keys; the rest stays zero, as a cookie opens it.
  std::fill(p.agreed.c2s.begin() + static_cast<std::ptrdiff_t>(nts::key_length(aead)), p.agreed.c2s.end(), std::byte{0});
  std::fill(p.agreed.s2c.begin() + static_cast<std::ptrdiff_t>(nts::key_length(aead)), p.agreed.s2c.end(), std::byte{0});
  p.session.aead = aead;
  p.session.c2s = p.agreed.c2s;
  p.session.s2c = p.agreed.s2c;
  for (std::size_t i = 0; i < cookies; ++i) {
    Bytes cookie(nts::kMaxCookieLength);
    cookie.resize(nts::seal_cookie(p.keys[0], p.agreed, random_array<nts::kCookieNonceLength>(random), cookie));
    p.session.add_cookie(cookie);
  }
  return p;
}

struct Exchange {
  Bytes request;
  Bytes reply;
  std::array<std::byte, nts::kClientUniqueIdLength> unique_id{};
};

// The request the client writes, checked and answered by the server's own code.
Exchange exchange(std::mt19937_64& random, Pair& p) {
  Exchange e;
  e.unique_id = random_array<nts::kClientUniqueIdLength>(random);
  e.request.assign(ntp::kMaxPacketLength, std::byte{0});
  e.request[0] = std::byte{0x23};
  const auto nonce = random_array<nts::kClientNonceLength>(random);
  const std::size_t length = nts::write_client_request(e.request, p.session, e.unique_id, nonce);
  REQUIRE(length > 0);
  e.request.resize(length);

  const auto layout = ntp::parse_layout(e.request, 4);
  REQUIRE(layout.layout.has_value());
  nts::Request checked;
  REQUIRE(nts::check_request(e.request, layout.layout->extensions, p.keys, checked) == nts::RequestCheck::ok);
  CHECK(checked.cookie == p.agreed);

  e.reply.assign(ntp::kMaxPacketLength, std::byte{0});
  std::copy_n(e.request.begin(), ntp::kHeaderLength, e.reply.begin());
  e.reply[0] = std::byte{0x24};
  e.reply[1] = std::byte{1};
  const auto randomness = random_array<nts::kReplyRandomness>(random);
  nts::ReplySeal seal;
  const std::size_t reply_length = nts::write_reply(e.reply, e.request.size(), checked, p.keys[0], randomness, seal);
  REQUIRE(reply_length > 0);
  e.reply.resize(reply_length);
  nts::seal_reply(e.reply, seal);
  return e;
}

}  // namespace

TEST_CASE("a request spends the oldest cookie, asks for a full jar back, and the reply refills it") {
  std::mt19937_64 random{8915};
  for (const auto aead : {nts::Aead::aes_siv_cmac_256, nts::Aead::aes_siv_cmac_512}) {
    CAPTURE(static_cast<int>(aead));
    for (const std::size_t held : {std::size_t{1}, std::size_t{3}, nts::kClientCookies}) {
      CAPTURE(held);
      Pair p = key_established(random, aead, held);
      const Bytes oldest = p.session.cookies.front();
      Exchange e = exchange(random, p);
      CHECK(p.session.cookies.size() == held - 1);
      CHECK(std::ranges::find(p.session.cookies, oldest) == p.session.cookies.end());  // used once
      REQUIRE(nts::open_server_reply(e.reply, e.unique_id, p.session) == nts::ReplyAuthenticity::authentic);
      // As many as fit the request's length come back: all 8 with 256-bit keys.
      if (aead == nts::Aead::aes_siv_cmac_256) CHECK(p.session.cookies.size() == nts::kClientCookies);
      CHECK(p.session.cookies.size() > held - 1);
      for (const Bytes& cookie : p.session.cookies) CHECK(nts::open_cookie(p.keys, cookie) == p.agreed);
    }
  }
}

TEST_CASE("without a cookie there is no request") {
  std::mt19937_64 random{1};
  Pair p = key_established(random, nts::Aead::aes_siv_cmac_256, 0);
  Bytes packet(ntp::kMaxPacketLength);
  CHECK(nts::write_client_request(packet, p.session, random_array<32>(random), random_array<16>(random)) == 0);
}

TEST_CASE("every altered byte of a reply, another identifier or another key: forged, and no cookie is kept") {
  std::mt19937_64 random{2};
  Pair p = key_established(random, nts::Aead::aes_siv_cmac_256);
  const Exchange e = exchange(random, p);
  const auto before = p.session.cookies;
  for (std::size_t i = 0; i < e.reply.size(); ++i) {
    CAPTURE(i);
    Bytes altered = e.reply;
    altered[i] ^= std::byte{0x01};
    const auto verdict = nts::open_server_reply(altered, e.unique_id, p.session);
    CHECK(verdict == nts::ReplyAuthenticity::forged);
    CHECK(p.session.cookies == before);
  }
  CHECK(nts::open_server_reply(std::span{e.reply}.first(e.reply.size() - 4), e.unique_id, p.session) ==
        nts::ReplyAuthenticity::forged);
  CHECK(nts::open_server_reply(std::span{e.reply}.first(ntp::kHeaderLength), e.unique_id, p.session) ==
        nts::ReplyAuthenticity::forged);
  auto other_id = e.unique_id;
  other_id[5] ^= std::byte{0x80};
  CHECK(nts::open_server_reply(e.reply, other_id, p.session) == nts::ReplyAuthenticity::forged);
  nts::ClientSession stranger = key_established(random, nts::Aead::aes_siv_cmac_256).session;
  CHECK(nts::open_server_reply(e.reply, e.unique_id, stranger) == nts::ReplyAuthenticity::forged);
  // The genuine reply still opens.
  CHECK(nts::open_server_reply(e.reply, e.unique_id, p.session) == nts::ReplyAuthenticity::authentic);
}

TEST_CASE("an NTS NAK is one only when it echoes our identifier") {
  std::mt19937_64 random{3};
  Pair p = key_established(random, nts::Aead::aes_siv_cmac_256);
  const auto unique_id = random_array<nts::kClientUniqueIdLength>(random);
  Bytes nak(ntp::kMaxPacketLength, std::byte{0});
  nak[0] = std::byte{0x24};  // stratum 0: kiss-o'-death
  for (std::size_t i = 0; i < 4; ++i) nak[12 + i] = static_cast<std::byte>((nts::kKissNtsNak >> (24 - 8 * i)) & 0xFF);
  nak.resize(nts::write_nak(nak, unique_id));
  CHECK(nts::open_server_reply(nak, unique_id, p.session) == nts::ReplyAuthenticity::nak);
  auto other = unique_id;
  other[0] ^= std::byte{1};
  CHECK(nts::open_server_reply(nak, other, p.session) == nts::ReplyAuthenticity::forged);
  nak[13] = std::byte{'X'};  // another kiss code without an authenticator
  CHECK(nts::open_server_reply(nak, unique_id, p.session) == nts::ReplyAuthenticity::forged);
}

TEST_CASE("the jar keeps the newest eight") {
  nts::ClientSession session;
  for (int i = 0; i < 12; ++i) session.add_cookie(Bytes(4, static_cast<std::byte>(i)));
  REQUIRE(session.cookies.size() == nts::kClientCookies);
  CHECK(session.cookies.front() == Bytes(4, std::byte{4}));
  CHECK(session.cookies.back() == Bytes(4, std::byte{11}));
}

TEST_CASE("a session survives its text form, and a moved-from or wiped one holds no secret") {
  std::mt19937_64 random{4};
  for (const auto aead : {nts::Aead::aes_siv_cmac_256, nts::Aead::aes_siv_cmac_512}) {
    Pair p = key_established(random, aead, 5);
    p.session.ntp_server = "ntp1.example.net";
    p.session.ntp_port = 1123;
    std::string problem;
    const auto back = nts::parse_client_session(nts::format_client_session(p.session), problem);
    REQUIRE_MESSAGE(back.has_value(), problem);
    CHECK(back->aead == aead);
    CHECK(back->c2s == p.session.c2s);
    CHECK(back->s2c == p.session.s2c);
    CHECK(back->ntp_server == "ntp1.example.net");
    CHECK(back->ntp_port == 1123);
    CHECK(back->cookies == p.session.cookies);

    nts::ClientSession moved = std::move(p.session);
    CHECK(moved.cookies.size() == 5);
    CHECK(std::ranges::all_of(p.session.c2s, [](std::byte b) { return b == std::byte{0}; }));
    CHECK(p.session.cookies.empty());
    moved.wipe();
    CHECK(std::ranges::all_of(moved.s2c, [](std::byte b) { return b == std::byte{0}; }));
    CHECK(moved.cookies.empty());
  }
  // No server: the KE server's address.
  nts::ClientSession plain;
  plain.add_cookie(Bytes(8, std::byte{1}));
  std::string problem;
  const auto back = nts::parse_client_session(nts::format_client_session(plain), problem);
  REQUIRE(back.has_value());
  CHECK(back->ntp_server.empty());
  CHECK(back->ntp_port == 123);
}

TEST_CASE("a damaged session file names its line") {
  std::mt19937_64 random{5};
  Pair p = key_established(random, nts::Aead::aes_siv_cmac_256, 2);
  const std::string good = nts::format_client_session(p.session);
  std::string problem;
  const auto problem_of = [&](const std::string& text) {
    problem.clear();
    CHECK_FALSE(nts::parse_client_session(text, problem).has_value());
    return problem;
  };
  CHECK(problem_of("") == "line 0: empty");
  CHECK(problem_of("chrony\n") == "line 1: not an NTS session (expected 'smeard-nts-session 1')");
  CHECK(problem_of("smeard-nts-session 1\naead 99\n") == "line 2: aead: not an AEAD smeard supports");
  CHECK(problem_of("smeard-nts-session 1\nc2s 00\n") == "line 2: c2s: before aead");
  CHECK(problem_of("smeard-nts-session 1\naead 15\nc2s 0011\n") == "line 3: c2s: not 32 bytes of hex");
  CHECK(problem_of("smeard-nts-session 1\naead 15\nport 0\n") == "line 3: port: not a port number");
  CHECK(problem_of("smeard-nts-session 1\naead 15\nfrobs 1\n") == "line 3: unknown field 'frobs'");
  CHECK(problem_of(good + "cookie zz\n") == "line 9: cookie: not hex");
  CHECK(problem_of("smeard-nts-session 1\naead 15\n") == "line 3: incomplete: aead, c2s, s2c and port are all needed");
}
