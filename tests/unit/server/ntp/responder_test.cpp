#include "server/ntp/responder.hpp"

#include <doctest/doctest.h>

#include <random>
#include <vector>

#include "server/ntp/client.hpp"

using ntp::DropReason;
using ntp::Mode;

namespace {

// With no leap table, TAI - UTC is 10 s throughout.
const auto kReceivedUtc = leapdb::utc_from_unix_nanoseconds(1'700'000'000'123'456'789);
const leapdb::TaiTime kReceived{kReceivedUtc.time_since_epoch() + std::chrono::seconds{10}};
const ntp::Timestamp kClientTransmit{0xE000'0001u, 0x1234'5678u};
const ntp::ClientAddress kClient{};

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

Answer answer(std::span<const std::byte> req, const ntp::Snapshot& snapshot = test_snapshot()) {
  Answer a;
  a.decision = ntp::handle(ntp::Request{req, kClient, 0, kReceived}, snapshot, nullptr, a.bytes);
  return a;
}

}  // namespace

TEST_CASE("a client request gets a server reply built from the snapshot") {
  const auto req = request(4, Mode::client);
  const Answer a = answer(req);
  REQUIRE(a.decision.replied());
  CHECK(a.decision.reply_length == 48);
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
  CHECK(h.receive_time == ntp::to_ntp(kReceivedUtc));
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
    CHECK(answer(request(version, Mode::unspecified)).decision.drop_reason == DropReason::unsupported_mode);
  }
}

TEST_CASE("every other mode is dropped, control and private above all") {
  for (const Mode mode : {Mode::symmetric_active, Mode::symmetric_passive, Mode::server, Mode::broadcast,
                          Mode::control, Mode::private_use}) {
    CAPTURE(static_cast<int>(mode));
    const Answer a = answer(request(4, mode));
    CHECK_FALSE(a.decision.replied());
    CHECK(a.decision.drop_reason == DropReason::unsupported_mode);
  }
}

TEST_CASE("versions 0 and 5 to 7 are dropped") {
  for (const std::uint8_t version : std::initializer_list<std::uint8_t>{0, 5, 6, 7}) {
    CAPTURE(version);
    CHECK(answer(request(version, Mode::client)).decision.drop_reason == DropReason::bad_version);
  }
}

TEST_CASE("malformed lengths are dropped with their reason") {
  CHECK(answer(std::vector<std::byte>(47)).decision.drop_reason == DropReason::too_short);
  CHECK(answer(std::vector<std::byte>{}).decision.drop_reason == DropReason::too_short);
  CHECK(answer(request(4, Mode::client, 50)).decision.drop_reason == DropReason::not_word_aligned);
  CHECK(answer(request(4, Mode::client, 52 + 8)).decision.drop_reason == DropReason::bad_mac_length);
  CHECK(answer(request(4, Mode::client, 1500)).decision.drop_reason == DropReason::too_long);
  auto bad_field = request(4, Mode::client, 48 + 32);
  bad_field[48 + 3] = std::byte{12};  // an extension field claiming 12 bytes
  CHECK(answer(bad_field).decision.drop_reason == DropReason::bad_extension_field);
}

TEST_CASE("a MAC we cannot verify is answered with a crypto-NAK") {
  for (const std::size_t mac : {20u, 24u}) {
    CAPTURE(mac);
    auto req = request(3, Mode::client, 48 + mac);
    req[48 + 3] = std::byte{7};  // key id 7
    const Answer a = answer(req);
    REQUIRE(a.decision.replied());
    CHECK(a.decision.reply_length == 52);
    for (std::size_t i = 48; i < 52; ++i) CHECK(a.bytes[i] == std::byte{0});
  }
  // A bare crypto-NAK in a request is not a MAC: plain reply.
  CHECK(answer(request(4, Mode::client, 52)).decision.reply_length == 48);
}

TEST_CASE("unknown extension fields are ignored") {
  auto req = request(4, Mode::client, 48 + 28);
  req[48] = std::byte{0x7A};
  req[48 + 3] = std::byte{28};
  const Answer a = answer(req);
  REQUIRE(a.decision.replied());
  CHECK(a.decision.reply_length == 48);
}

TEST_CASE("stamp_transmit writes only the transmit timestamp") {
  Answer a = answer(request(4, Mode::client));
  const auto before = a.header();
  const auto transmit = kReceived + leapdb::Nanoseconds{25'000};
  ntp::stamp_transmit(a.bytes, transmit, test_snapshot().timescales[0]);
  auto after = a.header();
  CHECK(after.transmit_time == ntp::to_ntp(kReceivedUtc + leapdb::Nanoseconds{25'000}));
  after.transmit_time = before.transmit_time;
  CHECK(after == before);
}

TEST_CASE("random input: never a crash, never a reply longer than the request") {
  std::mt19937_64 random{5905};
  std::uniform_int_distribution<std::size_t> length{0, 1300};
  std::uniform_int_distribution<unsigned> byte{0, 255};
  std::vector<std::byte> req;
  int replies = 0;
  for (int i = 0; i < 100000; ++i) {
    req.resize(i % 4 == 0 ? 48 + 4 * (length(random) % 8) : length(random));
    for (auto& b : req) b = static_cast<std::byte>(byte(random));
    if (i % 2 == 0 && req.size() >= 1) req[0] = static_cast<std::byte>((byte(random) & 0xC0) | (4 << 3) | 3);
    const Answer a = answer(req);
    if (a.decision.replied()) {
      ++replies;
      REQUIRE(a.decision.reply_length <= req.size());
      REQUIRE(a.header().mode == Mode::server);
    }
  }
  CHECK(replies > 1000);  // the generator does reach the reply path
}
