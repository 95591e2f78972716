#include "server/ntp/responder.hpp"

#include <doctest/doctest.h>

#include <random>
#include <vector>

#include "leapdb/parse.hpp"
#include "server/ntp/client.hpp"
#include "tests/unit/leapdb/files.hpp"
#include "tests/unit/server/ntp/allocations.hpp"
#include "tests/unit/server/ntp/bytes.hpp"
#include "tests/unit/server/ntp/decision.hpp"
#include "tests/unit/server/nts/ntp_client.hpp"

using ntp::DropReason;
using ntp::Mode;

using namespace test_decision;

namespace {

// With no leap table, TAI - UTC is 10 s throughout.
const auto kReceivedUtc = leapdb::utc_from_unix_nanoseconds(1'700'000'000'123'456'789);
const leapdb::TaiTime kReceived{kReceivedUtc.time_since_epoch() + std::chrono::seconds{10}};
const ntp::Timestamp kClientTransmit{0xE000'0001u, 0x1234'5678u};
const ntp::ClientAddress kClient{{}, 40123};

ntp::Snapshot test_snapshot() {
  ntp::Snapshot s = ntp::true_utc_snapshot();
  s.quality.stratum = 1;
  s.precision = -25;
  s.quality.reference_id = 0x4750'5300;  // "GPS"
  s.quality.root_delay = 0x10;
  s.quality.dispersion = ntp::from_ntp_short(0x20);
  s.quality.last_update = kReceived;
  s.timescales[0].reference_time = leapdb::utc_from_unix_nanoseconds(1'700'000'000'000'000'000);
  return s;
}

std::vector<std::byte> request(std::uint8_t version, Mode mode, std::size_t length = ntp::kHeaderLength) {
  ntp::Header h;
  h.version = version;
  h.mode = mode;
  h.poll = 6;
  h.transmit_time = kClientTransmit;
  std::vector<std::byte> bytes(length, std::byte{0});
  ntp::encode_header(h, std::span<std::byte, ntp::kHeaderLength>{bytes.data(), ntp::kHeaderLength});
  return bytes;
}

struct Answer {
  ntp::Decision decision;
  std::array<std::byte, ntp::kMaxReplyLength> bytes{};
  ntp::Header header() const { return ntp::decode_header(std::span{bytes}.first<ntp::kHeaderLength>()); }
};

Answer answer(std::span<const std::byte> req, const ntp::Snapshot& snapshot = test_snapshot(),
              const ntp::Tables& tables = {}, const ntp::ClientAddress& client = kClient,
              leapdb::UtcTime reading = kReceivedUtc) {
  Answer a;
  a.decision = ntp::handle(ntp::Request{req, client, 0, kReceived, reading}, snapshot, tables, a.bytes);
  return a;
}

ntp::ClientAddress v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d, std::uint16_t port = 40123) {
  return ntp::ClientAddress{{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a, b, c, d}, port};
}

ntp::Network v4_network(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d, unsigned prefix) {
  return ntp::Network{{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a, b, c, d}, 96 + prefix};
}

// Keys 1 (SHA1), 2 (AES128 CMAC) and 3 (MD5).
std::shared_ptr<const ntp::KeyRing> test_keys() {
  return std::make_shared<const ntp::KeyRing>(std::vector<ntp::SymmetricKey>{
      {1, ntp::MacAlgorithm::sha1, test_bytes::of_text("sha1-secret"), 1},
      {2, ntp::MacAlgorithm::aes128_cmac, test_bytes::of_text("0123456789abcdef"), 2},
      {3, ntp::MacAlgorithm::md5, test_bytes::of_text("md5-secret"), 3}});
}

// A client request signed with `key`, as a client holding the same keys file would send it:
// with the whole digest, or its first `digest_length` bytes (ntpd and NTPsec always send 20,
// chrony does in NTPv4).
std::vector<std::byte> signed_request(ntp::Authenticator& auth, std::uint32_t key, std::uint8_t version = 4,
                                      std::size_t digest_length = 0) {
  ntp::MacKey mac_key = auth.whole(auth.ring()->index_of(key));
  if (digest_length != 0) mac_key.digest_length = digest_length;
  auto req = request(version, Mode::client, 48 + mac_key.length());
  auth.sign(mac_key, std::span{req}.first(48), std::span{req}.subspan(48));
  return req;
}

// One key of every type the keys file knows: 1 MD5, 2 SHA1, 3 SHA256, 4 SHA384, 5 SHA512,
// 6 AES128, 7 AES256. (Ids below 16: no key id reads as an extension field's length.)
std::shared_ptr<const ntp::KeyRing> every_key_type() {
  using ntp::MacAlgorithm;
  std::vector<ntp::SymmetricKey> keys;
  for (const MacAlgorithm algorithm : {MacAlgorithm::md5, MacAlgorithm::sha1, MacAlgorithm::sha256,
                                       MacAlgorithm::sha384, MacAlgorithm::sha512, MacAlgorithm::aes128_cmac,
                                       MacAlgorithm::aes256_cmac}) {
    std::vector<std::byte> secret = test_bytes::of_text("a-shared-secret");
    if (ntp::is_cmac(algorithm)) secret.resize(algorithm == MacAlgorithm::aes256_cmac ? 32 : 16, std::byte{0x42});
    const auto id = static_cast<std::uint32_t>(keys.size() + 1);
    keys.push_back(ntp::SymmetricKey{id, algorithm, std::move(secret), id});
  }
  return std::make_shared<const ntp::KeyRing>(std::move(keys));
}

// How long a digest each key type's MAC may carry: its whole digest, and 20 bytes of a longer one.
std::vector<std::size_t> accepted_digest_lengths(ntp::MacAlgorithm algorithm) {
  std::vector<std::size_t> lengths{ntp::digest_length(algorithm)};
  if (lengths[0] > ntp::kTruncatedDigestLength) lengths.push_back(ntp::kTruncatedDigestLength);
  return lengths;
}

// The reply's MAC as the client checks it: whole, verified with its own copy of the keys, and
// covering the header (transmit time included) and nothing past the reply's length.
void check_signed_reply(const Answer& a, ntp::Authenticator& client, std::uint32_t key, std::size_t digest_length) {
  const auto reply = std::span{a.bytes}.first(a.decision.reply_length());
  REQUIRE(reply.size() == 48 + 4 + digest_length);
  CHECK(std::to_integer<unsigned>(reply[51]) == key);
  const ntp::Verification verification = client.verify(reply.first(48), reply.subspan(48));
  CHECK(verification.verdict == ntp::Verdict::ok);
  CHECK(verification.key.digest_length == digest_length);
  for (std::size_t i = reply.size(); i < a.bytes.size(); ++i) REQUIRE(a.bytes[i] == std::byte{0});
  auto tampered = std::vector<std::byte>(reply.begin(), reply.end());
  tampered[47] ^= std::byte{1};
  CHECK(client.verify(std::span{tampered}.first(48), std::span{tampered}.subspan(48)).verdict == ntp::Verdict::bad_mac);
}

}  // namespace

TEST_CASE("a client request gets a server reply built from the snapshot") {
  const auto req = request(4, Mode::client);
  const Answer a = answer(req);
  REQUIRE(a.decision.replied());
  CHECK(a.decision.reply_length() == 48);
  const ntp::Header h = a.header();
  CHECK(h.mode == Mode::server);
  CHECK(h.version == 4);
  CHECK(h.leap == ntp::LeapIndicator::none);
  CHECK(h.stratum == 1);
  CHECK(h.poll == 6);
  CHECK(h.precision == -25);
  CHECK(h.root_delay == 0x10);
  CHECK(h.root_dispersion == 0x20);
  CHECK(h.reference_id == 0x4750'5300);
  CHECK(h.reference_time == ntp::to_ntp(test_snapshot().timescales[0].reference_time));
  CHECK(h.origin_time == kClientTransmit);
  CHECK(h.receive_time == ntp::mark_receive(ntp::to_ntp(kReceivedUtc)));
}

TEST_CASE("root dispersion grows from the last update, and holdover ends in LI=3 and stratum 16") {
  using std::chrono::seconds;
  auto snapshot = test_snapshot();
  snapshot.quality.stratum = 3;
  snapshot.quality.dispersion = std::chrono::microseconds{100};
  snapshot.quality.dispersion_growth = leapdb::Rate::from_ppm(15);
  snapshot.quality.last_update = kReceived - seconds{100};  // 15 ppm of 100 s: 1.5 ms more
  snapshot.quality.synchronized_until = kReceived + seconds{1};
  ntp::Header h = answer(request(4, Mode::client), snapshot).header();
  CHECK(h.leap == ntp::LeapIndicator::none);
  CHECK(h.stratum == 3);
  CHECK(h.reference_id == 0x4750'5300);
  CHECK(std::abs((ntp::from_ntp_short(h.root_dispersion) - std::chrono::microseconds{1600}).count()) < 16'000);

  // A faster growth (a reference that knows its frequency poorly) is applied the same way.
  snapshot.quality.dispersion_growth = leapdb::Rate::from_ppm(500);
  h = answer(request(4, Mode::client), snapshot).header();
  CHECK(std::abs((ntp::from_ntp_short(h.root_dispersion) - std::chrono::microseconds{50'100}).count()) < 16'000);

  // Past holdover: unsynchronized, whatever the smear says.
  snapshot.quality.synchronized_until = kReceived;
  h = answer(request(4, Mode::client), snapshot).header();
  CHECK(h.leap == ntp::LeapIndicator::unsynchronized);
  CHECK(h.stratum == ntp::kUnsynchronizedStratum);
  CHECK(h.reference_id == 0);
  CHECK(h.root_dispersion == ntp::to_ntp_short(ntp::kMaxDispersion));

  // Or, by choice, the local clock at a local stratum, like chrony's `local stratum`.
  snapshot.quality.local_stratum = 10;
  h = answer(request(4, Mode::client), snapshot).header();
  CHECK(h.leap == ntp::LeapIndicator::none);
  CHECK(h.stratum == 10);
  CHECK(h.reference_id == ntp::kLocalAddressRefid);
  snapshot.quality.local_stratum = 1;
  CHECK(answer(request(4, Mode::client), snapshot).header().reference_id == ntp::kLocalRefid);
}

TEST_CASE("header quality: dispersion is capped at 16 s and never shrinks before the update") {
  ntp::ServedQuality q;
  q.dispersion = std::chrono::milliseconds{2};
  q.last_update = kReceived;
  CHECK(ntp::header_quality(q, kReceived - std::chrono::hours{1}).root_dispersion ==
        ntp::to_ntp_short(std::chrono::milliseconds{2}));
  CHECK(ntp::header_quality(q, kReceived + std::chrono::hours{24 * 365 * 100}).root_dispersion ==
        ntp::to_ntp_short(ntp::kMaxDispersion));
  q.last_update = leapdb::TaiTime::min();
  CHECK(ntp::header_quality(q, leapdb::TaiTime::max()).root_dispersion == ntp::to_ntp_short(ntp::kMaxDispersion));
  q.dispersion_growth = {};
  q.last_update = leapdb::TaiTime::max();
  CHECK(ntp::header_quality(q, leapdb::TaiTime::min()).root_dispersion == ntp::to_ntp_short(std::chrono::milliseconds{2}));
  q.synchronized_until = leapdb::TaiTime::max();
  CHECK_FALSE(ntp::header_quality(q, leapdb::TaiTime::max() - std::chrono::seconds{1}).unsynchronized);
}

TEST_CASE("versions 1 to 4 are answered in their own version") {
  for (const std::uint8_t version : std::initializer_list<std::uint8_t>{1, 2, 3, 4}) {
    CAPTURE(version);
    const Answer a = answer(request(version, Mode::client));
    REQUIRE(a.decision.replied());
    CHECK(a.header().version == version);
    CHECK(a.header().mode == Mode::server);
  }
}

TEST_CASE("NTPv1 mode 0 is a client request; mode 0 in later versions is not") {
  const Answer v1 = answer(request(1, Mode::unspecified));
  REQUIRE(v1.decision.replied());
  CHECK(v1.header().mode == Mode::server);
  CHECK(v1.header().version == 1);
  for (const std::uint8_t version : std::initializer_list<std::uint8_t>{2, 3, 4}) {
    CHECK(drop_reason(answer(request(version, Mode::unspecified)).decision) == DropReason::unsupported_mode);
  }
}

TEST_CASE("every other mode is dropped, control and private above all") {
  for (const Mode mode : {Mode::symmetric_active, Mode::symmetric_passive, Mode::server, Mode::broadcast,
                          Mode::control, Mode::private_use}) {
    CAPTURE(static_cast<int>(mode));
    const Answer a = answer(request(4, mode));
    CHECK_FALSE(a.decision.replied());
    CHECK(drop_reason(a.decision) == DropReason::unsupported_mode);
  }
}

TEST_CASE("versions 0 and 5 to 7 are dropped") {
  for (const std::uint8_t version : std::initializer_list<std::uint8_t>{0, 5, 6, 7}) {
    CAPTURE(version);
    CHECK(drop_reason(answer(request(version, Mode::client)).decision) == DropReason::bad_version);
  }
}

TEST_CASE("malformed lengths are dropped with their reason") {
  CHECK(drop_reason(answer(std::vector<std::byte>(47)).decision) == DropReason::too_short);
  CHECK(drop_reason(answer(std::vector<std::byte>{}).decision) == DropReason::too_short);
  CHECK(drop_reason(answer(request(4, Mode::client, 50)).decision) == DropReason::not_word_aligned);
  CHECK(drop_reason(answer(request(4, Mode::client, 52 + 8)).decision) == DropReason::bad_mac_length);
  CHECK(drop_reason(answer(request(4, Mode::client, 1500)).decision) == DropReason::too_long);
  auto bad_field = request(4, Mode::client, 48 + 32);
  bad_field[48 + 3] = std::byte{12};  // an extension field claiming 12 bytes
  CHECK(drop_reason(answer(bad_field).decision) == DropReason::bad_extension_field);
}

TEST_CASE("a MAC we cannot verify is answered with a crypto-NAK that carries no time") {
  for (const std::size_t mac : {20u, 24u}) {
    CAPTURE(mac);
    auto req = request(3, Mode::client, 48 + mac);
    req[48 + 3] = std::byte{7};  // key id 7
    const Answer a = answer(req);
    REQUIRE(a.decision.replied());
    CHECK(a.decision.reply_length() == 52);
    CHECK(a.decision.auth == ntp::AuthResult::unknown_key);
    CHECK(kiss(a.decision) == ntp::Kiss::crypto_nak);
    CHECK(a.header().stratum == 0);
    CHECK(a.header().leap == ntp::LeapIndicator::unsynchronized);
    CHECK(a.header().reference_id == ntp::kKissCryp);
    for (std::size_t i = 48; i < 52; ++i) CHECK(a.bytes[i] == std::byte{0});
  }
  // A bare crypto-NAK in a request is not a MAC: plain reply.
  CHECK(answer(request(4, Mode::client, 52)).decision.reply_length() == 48);
}

TEST_CASE("unknown extension fields are ignored") {
  auto req = request(4, Mode::client, 48 + 28);
  req[48] = std::byte{0x7A};
  req[48 + 3] = std::byte{28};
  const Answer a = answer(req);
  REQUIRE(a.decision.replied());
  CHECK(a.decision.reply_length() == 48);
}

TEST_CASE("stamp_transmit writes only the transmit timestamp") {
  Answer a = answer(request(4, Mode::client));
  const auto before = a.header();
  const auto transmit = kReceived + leapdb::Nanoseconds{25'000};
  ntp::stamp_transmit(a.bytes, transmit, test_snapshot().timescales[0]);
  auto after = a.header();
  CHECK(after.transmit_time == ntp::mark_transmit(ntp::to_ntp(kReceivedUtc + leapdb::Nanoseconds{25'000})));
  after.transmit_time = before.transmit_time;
  CHECK(after == before);
}

TEST_CASE("random input: never a crash, never a reply longer than the request") {
  std::mt19937_64 random{5905};
  std::uniform_int_distribution<std::size_t> length{0, 1300};
  std::uniform_int_distribution<unsigned> byte{0, 255};
  std::vector<std::byte> req;
  int replies = 0;
  // With keys, a rate limiter that never limits, and access lists in play.
  ntp::Snapshot snapshot = test_snapshot();
  snapshot.keys = test_keys();
  snapshot.policy.rate_limit = {true, -4, 255, 0};
  snapshot.policy.access.deny.push_back(v4_network(10, 0, 0, 0, 8));
  ntp::Authenticator authenticator{snapshot.keys};
  ntp::RateLimiter limiter{1024, 1};
  const ntp::Tables tables{nullptr, &limiter, &authenticator};
  for (int i = 0; i < 100000; ++i) {
    req.resize(i % 4 == 0 ? 48 + 4 * (length(random) % 8) : length(random));
    for (auto& b : req) b = static_cast<std::byte>(byte(random));
    if (i % 2 == 0 && req.size() >= 1) req[0] = static_cast<std::byte>((byte(random) & 0xC0) | (4 << 3) | 3);
    const Answer a = answer(req, snapshot, tables, kClient, kReceivedUtc + std::chrono::milliseconds{100} * i);
    if (a.decision.replied()) {
      ++replies;
      REQUIRE(a.decision.reply_length() <= req.size());
      REQUIRE(a.header().mode == Mode::server);
    }
  }
  CHECK(replies > 1000);  // the generator does reach the reply path
}

TEST_CASE("requests from the echo, chargen and zero ports are dropped: no reflection loops") {
  for (const int port : {0, 7, 19}) {
    CAPTURE(port);
    const Answer a = answer(request(4, Mode::client), test_snapshot(), {}, v4(192, 0, 2, 1, static_cast<std::uint16_t>(port)));
    CHECK_FALSE(a.decision.replied());
    CHECK(drop_reason(a.decision) == DropReason::bad_source_port);
  }
  CHECK(answer(request(4, Mode::client), test_snapshot(), {}, v4(192, 0, 2, 1, 123)).decision.replied());
}

TEST_CASE("a KoD or any server-mode packet is never answered") {
  auto kod = request(4, Mode::server);
  kod[1] = std::byte{0};  // stratum 0
  kod[12] = std::byte{'R'}, kod[13] = std::byte{'A'}, kod[14] = std::byte{'T'}, kod[15] = std::byte{'E'};
  CHECK(drop_reason(answer(kod).decision) == DropReason::unsupported_mode);
  CHECK(drop_reason(answer(request(3, Mode::server)).decision) == DropReason::unsupported_mode);
}

TEST_CASE("access.min_version drops older requests") {
  ntp::Snapshot s = test_snapshot();
  s.policy.access.min_version = 3;
  CHECK(drop_reason(answer(request(1, Mode::unspecified), s).decision) == DropReason::old_version);
  CHECK(drop_reason(answer(request(2, Mode::client), s).decision) == DropReason::old_version);
  CHECK(answer(request(3, Mode::client), s).decision.replied());
  CHECK(answer(request(4, Mode::client), s).decision.replied());
}

TEST_CASE("access: deny first, then allow; the denied get KoD DENY or nothing") {
  ntp::Snapshot s = test_snapshot();
  s.policy.access.allow = {v4_network(10, 0, 0, 0, 8)};
  s.policy.access.deny = {v4_network(10, 9, 0, 0, 16)};
  const auto req = request(4, Mode::client);
  const Answer served = answer(req, s, {}, v4(10, 1, 2, 3));
  CHECK(served.decision.replied());
  CHECK(time_reply(served.decision));
  CHECK(served.header().stratum == 1);
  for (const ntp::ClientAddress& denied : {v4(10, 9, 1, 1), v4(192, 0, 2, 1)}) {
    const Answer a = answer(req, s, {}, denied);
    REQUIRE(a.decision.replied());
    CHECK(a.decision.reply_length() == 48);
    CHECK(kiss(a.decision) == ntp::Kiss::deny);
    CHECK(a.header().stratum == 0);
    CHECK(a.header().reference_id == ntp::kKissDeny);
    CHECK(a.header().origin_time == kClientTransmit);  // the client can match it
  }
  s.policy.access.kod = false;
  const Answer dropped = answer(req, s, {}, v4(10, 9, 1, 1));
  CHECK_FALSE(dropped.decision.replied());
  CHECK(drop_reason(dropped.decision) == DropReason::denied);
  // IPv6 against an IPv4-only allow list: denied.
  CHECK_FALSE(answer(req, s, {}, ntp::ClientAddress{{0x20, 0x01, 0x0d, 0xb8}, 40123}).decision.replied());
  // An empty allow list serves everyone not denied.
  s.policy.access.allow.clear();
  CHECK(answer(req, s, {}, v4(192, 0, 2, 1)).decision.replied());
}

TEST_CASE("access: with rate limiting on, KoD DENY is sent within the limit, the rest dropped") {
  ntp::Snapshot s = test_snapshot();
  s.policy.access.deny = {v4_network(10, 0, 0, 0, 8)};
  s.policy.rate_limit = {true, 0, 2, 0};
  ntp::RateLimiter limiter{1024, 3};
  const ntp::Tables tables{nullptr, &limiter, nullptr};
  int kods = 0, drops = 0;
  for (int i = 0; i < 100; ++i) {
    const Answer a = answer(request(4, Mode::client), s, tables, v4(10, 1, 1, 1), kReceivedUtc);
    kods += kiss(a.decision) == ntp::Kiss::deny;
    drops += !a.decision.replied() && drop_reason(a.decision) == DropReason::denied;
  }
  CHECK(kods == 2);  // the burst
  CHECK(drops == 98);
}

TEST_CASE("rate limiting in the responder: burst answered, then one KoD RATE an interval, the rest dropped") {
  ntp::Snapshot s = test_snapshot();
  s.policy.rate_limit = {true, 0, 3, 0};  // 1/s, burst 3, no leak
  ntp::RateLimiter limiter{1024, 7};
  const ntp::Tables tables{nullptr, &limiter, nullptr};
  const auto req = request(4, Mode::client);
  auto at = [&](std::int64_t ms, const ntp::ClientAddress& client = v4(192, 0, 2, 1)) {
    return answer(req, s, tables, client, kReceivedUtc + std::chrono::milliseconds{ms});
  };
  for (int i = 0; i < 3; ++i) CHECK(time_reply(at(i).decision));
  const Answer kod = at(3);
  CHECK(kiss(kod.decision) == ntp::Kiss::rate);
  CHECK(kod.decision.rate == ntp::RateLimiter::Verdict::kod);
  CHECK(kod.header().reference_id == ntp::kKissRate);
  CHECK(kod.header().stratum == 0);
  const Answer dropped = at(4);
  CHECK_FALSE(dropped.decision.replied());
  CHECK(drop_reason(dropped.decision) == DropReason::rate_limited);
  CHECK(time_reply(at(5, v4(192, 0, 2, 2)).decision));  // another client is not affected
  CHECK(time_reply(at(1100).decision));                 // a second later: one more token
  // Rate limiting is off unless enabled, whatever the table.
  s.policy.rate_limit.enabled = false;
  for (int i = 0; i < 20; ++i) CHECK(time_reply(at(1200).decision));
}

TEST_CASE("an authenticated request gets a reply signed with its key, as long as the request") {
  ntp::Snapshot s = test_snapshot();
  s.keys = test_keys();
  ntp::Authenticator server{s.keys};
  ntp::Authenticator client{test_keys()};
  for (const std::uint32_t key : {1u, 2u, 3u}) {
    for (const std::uint8_t version : {std::uint8_t{3}, std::uint8_t{4}}) {
      CAPTURE(key);
      CAPTURE(version);
      const auto req = signed_request(client, key, version);
      Answer a = answer(req, s, {nullptr, nullptr, &server});
      REQUIRE(a.decision.replied());
      CHECK(a.decision.auth == ntp::AuthResult::ok);
      CHECK(a.decision.reply_length() == req.size());
      CHECK(a.header().stratum == 1);
      ntp::stamp_transmit(a.bytes, kReceived, s.timescales[0]);
      ntp::sign(a.bytes, a.decision, server);
      const auto reply = std::span{a.bytes}.first(a.decision.reply_length());
      CHECK(std::to_integer<unsigned>(reply[51]) == key);
      // The client verifies it with its own copy of the key, transmit time included.
      CHECK(client.verify(reply.first(48), reply.subspan(48)).verdict == ntp::Verdict::ok);
      auto tampered = std::vector<std::byte>(reply.begin(), reply.end());
      tampered[47] ^= std::byte{1};
      CHECK(client.verify(std::span{tampered}.first(48), std::span{tampered}.subspan(48)).verdict == ntp::Verdict::bad_mac);
    }
  }
}

TEST_CASE("a flipped MAC byte, a wrong key or a wrong length gets a crypto-NAK") {
  ntp::Snapshot s = test_snapshot();
  s.keys = test_keys();
  ntp::Authenticator server{s.keys};
  ntp::Authenticator client{test_keys()};
  auto flipped = signed_request(client, 1);
  flipped[60] ^= std::byte{0x40};
  std::vector<ntp::SymmetricKey> other_secret = test_keys()->keys();
  other_secret[0].secret = test_bytes::of_text("not-the-secret");
  ntp::Authenticator impostor{std::make_shared<const ntp::KeyRing>(other_secret)};
  auto short_mac = signed_request(client, 1);
  short_mac.resize(48 + 20);  // a SHA1 key with a 16-byte digest
  struct Case {
    std::vector<std::byte> request;
    ntp::AuthResult result;
  };
  for (const Case& c : {Case{flipped, ntp::AuthResult::bad_mac}, Case{signed_request(impostor, 1), ntp::AuthResult::bad_mac},
                        Case{short_mac, ntp::AuthResult::bad_length}}) {
    const Answer a = answer(c.request, s, {nullptr, nullptr, &server});
    REQUIRE(a.decision.replied());
    CHECK(a.decision.auth == c.result);
    CHECK(mac_key(a.decision) == ntp::MacKey{});
    CHECK(a.decision.reply_length() == 52);
    CHECK(a.header().reference_id == ntp::kKissCryp);
    CHECK(a.header().stratum == 0);
  }
}

TEST_CASE("every key type, whole and truncated, in every version: the reply carries the request's MAC length") {
  ntp::Snapshot s = test_snapshot();
  s.keys = every_key_type();
  ntp::Authenticator server{s.keys};
  ntp::Authenticator client{every_key_type()};
  std::size_t cells = 0;
  for (const ntp::SymmetricKey& key : s.keys->keys()) {
    for (const std::size_t digest : accepted_digest_lengths(key.algorithm)) {
      for (const std::uint8_t version : {std::uint8_t{1}, std::uint8_t{2}, std::uint8_t{3}, std::uint8_t{4}}) {
        CAPTURE(ntp::to_string(key.algorithm));
        CAPTURE(digest);
        CAPTURE(version);
        const auto req = signed_request(client, key.id, version, digest);
        Answer a = answer(req, s, {nullptr, nullptr, &server});
        REQUIRE(time_reply(a.decision));
        CHECK(a.decision.auth == ntp::AuthResult::ok);
        CHECK(mac_key(a.decision) == ntp::MacKey{server.ring()->index_of(key.id), digest});
        CHECK(a.decision.reply_length() == req.size());
        CHECK(a.header().stratum == 1);
        CHECK(a.header().version == version);
        ntp::stamp_transmit(a.bytes, kReceived, s.timescales[0]);
        ntp::sign(a.bytes, a.decision, server);
        check_signed_reply(a, client, key.id, digest);
        // The same request tampered with: a crypto-NAK, no time.
        auto tampered = req;
        tampered[40] ^= std::byte{1};
        const Answer nak = answer(tampered, s, {nullptr, nullptr, &server});
        CHECK(nak.decision.auth == ntp::AuthResult::bad_mac);
        CHECK(kiss(nak.decision) == ntp::Kiss::crypto_nak);
        CHECK(nak.decision.reply_length() == 52);
        CHECK(mac_key(nak.decision) == ntp::MacKey{});
        ++cells;
      }
    }
  }
  CHECK(cells == 4 * (7 + 3));  // SHA256, SHA384 and SHA512 twice
}

TEST_CASE("a MAC of a length its key never makes gets a crypto-NAK, however it was cut") {
  ntp::Snapshot s = test_snapshot();
  s.keys = every_key_type();
  ntp::Authenticator server{s.keys};
  ntp::Authenticator client{every_key_type()};
  for (const ntp::SymmetricKey& key : s.keys->keys()) {
    const auto accepted = accepted_digest_lengths(key.algorithm);
    // Every length the packet layout admits as a MAC: key id and 16, 20, 32, 48 or 64 bytes.
    for (const std::size_t digest : {16u, 20u, 32u, 48u, 64u}) {
      if (std::ranges::find(accepted, digest) != accepted.end()) continue;
      for (const std::uint8_t version : {std::uint8_t{3}, std::uint8_t{4}}) {
        CAPTURE(ntp::to_string(key.algorithm));
        CAPTURE(digest);
        CAPTURE(version);
        // The key's true digest, cut or padded with zeros to the wrong length.
        auto req = signed_request(client, key.id, version);
        req.resize(48 + 4 + digest);
        const Answer a = answer(req, s, {nullptr, nullptr, &server});
        REQUIRE(a.decision.replied());
        CHECK(a.decision.auth == ntp::AuthResult::bad_length);
        CHECK(kiss(a.decision) == ntp::Kiss::crypto_nak);
        CHECK(mac_key(a.decision) == ntp::MacKey{});
        CHECK(a.decision.reply_length() == 52);
        CHECK(a.header().stratum == 0);
      }
    }
  }
}

TEST_CASE("NTPv4: a truncated MAC after extension fields is found, covers them, and is answered truncated") {
  ntp::Snapshot s = test_snapshot();
  s.keys = every_key_type();
  ntp::Authenticator server{s.keys};
  ntp::Authenticator client{every_key_type()};
  const std::uint32_t sha256 = 3;
  // A 16-byte unknown extension field, then key id and the first 20 bytes of the SHA256 digest.
  auto req = request(4, Mode::client, 48 + 16 + 24);
  req[48] = std::byte{0x7A};
  req[48 + 3] = std::byte{16};
  req[48 + 4] = std::byte{0x99};
  const ntp::MacKey truncated{client.ring()->index_of(sha256), 20};
  client.sign(truncated, std::span{req}.first(48 + 16), std::span{req}.subspan(48 + 16));
  Answer a = answer(req, s, {nullptr, nullptr, &server});
  REQUIRE(time_reply(a.decision));
  CHECK(a.decision.auth == ntp::AuthResult::ok);
  CHECK(mac_key(a.decision) == ntp::MacKey{server.ring()->index_of(sha256), 20});
  ntp::stamp_transmit(a.bytes, kReceived, s.timescales[0]);
  ntp::sign(a.bytes, a.decision, server);
  check_signed_reply(a, client, sha256, 20);  // the field is not echoed
  // The MAC covers the field: change it and the MAC fails.
  req[48 + 4] = std::byte{0x98};
  CHECK(answer(req, s, {nullptr, nullptr, &server}).decision.auth == ntp::AuthResult::bad_mac);
  // A 24-byte tail is a MAC whatever its key id reads as: key id 16 and 24 look like field lengths.
  for (const std::uint32_t id : {16u, 24u}) {
    CAPTURE(id);
    ntp::Snapshot odd = test_snapshot();
    odd.keys = std::make_shared<const ntp::KeyRing>(
        std::vector<ntp::SymmetricKey>{{id, ntp::MacAlgorithm::sha512, test_bytes::of_text("odd-id"), 1}});
    ntp::Authenticator odd_server{odd.keys};
    auto odd_req = signed_request(odd_server, id, 4, 20);
    REQUIRE(odd_req.size() == 48 + 24);
    Answer odd_answer = answer(odd_req, odd, {nullptr, nullptr, &odd_server});
    REQUIRE(time_reply(odd_answer.decision));
    CHECK(odd_answer.decision.auth == ntp::AuthResult::ok);
    ntp::stamp_transmit(odd_answer.bytes, kReceived, odd.timescales[0]);
    ntp::sign(odd_answer.bytes, odd_answer.decision, odd_server);
    check_signed_reply(odd_answer, odd_server, id, 20);
  }
}

TEST_CASE("a refused client's DENY is signed with its MAC's length, truncated or whole") {
  ntp::Snapshot s = test_snapshot();
  s.keys = every_key_type();
  s.policy.pins.push_back(ntp::Pin{v4_network(10, 0, 0, 0, 8), 1});  // pinned to another timescale
  ntp::Authenticator server{s.keys};
  ntp::Authenticator client{every_key_type()};
  for (const std::size_t digest : {20u, 64u}) {
    CAPTURE(digest);
    const std::uint32_t sha512 = 5;
    Answer a = answer(signed_request(client, sha512, 4, digest), s, {nullptr, nullptr, &server}, v4(10, 1, 2, 3));
    REQUIRE(kiss(a.decision) == ntp::Kiss::deny);
    CHECK(a.decision.auth == ntp::AuthResult::ok);
    CHECK(mac_key(a.decision) == ntp::MacKey{server.ring()->index_of(sha512), digest});
    ntp::stamp_transmit(a.bytes, kReceived, s.timescales[0]);
    ntp::sign(a.bytes, a.decision, server);
    check_signed_reply(a, client, sha512, digest);
  }
}

TEST_CASE("answering and signing a MAC allocate nothing, whole or truncated, for time or a crypto-NAK") {
  ntp::Snapshot s = test_snapshot();
  s.keys = every_key_type();
  ntp::Authenticator server{s.keys};
  ntp::Authenticator client{every_key_type()};
  std::vector<std::vector<std::byte>> requests;
  for (const ntp::SymmetricKey& key : s.keys->keys()) {
    for (const std::size_t digest : accepted_digest_lengths(key.algorithm)) {
      requests.push_back(signed_request(client, key.id, 4, digest));
      requests.push_back(signed_request(client, key.id, 3, digest));
      requests.back()[60] ^= std::byte{1};
    }
  }
  const ntp::Tables tables{nullptr, nullptr, &server};
  std::array<std::byte, ntp::kMaxReplyLength> reply{};
  auto round = [&] {
    std::size_t signed_replies = 0;
    for (const auto& req : requests) {
      const ntp::Decision d = ntp::handle(ntp::Request{req, kClient, 0, kReceived, kReceivedUtc}, s, tables, reply);
      ntp::stamp_transmit(reply, kReceived, s.timescales[0]);
      ntp::sign(reply, d, server);
      if (d.mac_key()) ++signed_replies;
    }
    return signed_replies;
  };
  round();  // OpenSSL's per-thread state, once
  const long before = test_allocations::count.load();
  std::size_t signed_replies = 0;
  for (int i = 0; i < 50; ++i) signed_replies += round();
  CHECK(test_allocations::count.load() == before);
  CHECK(signed_replies == 50u * requests.size() / 2);
}

TEST_CASE("a key-required network: no MAC gets nothing, a bad one a crypto-NAK, a good one time") {
  ntp::Snapshot s = test_snapshot();
  s.keys = test_keys();
  ntp::Pin pin;
  static_cast<ntp::Network&>(pin) = v4_network(10, 0, 0, 0, 8);
  pin.timescale = 0;
  pin.key_required = true;
  s.policy.pins.push_back(pin);
  ntp::Authenticator server{s.keys};
  ntp::Authenticator client{test_keys()};
  const ntp::Tables tables{nullptr, nullptr, &server};
  const Answer bare = answer(request(4, Mode::client), s, tables, v4(10, 1, 1, 1));
  CHECK_FALSE(bare.decision.replied());
  CHECK(drop_reason(bare.decision) == DropReason::key_required);
  CHECK_FALSE(answer(request(4, Mode::client, 52), s, tables, v4(10, 1, 1, 1)).decision.replied());  // key id only
  auto bad = signed_request(client, 2);
  bad[55] ^= std::byte{1};
  CHECK(kiss(answer(bad, s, tables, v4(10, 1, 1, 1)).decision) == ntp::Kiss::crypto_nak);
  const Answer good = answer(signed_request(client, 2), s, tables, v4(10, 1, 1, 1));
  CHECK(good.decision.auth == ntp::AuthResult::ok);
  CHECK(time_reply(good.decision));
  // Outside the network, no key is needed.
  CHECK(answer(request(4, Mode::client), s, tables, v4(192, 0, 2, 1)).decision.replied());
}

TEST_CASE("a client asking twice within a second gets monotonic time through a whole smear, every preset and sign") {
  using namespace std::chrono_literals;
  std::mt19937_64 random{20161231};
  for (const char* fixture : {"leap-seconds.list", "negative-leap.list"}) {
    const auto table =
        std::make_shared<const leapdb::LeapTable>(leapdb::parse(test_files::fixture(fixture), fixture).table);
    for (const char* preset : {"google", "aws", "google-2016", "ntpd", "ntpsec", "chrony", "meta"}) {
      CAPTURE(fixture);
      CAPTURE(preset);
      auto made = smear::Smearer::make(*table, smear::parse_profile(preset).profile.value());
      REQUIRE(made.smearer.has_value());
      const auto smearer = std::make_shared<const smear::Smearer>(std::move(*made.smearer));
      const smear::Window window = smearer->windows().back();
      // A simulated reference at a random rate, from a second before the window to a second
      // past it, with the workers' shortcut published just before the window, as the control
      // thread would.
      ntp::Snapshot snapshot = ntp::true_utc_snapshot();
      snapshot.clock.table = table;
      snapshot.clock.kind = ntp::ReferenceClock::Kind::simulated;
      snapshot.clock.start = window.begins - 1s;
      snapshot.clock.origin = kReceivedUtc;
      snapshot.clock.rate_numerator = std::uniform_int_distribution<std::int64_t>{1, 200'000}(random);
      snapshot.clock.rate_denominator = 1000;
      CAPTURE(snapshot.clock.rate_numerator);
      snapshot.timescales[0].smearer = smearer;
      snapshot.timescales[0].steady = smearer->steady_around(window.begins - 10s);
      const std::int64_t span_ns = ((window.ends - window.begins + 2s) * snapshot.clock.rate_denominator /
                                    snapshot.clock.rate_numerator).count();
      constexpr int kPairs = 20000;
      std::uniform_int_distribution<std::int64_t> stride{0, 2 * span_ns / kPairs};
      std::uniform_int_distribution<std::int64_t> within_a_second{1, 999'999'999};
      const auto req = request(4, Mode::client);
      // The served instant of the request read at `reading`, as the client decodes it, and of
      // the reply's transmit timestamp stamped `later`.
      const auto ask = [&](leapdb::UtcTime reading, leapdb::Nanoseconds later) {
        const leapdb::TaiTime received = snapshot.clock.to_tai(reading);
        Answer a;
        a.decision = ntp::handle(ntp::Request{req, kClient, 0, received, reading}, snapshot, {}, a.bytes);
        REQUIRE(a.decision.replied());
        ntp::stamp_transmit(a.bytes, snapshot.clock.to_tai(reading + later), snapshot.timescales[0]);
        const ntp::Header h = a.header();
        const auto pivot = smearer->at(received).time;
        return std::pair{ntp::from_ntp(h.receive_time, pivot), ntp::from_ntp(h.transmit_time, pivot)};
      };
      // Pairs astride where the smear begins, the leap itself and where the smear ends.
      const auto reading_at = [&](leapdb::TaiTime t) {
        return snapshot.clock.origin + (t - snapshot.clock.start) * snapshot.clock.rate_denominator /
                                           snapshot.clock.rate_numerator;
      };
      for (const leapdb::TaiTime edge : {window.begins, table->to_tai(window.leap), window.ends}) {
        for (const leapdb::Nanoseconds half : {1ns, 1000ns, leapdb::Nanoseconds{1ms}, leapdb::Nanoseconds{400ms}}) {
          const auto [receive_a, transmit_a] = ask(reading_at(edge) - half, half);
          const auto [receive_b, transmit_b] = ask(reading_at(edge) + half, half / 2);
          REQUIRE(receive_a <= transmit_a);
          REQUIRE(transmit_a <= receive_b);
          REQUIRE(receive_b <= transmit_b);
        }
      }
      leapdb::UtcTime reading = snapshot.clock.origin;
      std::int64_t pairs = 0;
      while (reading < snapshot.clock.origin + leapdb::Nanoseconds{span_ns}) {
        const leapdb::Nanoseconds gap{within_a_second(random)};
        const leapdb::Nanoseconds processing{std::uniform_int_distribution<std::int64_t>{0, gap.count()}(random)};
        const auto [receive_a, transmit_a] = ask(reading, processing);
        const auto [receive_b, transmit_b] = ask(reading + gap, gap / 2);
        CAPTURE(leapdb::format_rfc3339(receive_a));
        REQUIRE(receive_a <= transmit_a);
        REQUIRE(transmit_a <= receive_b);
        REQUIRE(receive_b <= transmit_b);
        reading += leapdb::Nanoseconds{stride(random)};
        ++pairs;
      }
      CHECK(pairs > kPairs / 2);
    }
  }
}

namespace {

// The snapshot of a server holding `server`'s keys, period 42's first, its listener 0 on the
// timescale NTS names 0x5EA12345.
ntp::Snapshot nts_snapshot(const nts_client::Server& server) {
  auto snapshot = test_snapshot();
  snapshot.nts_keys = {server.keys[1], server.keys[0]};
  snapshot.timescales[0].nts_id = 0x5EA12345;
  return snapshot;
}

struct NtsAnswer : Answer {
  std::vector<std::byte> sent;  // as it leaves: stamped and sealed
};

NtsAnswer nts_answer(std::span<const std::byte> req, const ntp::Snapshot& snapshot, std::mt19937_64& random,
                     const ntp::Network* key_required = nullptr) {
  std::array<std::byte, nts::kReplyRandomness> randomness{};
  std::ranges::copy(nts_client::random_bytes(random, randomness.size()), randomness.begin());
  ntp::Authenticator authenticator{nullptr};
  ntp::Tables tables{};
  tables.authenticator = &authenticator;
  tables.nts_randomness = &randomness;
  auto pinned = snapshot;
  if (key_required != nullptr) pinned.policy.pins.push_back(ntp::Pin{*key_required, 0, true});
  NtsAnswer a;
  a.decision = ntp::handle(ntp::Request{req, kClient, 0, kReceived, kReceivedUtc}, pinned, tables, a.bytes);
  if (!a.decision.replied()) return a;
  ntp::stamp_transmit(a.bytes, kReceived + std::chrono::microseconds{20}, pinned.timescales[0]);
  ntp::sign(a.bytes, a.decision, authenticator);
  a.sent.assign(a.bytes.begin(), a.bytes.begin() + static_cast<std::ptrdiff_t>(a.decision.reply_length()));
  return a;
}

}  // namespace

TEST_CASE("NTS: a request with a cookie for this listener's timescale gets time, authenticated, with fresh cookies") {
  std::mt19937_64 random{8915};
  const auto server = nts_client::server(random);
  for (const auto aead : {nts::Aead::aes_siv_cmac_256, nts::Aead::aes_siv_cmac_512}) {
    const auto c = nts_client::client(random, server, aead);
    const auto req = nts_client::request(random, c, 2);
    const NtsAnswer a = nts_answer(req, nts_snapshot(server), random);
    REQUIRE(a.decision.replied());
    CHECK(nts_time(a.decision));
    CHECK(a.decision.reply_length() <= req.size());
    const ntp::Header h = a.header();
    CHECK(h.stratum == 1);
    CHECK(h.origin_time == ntp::decode_header(std::span{req}.first<ntp::kHeaderLength>()).transmit_time);
    const auto cookies = nts_client::open_reply(a.sent, c);
    REQUIRE(cookies.size() == 3);
    // The fresh cookies are sealed with the current period's key and agree what the old one did.
    for (const auto& cookie : cookies) {
      const auto opened = nts::open_cookie(std::span{server.keys}.subspan(1), cookie);
      REQUIRE(opened.has_value());
      CHECK(*opened == c.agreed);
    }
    // The authenticator covers the transmit timestamp written after handle().
    auto changed = a.sent;
    changed[ntp::kTransmitTimeOffset + 7] ^= std::byte{1};
    CHECK(nts_client::open_reply(changed, c).empty());
  }
}

TEST_CASE("NTS: once the reply is sealed, forget_session_key() wipes the S2C key its decision held") {
  std::mt19937_64 random{8915};
  const auto server = nts_client::server(random);
  const auto c = nts_client::client(random, server);
  NtsAnswer a = nts_answer(nts_client::request(random, c, 0), nts_snapshot(server), random);
  auto* time = std::get_if<ntp::TimeReply>(&a.decision.outcome);
  REQUIRE(time != nullptr);
  REQUIRE(time->nts.has_value());
  CHECK(time->nts->s2c == c.agreed.s2c);
  ntp::forget_session_key(a.decision);
  CHECK(std::ranges::all_of(time->nts->s2c, [](std::byte b) { return b == std::byte{0}; }));
  CHECK(nts_client::open_reply(a.sent, c).size() == 1);  // the reply that left was sealed with it
}

TEST_CASE("NTS: a cookie for another timescale, or from a rotated-out key, gets an NTS NAK and no time") {
  std::mt19937_64 random{5905};
  const auto server = nts_client::server(random);
  SUBCASE("another timescale: a pin violation, even behind NAT") {
    const auto c = nts_client::client(random, server, nts::Aead::aes_siv_cmac_256, 0x0DD0BEEF);
    const NtsAnswer a = nts_answer(nts_client::request(random, c, 0), nts_snapshot(server), random);
    REQUIRE(a.decision.replied());
    CHECK(a.decision.pin_violation);
    CHECK(nts_nak(a.decision));
    CHECK(a.header().stratum == 0);
    CHECK(a.header().reference_id == nts::kKissNtsNak);
    REQUIRE(a.decision.reply_length() == ntp::kHeaderLength + 4 + c.unique_id.size());
    CHECK(std::ranges::equal(std::span{a.sent}.subspan(ntp::kHeaderLength + 4), c.unique_id));
  }
  SUBCASE("a key no longer held") {
    auto snapshot = nts_snapshot(server);
    std::mt19937_64 other{1};
    snapshot.nts_keys = {nts_client::server(other).keys[1]};
    const auto c = nts_client::client(random, server);
    const NtsAnswer a = nts_answer(nts_client::request(random, c, 0), snapshot, random);
    REQUIRE(a.decision.replied());
    CHECK(nts_nak(a.decision));
    CHECK_FALSE(a.decision.pin_violation);
  }
  SUBCASE("a tampered request") {
    const auto c = nts_client::client(random, server);
    auto req = nts_client::request(random, c, 0);
    req[40] ^= std::byte{0x80};  // the client's transmit timestamp, which the authenticator covers
    const NtsAnswer a = nts_answer(req, nts_snapshot(server), random);
    REQUIRE(a.decision.replied());
    CHECK(nts_nak(a.decision));
  }
}

TEST_CASE("NTS: malformed fields are dropped; with NTS off they are extension fields like any other") {
  std::mt19937_64 random{7822};
  const auto server = nts_client::server(random);
  const auto c = nts_client::client(random, server);
  auto req = nts_client::request(random, c, 0);
  // The authenticator moved before the cookie: out of order.
  nts_client::Bytes reordered(req.begin(), req.begin() + ntp::kHeaderLength);
  nts_client::field(reordered, nts::kUniqueIdentifierField, c.unique_id);
  nts_client::field(reordered, nts::kAuthenticatorField, nts_client::Bytes(36));
  nts_client::field(reordered, nts::kCookieField, c.cookie);
  const NtsAnswer dropped = nts_answer(reordered, nts_snapshot(server), random);
  CHECK_FALSE(dropped.decision.replied());
  CHECK(drop_reason(dropped.decision) == DropReason::bad_nts);

  auto off = nts_snapshot(server);
  off.nts_keys.clear();
  const NtsAnswer plain = nts_answer(req, off, random);
  REQUIRE(plain.decision.replied());
  CHECK_FALSE(nts_time(plain.decision));
  CHECK(plain.decision.reply_length() == ntp::kHeaderLength);
}

TEST_CASE("NTS satisfies a key-required network; without it the request is dropped") {
  std::mt19937_64 random{8573};
  const auto server = nts_client::server(random);
  const ntp::Network everyone{{}, 0};
  const auto c = nts_client::client(random, server);
  const NtsAnswer a = nts_answer(nts_client::request(random, c, 0), nts_snapshot(server), random, &everyone);
  REQUIRE(a.decision.replied());
  CHECK(nts_time(a.decision));
  CHECK(nts_client::open_reply(a.sent, c).size() == 1);
  const NtsAnswer plain = nts_answer(request(4, Mode::client), nts_snapshot(server), random, &everyone);
  CHECK(drop_reason(plain.decision) == DropReason::key_required);
}

TEST_CASE("NTS: the cookie, not the address, keeps a client on its timescale; a pin still wins") {
  std::mt19937_64 random{1305};
  const auto server = nts_client::server(random);
  // Listener 0 serves the timescale NTS names 0x5EA12345, listener 1 the one it names 0x0DD0BEEF;
  // a client is sticky to the timescale it last used for five minutes.
  auto snapshot = nts_snapshot(server);
  snapshot.timescales.push_back(snapshot.timescales[0]);
  snapshot.timescales[1].nts_id = 0x0DD0BEEF;
  snapshot.listener_timescale = {0, 1};
  snapshot.policy.sticky = std::chrono::minutes{5};
  snapshot.policy.mixed_window = std::chrono::minutes{10};
  ntp::ClientHistory history{1024, 7};
  ntp::Authenticator authenticator{nullptr};
  const auto nat = v4(198, 51, 100, 7);
  auto ask = [&](std::span<const std::byte> req, std::uint8_t listener, leapdb::Nanoseconds later) {
    std::array<std::byte, nts::kReplyRandomness> randomness{};
    std::ranges::copy(nts_client::random_bytes(random, randomness.size()), randomness.begin());
    ntp::Tables tables{&history, nullptr, &authenticator, &randomness};
    Answer a;
    a.decision = ntp::handle(ntp::Request{req, nat, listener, kReceived + later, kReceivedUtc + later}, snapshot,
                             tables, a.bytes);
    return a;
  };
  using std::chrono::seconds;

  // A host behind the NAT address takes time from listener 1 without NTS: the address is stuck there.
  REQUIRE(ask(request(4, Mode::client), 1, seconds{0}).decision.replied());
  CHECK(ask(request(4, Mode::client), 0, seconds{1}).decision.sticky_violation);
  // Another host behind it holds a cookie for listener 0's timescale: served there all the same.
  const auto smeared = nts_client::client(random, server, nts::Aead::aes_siv_cmac_256, 0x5EA12345);
  const Answer served = ask(nts_client::request(random, smeared, 0), 0, seconds{2});
  REQUIRE(served.decision.replied());
  CHECK(nts_time(served.decision));
  CHECK_FALSE(served.decision.sticky_violation);
  CHECK(served.decision.mixed);  // the detector still sees both timescales from one address
  // Its cookie on the other listener is sent back to key establishment, not refused as sticky.
  const Answer elsewhere = ask(nts_client::request(random, smeared, 0), 1, seconds{3});
  CHECK(nts_nak(elsewhere.decision));
  CHECK(elsewhere.decision.pin_violation);
  CHECK_FALSE(elsewhere.decision.sticky_violation);

  // An operator's pin is a network's timescale, cookie or not: KoD DENY, no NTS work done.
  snapshot.policy.pins.push_back(ntp::Pin{v4_network(198, 51, 100, 0, 24), 1});
  const Answer pinned = ask(nts_client::request(random, smeared, 0), 0, seconds{4});
  CHECK(kiss(pinned.decision) == ntp::Kiss::deny);
  CHECK_FALSE(nts_time(pinned.decision));
  CHECK(pinned.decision.reply_length() == ntp::kHeaderLength);
}

TEST_CASE("NTS: answering, stamping and sealing allocate nothing, for a reply, a NAK or a drop") {
  std::mt19937_64 random{2036};
  const auto server = nts_client::server(random);
  const auto snapshot = nts_snapshot(server);
  const auto c = nts_client::client(random, server);
  const auto good = nts_client::request(random, c, 2);
  auto tampered = good;
  tampered[40] ^= std::byte{1};
  auto malformed = good;
  malformed.resize(good.size() - 4);
  std::array<std::byte, nts::kReplyRandomness> randomness{};
  ntp::Authenticator authenticator{nullptr};
  const ntp::Tables tables{nullptr, nullptr, &authenticator, &randomness};
  std::array<std::byte, ntp::kMaxReplyLength> reply{};
  const std::array<std::span<const std::byte>, 3> requests{good, tampered, malformed};
  const long before = test_allocations::count.load();
  std::size_t replied = 0;
  for (int i = 0; i < 100; ++i) {
    for (const auto req : requests) {
      const ntp::Decision d = ntp::handle(ntp::Request{req, kClient, 0, kReceived, kReceivedUtc}, snapshot, tables, reply);
      if (!d.replied()) continue;
      ntp::stamp_transmit(reply, kReceived, snapshot.timescales[0]);
      ntp::sign(reply, d, authenticator);
      ++replied;
    }
  }
  CHECK(test_allocations::count.load() == before);
  CHECK(replied == 200);  // time and a NAK each round; the malformed one dropped
}

namespace {

// A request in interleaved mode (RFC 9769): the origin is a receive timestamp of ours.
std::vector<std::byte> interleaved_request(ntp::Timestamp origin, ntp::Timestamp receive) {
  auto req = request(4, Mode::client);
  ntp::Header h = ntp::decode_header(std::span{req}.first<ntp::kHeaderLength>());
  h.origin_time = origin;
  h.receive_time = receive;
  ntp::encode_header(h, std::span{req}.first<ntp::kHeaderLength>());
  return req;
}

}  // namespace

TEST_CASE("interleaved mode: the third reply carries the second's saved transmit timestamp") {
  ntp::InterleavedTable table{64, 1};
  ntp::Tables tables;
  tables.interleaved = &table;
  const ntp::Snapshot snapshot = test_snapshot();
  // A basic first request: nothing to save.
  const Answer first = answer(request(4, Mode::client), snapshot, tables);
  CHECK_FALSE(test_decision::saves_interleaved(first.decision));
  CHECK((first.header().receive_time.fraction & 1u) == 1u);
  // The second echoes the first reply's receive timestamp: no state yet, a basic reply, saved.
  const ntp::Timestamp client_rx{0xE000'0002u, 0x10};
  Answer second = answer(interleaved_request(first.header().receive_time, client_rx), snapshot, tables);
  REQUIRE(test_decision::saves_interleaved(second.decision));
  CHECK_FALSE(test_decision::interleaved_transmit(second.decision).has_value());
  CHECK(second.header().origin_time == kClientTransmit);
  const ntp::Timestamp sent = ntp::stamp_transmit(second.bytes, kReceived, snapshot.timescales[0]);
  CHECK((sent.fraction & 1u) == 0u);
  const ntp::Timestamp kernel{sent.seconds, sent.fraction + 4'000};  // the kernel's, a little later
  table.save(ntp::reply_receive(second.bytes), kClient, sent);
  CHECK(table.update(ntp::reply_receive(second.bytes), kernel));
  // The third gets it, and its origin echoes the request's receive field.
  const ntp::Timestamp client_rx3{0xE000'0003u, 0x20};
  const Answer third = answer(interleaved_request(second.header().receive_time, client_rx3), snapshot, tables);
  REQUIRE(test_decision::interleaved_transmit(third.decision).has_value());
  CHECK(*test_decision::interleaved_transmit(third.decision) == kernel);
  CHECK(third.header().origin_time == client_rx3);
  CHECK(test_decision::saves_interleaved(third.decision));
  // Replayed, it is basic again.
  const Answer replay = answer(interleaved_request(second.header().receive_time, client_rx3), snapshot, tables);
  CHECK_FALSE(test_decision::interleaved_transmit(replay.decision).has_value());
  CHECK(replay.header().origin_time == kClientTransmit);
}

TEST_CASE("interleaved mode: off by policy, for another client, and never in a KoD") {
  ntp::InterleavedTable table{64, 1};
  ntp::Tables tables;
  tables.interleaved = &table;
  const ntp::Timestamp ours = ntp::mark_receive(ntp::Timestamp{0xE000'0001u, 0x100});
  const auto req = interleaved_request(ours, ntp::Timestamp{1, 2});

  ntp::Snapshot off = test_snapshot();
  off.policy.interleaved = false;
  table.save(ours, kClient, ntp::Timestamp{9, 8});
  const Answer basic = answer(req, off, tables);
  CHECK_FALSE(test_decision::saves_interleaved(basic.decision));
  CHECK_FALSE(test_decision::interleaved_transmit(basic.decision).has_value());

  const Answer stranger = answer(req, test_snapshot(), tables, v4(198, 51, 100, 7));
  CHECK_FALSE(test_decision::interleaved_transmit(stranger.decision).has_value());

  ntp::Snapshot denying = test_snapshot();
  denying.policy.access.deny.push_back(v4_network(0, 0, 0, 0, 0));
  denying.policy.access.deny.push_back(ntp::Network{{}, 0});
  const Answer kod = answer(req, denying, tables);
  CHECK(test_decision::kiss(kod.decision) == ntp::Kiss::deny);
  CHECK_FALSE(test_decision::saves_interleaved(kod.decision));
  // Still there for its own client, in a served reply.
  const Answer served = answer(req, test_snapshot(), tables);
  CHECK(test_decision::interleaved_transmit(served.decision) == ntp::Timestamp{9, 8});
}

TEST_CASE("interleaved mode with a MAC: the saved transmit timestamp is what the MAC covers") {
  ntp::Snapshot s = test_snapshot();
  s.keys = test_keys();
  ntp::Authenticator server{s.keys};
  ntp::Authenticator client{test_keys()};
  ntp::InterleavedTable table{64, 1};
  ntp::Tables tables{nullptr, nullptr, &server};
  tables.interleaved = &table;
  const ntp::Timestamp ours = ntp::mark_receive(ntp::Timestamp{0xE000'0001u, 0x100});
  const ntp::Timestamp saved{0xE000'0001u, 0x2000};
  table.save(ours, kClient, saved);
  // An interleaved request (origin = our receive timestamp), signed with key 2 (AES-CMAC).
  auto req = interleaved_request(ours, ntp::Timestamp{0xE000'0001u, 0x300});
  req.resize(48 + 4 + 16);
  const std::size_t index = client.ring()->index_of(2);
  client.sign(client.whole(index), std::span{req}.first(48), std::span{req}.subspan(48));
  Answer a = answer(req, s, tables);
  REQUIRE(test_decision::interleaved_transmit(a.decision) == saved);
  CHECK(a.decision.auth == ntp::AuthResult::ok);
  CHECK(test_decision::mac_key(a.decision) == ntp::MacKey{index, 16});
  ntp::write_transmit(a.bytes, saved);
  ntp::sign(a.bytes, a.decision, server);
  const auto reply = std::span{a.bytes}.first(a.decision.reply_length());
  CHECK(a.header().transmit_time == saved);
  CHECK(a.header().origin_time == ntp::Timestamp{0xE000'0001u, 0x300});
  CHECK(client.verify(reply.first(48), reply.subspan(48)).verdict == ntp::Verdict::ok);
}
