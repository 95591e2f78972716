#include "server/reference/upstream/exchange.hpp"

#include <doctest/doctest.h>

#include "server/ntp/client.hpp"
#include "tests/unit/server/reference/upstream/simulation.hpp"

using namespace std::chrono;
using namespace reference::upstream;
using upstream_test::near;
using upstream_test::reply;

namespace {

const leapdb::LeapTable& table() { return upstream_test::table(); }

// Raw time 1000 s; server UTC 2026-06-01T00:00:00 when the request reaches it.
constexpr leapdb::Nanoseconds kSentRaw = seconds{1000};
const leapdb::UtcTime kServerUtc = leapdb::UtcTime{sys_days{year{2026} / June / 1}};

Request request() { return Request{ntp::Timestamp{0x12345678, 0x9abcdef0}, kSentRaw, kServerUtc - milliseconds{5}}; }

ntp::Header header(leapdb::UtcTime t2, leapdb::UtcTime t3) {
  ntp::Header h;
  h.mode = ntp::Mode::server;
  h.stratum = 2;
  h.precision = -24;
  h.reference_id = 0xC0000201;
  h.root_delay = ntp::to_ntp_short(milliseconds{4});
  h.root_dispersion = ntp::to_ntp_short(milliseconds{2});
  h.reference_time = ntp::to_ntp(t2 - seconds{10});
  h.origin_time = request().nonce;
  h.receive_time = ntp::to_ntp(t2);
  h.transmit_time = ntp::to_ntp(t3);
  return h;
}

Judged judged(const ntp::Header& h, leapdb::Nanoseconds received_raw = kSentRaw + microseconds{300}) {
  const auto bytes = reply(h);
  return judge(bytes, request(), received_raw, kServerUtc, table(), -20);
}

}  // namespace

TEST_CASE("exchange: offset is server TAI minus raw at the middle, delay less the server's time") {
  // 100 us out, 20 us in the server, 180 us back: the path is asymmetric by 80 us.
  const leapdb::UtcTime t2 = kServerUtc;
  const leapdb::UtcTime t3 = t2 + microseconds{20};
  const Judged j = judged(header(t2, t3));
  REQUIRE(j.verdict == Verdict::sample);
  const Measurement& m = j.measurement;
  CHECK(near(m.delay, microseconds{280}));
  CHECK(m.raw == kSentRaw + microseconds{150});
  // The server's middle (t2 + 10 us, TAI 37 s on) against ours (sent + 150 us).
  const leapdb::Nanoseconds tai2 = table().to_tai(t2).time_since_epoch();
  CHECK(near(m.offset, tai2 + microseconds{10} - kSentRaw - microseconds{150}));
  CHECK(m.stratum == 2);
  CHECK(m.reference_id == 0xC0000201);
  CHECK(m.root_delay.count() == doctest::Approx(4e6).epsilon(1e-3));
  CHECK(m.root_dispersion.count() == doctest::Approx(2e6).epsilon(1e-3));
  // 2^-24 + 2^-20 s and 15 ppm of 300 us.
  CHECK(m.error == nanoseconds{59 + 953 + 4});
  CHECK(m.distance() == (m.delay + m.root_delay) / 2 + m.root_dispersion + m.error);
  // On CLOCK_REALTIME our send was 5 ms before the server's receive, our receive at it.
  CHECK(near(m.system_offset, (milliseconds{5} + microseconds{20}) / 2));
}

TEST_CASE("exchange: replies that are not ours are ignored") {
  ntp::Header h = header(kServerUtc, kServerUtc);
  h.origin_time = ntp::Timestamp{1, 2};
  CHECK(judged(h).verdict == Verdict::not_ours);
  h = header(kServerUtc, kServerUtc);
  h.mode = ntp::Mode::client;
  CHECK(judged(h).verdict == Verdict::not_ours);
  const auto bytes = reply(header(kServerUtc, kServerUtc));
  CHECK(judge(std::span{bytes}.first(47), request(), kSentRaw, kServerUtc, table(), -20).verdict == Verdict::not_ours);
}

TEST_CASE("exchange: kiss-o'-death codes") {
  ntp::Header h = header(kServerUtc, kServerUtc);
  h.stratum = 0;
  h.reference_id = 0x52415445;  // RATE
  CHECK(judged(h).verdict == Verdict::rate_limited);
  h.reference_id = 0x44454E59;  // DENY
  CHECK(judged(h).verdict == Verdict::denied);
  h.reference_id = 0x52535452;  // RSTR
  CHECK(judged(h).verdict == Verdict::denied);
  h.reference_id = 0x494E4954;  // INIT
  const Judged j = judged(h);
  CHECK(j.verdict == Verdict::kiss_of_death);
  CHECK(j.kiss == "INIT");
}

TEST_CASE("exchange: an unsynchronized server's time is not used") {
  ntp::Header h = header(kServerUtc, kServerUtc);
  h.leap = ntp::LeapIndicator::unsynchronized;
  CHECK(judged(h).verdict == Verdict::unsynchronized);
  h = header(kServerUtc, kServerUtc);
  h.stratum = 16;
  CHECK(judged(h).verdict == Verdict::unsynchronized);
  h = header(kServerUtc, kServerUtc);
  h.reference_time = {};
  CHECK(judged(h).verdict == Verdict::unsynchronized);
  h = header(kServerUtc, kServerUtc);
  h.root_dispersion = ntp::to_ntp_short(seconds{4});
  CHECK(judged(h).verdict == Verdict::unsynchronized);
}

TEST_CASE("exchange: zero receive or transmit timestamps are refused") {
  ntp::Header h = header(kServerUtc, kServerUtc);
  h.receive_time = {};
  CHECK(judged(h).verdict == Verdict::missing_time);
  h = header(kServerUtc, kServerUtc);
  h.transmit_time = {};
  CHECK(judged(h).verdict == Verdict::missing_time);
  CHECK(to_string(Verdict::missing_time) == "a zero receive or transmit timestamp");
}

TEST_CASE("exchange: a refid that is one of our own addresses is a loop, above stratum 1") {
  const std::uint32_t own[] = {0x7F000001, 0xC0000263, 0x39ab9b37};  // 127.0.0.1, 192.0.2.99, MD5 of 2001:db8::1
  const auto judge_with = [&](const ntp::Header& h) {
    const auto bytes = reply(h);
    return judge(bytes, request(), kSentRaw + microseconds{300}, kServerUtc, table(), -20, own).verdict;
  };
  ntp::Header h = header(kServerUtc, kServerUtc);
  h.reference_id = 0xC0000263;
  CHECK(judge_with(h) == Verdict::loop);
  h.reference_id = 0x39ab9b37;  // an IPv6 address of ours, as ntpd and chrony name it
  CHECK(judge_with(h) == Verdict::loop);
  h.stratum = 3;
  CHECK(judge_with(h) == Verdict::loop);
  h.reference_id = 0xC0000201;  // someone else
  CHECK(judge_with(h) == Verdict::sample);
  // At stratum 1 the refid is ASCII ("\x7f\0\0\x01" could be a reference's name): no loop.
  h.stratum = 1;
  h.reference_id = 0x7F000001;
  CHECK(judge_with(h) == Verdict::sample);
  // Unsynchronized says more than a loop would.
  h.stratum = 2;
  h.leap = ntp::LeapIndicator::unsynchronized;
  CHECK(judge_with(h) == Verdict::unsynchronized);
}

TEST_CASE("exchange: refids that say the server smears") {
  ntp::Header h = header(kServerUtc, kServerUtc);
  h.reference_id = 0x7F7F01FF;  // chrony's smoothtime
  CHECK(judged(h).verdict == Verdict::smeared);
  h.reference_id = 0xFE000123;  // ntpd's leapsmearinterval
  CHECK(judged(h).verdict == Verdict::smeared);
  h.reference_id = 0x7F7F0101;  // chrony's local reference is not smeared
  CHECK(judged(h).verdict == Verdict::sample);
}

TEST_CASE("exchange: timestamps out of order, and within a second of a leap") {
  CHECK(judged(header(kServerUtc, kServerUtc - microseconds{1})).verdict == Verdict::bogus);
  CHECK(judged(header(kServerUtc, kServerUtc), kSentRaw - microseconds{1}).verdict == Verdict::bogus);
  // The server took longer than our round trip.
  CHECK(judged(header(kServerUtc, kServerUtc + milliseconds{1})).verdict == Verdict::bogus);

  const leapdb::UtcTime leap = leapdb::UtcTime{sys_days{year{2017} / January / 1}};
  Request r = request();
  r.sent_realtime = leap;
  for (const leapdb::Nanoseconds at : {-milliseconds{900}, milliseconds{0}, milliseconds{999}}) {
    ntp::Header h = header(leap + at, leap + at);
    const auto bytes = reply(h);
    CHECK(judge(bytes, r, kSentRaw + microseconds{100}, leap, table(), -20).verdict == Verdict::near_leap);
  }
  ntp::Header h = header(leap + seconds{2}, leap + seconds{2});
  const auto bytes = reply(h);
  CHECK(judge(bytes, r, kSentRaw + microseconds{100}, leap, table(), -20).verdict == Verdict::sample);
}

TEST_CASE("exchange: across the 2036 era rollover") {
  const leapdb::UtcTime rollover = leapdb::utc_from_unix_nanoseconds(
      (std::int64_t{1} << 32) * 1'000'000'000 - ntp::kUnixEpochInNtpSeconds * 1'000'000'000);
  const leapdb::UtcTime t2 = rollover + milliseconds{1};
  Request r = request();
  r.sent_realtime = rollover - milliseconds{1};
  const auto bytes = reply(header(t2, t2));
  const Judged j = judge(bytes, r, kSentRaw + microseconds{100}, rollover - milliseconds{1}, table(), -20);
  REQUIRE(j.verdict == Verdict::sample);
  CHECK(near(j.measurement.offset, table().to_tai(t2).time_since_epoch() - kSentRaw - microseconds{50}));
  CHECK(near(j.measurement.system_offset, milliseconds{2}));
}

TEST_CASE("exchange: precision_span") {
  CHECK(precision_span(0) == seconds{1});
  CHECK(precision_span(-1) == milliseconds{500});
  CHECK(precision_span(-20) == nanoseconds{953});
  CHECK(precision_span(-40) == nanoseconds{1});
  CHECK(precision_span(3) == seconds{8});
}
