// The responder's timescale policy: pins, sticky mode, the mixed-client detector, KoD DENY,
// and how smeared and true-UTC timescales mark their replies.
#include <doctest/doctest.h>

#include "leapdb/parse.hpp"
#include "server/ntp/client.hpp"
#include "server/ntp/responder.hpp"
#include "tests/unit/leapdb/files.hpp"
#include "tests/unit/server/ntp/decision.hpp"

using namespace std::chrono;
using ntp::LeapIndicator;

using namespace test_decision;

namespace {

leapdb::UtcTime utc(int y, unsigned m, unsigned d, int hh = 0) {
  return leapdb::UtcTime{sys_days{year{y} / month{m} / day{d}}} + hours{hh};
}

std::shared_ptr<const smear::Smearer> smearer(const leapdb::LeapTable& table, const char* profile) {
  auto made = smear::Smearer::make(table, smear::parse_profile(profile).profile.value());
  return std::make_shared<const smear::Smearer>(std::move(made.smearer.value()));
}

// Listener 0 serves "google" (smeared), listener 1 "utc"; 10.0.0.0/8 is pinned to utc.
ntp::Snapshot two_timescales(bool deny = true, leapdb::Nanoseconds sticky = {}) {
  static const auto table = std::make_shared<const leapdb::LeapTable>(
      leapdb::parse(test_files::fixture("leap-seconds.list"), "leap-seconds.list").table);
  ntp::Snapshot s;
  s.quality.reference_id = 0x4750'5300;
  s.clock.table = table;
  s.timescales.push_back({"google", smearer(*table, "google"), ntp::RefidConvention::ntpd, false, {}, {}});
  s.timescales.push_back({"utc", smearer(*table, "none"), ntp::RefidConvention::reference, false, {}, {}});
  s.listener_timescale = {0, 1};
  s.policy.pins.push_back(ntp::Pin{{{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 0}, 104}, 1});
  s.policy.deny = deny;
  s.policy.sticky = sticky;
  s.policy.mixed_window = minutes{10};
  return s;
}

ntp::ClientAddress v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
  return ntp::ClientAddress{{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a, b, c, d}, 123};
}

struct Exchange {
  ntp::Decision decision;
  ntp::Header reply;
};

Exchange ask(const ntp::Snapshot& s, std::uint8_t listener, const ntp::ClientAddress& client, leapdb::UtcTime when,
             ntp::ClientHistory* history = nullptr) {
  const auto request = ntp::build_client_request(ntp::Timestamp{1, 2});
  std::array<std::byte, ntp::kMaxReplyLength> reply{};
  Exchange e;
  e.decision = ntp::handle(ntp::Request{request, client, listener, s.clock.to_tai(when)}, s, {history}, reply);
  e.reply = ntp::decode_header(std::span{reply}.first<ntp::kHeaderLength>());
  return e;
}

}  // namespace

TEST_CASE("each listener serves its own timescale from the same TAI instant") {
  const auto s = two_timescales();
  const auto noon_plus_6 = utc(2016, 12, 31, 18);
  const auto smeared = ask(s, 0, v4(192, 0, 2, 1), noon_plus_6);
  const auto true_utc = ask(s, 1, v4(192, 0, 2, 1), noon_plus_6);
  const auto gap = ntp::difference(true_utc.reply.receive_time, smeared.reply.receive_time);
  CHECK(std::abs(gap.count() - 249'997'107) <= 1);  // 21600/86401 s behind
  CHECK(smeared.reply.leap == LeapIndicator::none);
  CHECK(true_utc.reply.leap == LeapIndicator::insert);  // the last day before the leap
  // During the smear the ntpd convention marks the refid: 254.x.y.z, offset in 2.22 fixed point.
  CHECK(smeared.reply.reference_id == ntp::ntpd_smear_refid(-nanoseconds{249'997'107}));
  CHECK((smeared.reply.reference_id >> 24) == 0xFE);
  CHECK(true_utc.reply.reference_id == 0x4750'5300);
  // Outside the smear, the reference's refid.
  CHECK(ask(s, 0, v4(192, 0, 2, 1), utc(2016, 12, 30)).reply.reference_id == 0x4750'5300);
}

TEST_CASE("refid conventions") {
  CHECK(ntp::ntpd_smear_refid(milliseconds{-500}) == 0xFEE0'0000u);  // -0.5 * 2^22 = -0x200000
  CHECK(ntp::ntpd_smear_refid(milliseconds{250}) == 0xFE10'0000u);
  CHECK(ntp::ntpd_smear_refid(nanoseconds{0}) == 0xFE00'0000u);
  auto s = two_timescales();
  s.timescales[0].refid = ntp::RefidConvention::chrony;
  CHECK(ask(s, 0, v4(192, 0, 2, 1), utc(2016, 12, 31, 18)).reply.reference_id == ntp::kChronySmearRefid);
  s.timescales[0].refid = ntp::RefidConvention::reference;
  CHECK(ask(s, 0, v4(192, 0, 2, 1), utc(2016, 12, 31, 18)).reply.reference_id == 0x4750'5300);
}

TEST_CASE("a pinned client asking another timescale gets KoD DENY, or nothing") {
  const auto s = two_timescales();
  const auto pinned = v4(10, 1, 2, 3);
  const auto ok = ask(s, 1, pinned, utc(2016, 12, 31, 18));
  CHECK(ok.decision.replied());
  CHECK_FALSE(ok.decision.pin_violation);
  CHECK(ok.reply.stratum == 1);
  const auto denied = ask(s, 0, pinned, utc(2016, 12, 31, 18));
  CHECK(denied.decision.replied());
  CHECK(kiss(denied.decision) == ntp::Kiss::deny);
  CHECK(denied.decision.pin_violation);
  CHECK(denied.reply.stratum == 0);
  CHECK(denied.reply.reference_id == ntp::kKissDeny);
  CHECK(denied.reply.leap == LeapIndicator::unsynchronized);
  CHECK(ntp::format_reference_id(0, denied.reply.reference_id) == "DENY");

  const auto dropped = ask(two_timescales(false), 0, pinned, utc(2016, 12, 31, 18));
  CHECK_FALSE(dropped.decision.replied());
  CHECK(drop_reason(dropped.decision) == ntp::DropReason::wrong_timescale);
  CHECK(dropped.decision.pin_violation);
  // Unpinned clients may use either listener.
  CHECK(ask(s, 0, v4(11, 0, 0, 1), utc(2016, 12, 31, 18)).decision.replied());
}

TEST_CASE("the mixed-client detector and sticky mode") {
  ntp::ClientHistory history{1024, 7};
  const auto client = v4(192, 0, 2, 9);
  const auto t = utc(2016, 12, 31, 18);
  auto s = two_timescales();
  CHECK_FALSE(ask(s, 0, client, t, &history).decision.mixed);
  CHECK_FALSE(ask(s, 0, client, t + seconds{1}, &history).decision.mixed);
  const auto other = ask(s, 1, client, t + seconds{2}, &history);
  CHECK(other.decision.mixed);
  CHECK(other.decision.other_timescale == 0);
  CHECK(other.decision.replied());  // not sticky: served, and now on utc
  // Long after the window, a switch is not "mixed".
  CHECK_FALSE(ask(s, 0, client, t + minutes{30}, &history).decision.mixed);
  CHECK_FALSE(ask(s, 0, v4(192, 0, 2, 10), t, &history).decision.mixed);  // another client

  ntp::ClientHistory sticky_history{1024, 7};
  const auto sticky = two_timescales(true, minutes{5});
  CHECK(ask(sticky, 1, client, t, &sticky_history).decision.replied());
  const auto refused = ask(sticky, 0, client, t + seconds{10}, &sticky_history);
  CHECK(refused.decision.sticky_violation);
  CHECK(kiss(refused.decision) == ntp::Kiss::deny);
  // The refusal does not move the client: it is still stuck to utc, and utc still serves it.
  CHECK(ask(sticky, 1, client, t + seconds{20}, &sticky_history).reply.stratum == 1);
  CHECK(ask(sticky, 0, client, t + seconds{30}, &sticky_history).decision.sticky_violation);
  // Once the sticky time has passed without it, the client may move.
  CHECK_FALSE(ask(sticky, 0, client, t + minutes{6}, &sticky_history).decision.sticky_violation);
}

TEST_CASE("a clock stepped back, or workers out of order, read as just now; clear() forgets") {
  ntp::ClientHistory history{1024, 3};
  const auto client = v4(192, 0, 2, 20);
  const leapdb::TaiTime t{seconds{1'700'000'000}};
  history.record(client, 1, t);
  const auto earlier = history.last(client, t - seconds{5});
  CHECK(earlier.known);
  CHECK(earlier.age.count() == 0);
  CHECK(history.last(client, t + seconds{7}).age == seconds{7});
  history.clear();
  CHECK_FALSE(history.last(client, t).known);
}

TEST_CASE("a client recorded under another timescale set reads as unknown until purged") {
  ntp::ClientHistory history{1024, 5};
  const auto old_client = v4(192, 0, 2, 30);
  const auto new_client = v4(192, 0, 2, 31);
  const leapdb::TaiTime t{seconds{1'700'000'000}};
  history.record(history.place(old_client, 3), 1, t);
  CHECK(history.last(history.place(old_client, 3), t).known);
  CHECK_FALSE(history.last(history.place(old_client, 4), t).known);
  // A worker still on generation 3 records after the reload: generation 4 never sees it.
  history.record(history.place(new_client, 4), 0, t);
  history.record(history.place(old_client, 3), 1, t + seconds{1});
  CHECK_FALSE(history.last(history.place(old_client, 4), t + seconds{1}).known);
  CHECK(history.purge(4) == 1);
  CHECK_FALSE(history.last(history.place(old_client, 3), t).known);
  CHECK(history.last(history.place(new_client, 4), t).timescale == 0);
  // Generations wrap: 20 is 4.
  CHECK(history.last(history.place(new_client, 20), t).known);
  CHECK(history.purge(20) == 0);
}

TEST_CASE("after a reload changes the timescale set, a stale worker cannot make a client look stuck") {
  const auto client = v4(192, 0, 2, 40);
  ntp::ClientHistory history{1024, 9};
  ntp::Snapshot before = two_timescales(true, minutes{5});
  before.policy.pins.clear();
  ntp::Snapshot after = before;
  std::swap(after.timescales[0], after.timescales[1]);  // index 0 now names utc
  after.listener_timescale = {1, 0};
  after.history_generation = 1;
  const auto t = utc(2016, 6, 1);
  // On the old snapshot the client asks "google" (index 0), after the reload "google" is index 1.
  CHECK(ask(before, 0, client, t, &history).decision.replied());
  CHECK_FALSE(ask(after, 0, client, t + seconds{1}, &history).decision.sticky_violation);
  CHECK(ask(before, 0, client, t + seconds{2}, &history).decision.replied());  // a late old-snapshot worker
  CHECK_FALSE(ask(after, 0, client, t + seconds{3}, &history).decision.sticky_violation);
  CHECK(ask(after, 1, client, t + seconds{4}, &history).decision.sticky_violation);  // but stuck it is
}

TEST_CASE("the client history is bounded and forgets on collision, never grows") {
  ntp::ClientHistory history{1024, 99};
  CHECK(history.size_bytes() == 8192);
  const leapdb::TaiTime now{seconds{1'700'000'000}};
  int remembered = 0;
  for (std::uint32_t i = 0; i < 100'000; ++i) {
    history.record(v4(10, static_cast<std::uint8_t>(i >> 16), static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i)),
                   static_cast<std::uint8_t>(i % 3), now);
  }
  for (std::uint32_t i = 0; i < 100'000; ++i) {
    const auto seen = history.last(
        v4(10, static_cast<std::uint8_t>(i >> 16), static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i)), now);
    if (seen.known) {
      ++remembered;
      CHECK(seen.timescale == i % 3);
    }
  }
  CHECK(remembered <= 1024);
  CHECK(remembered > 900);
}

TEST_CASE("network matching") {
  const ntp::Network slash16{{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 0, 0}, 112};  // 10.1.0.0/16
  CHECK(ntp::in_network(slash16, v4(10, 1, 200, 3).ip));
  CHECK_FALSE(ntp::in_network(slash16, v4(10, 2, 0, 1).ip));
  const ntp::Network v6{{0x20, 0x01, 0x0d, 0xb8, 0x80}, 33};  // 2001:db8:8000::/33
  CHECK(ntp::in_network(v6, {0x20, 0x01, 0x0d, 0xb8, 0x80, 1}));
  CHECK_FALSE(ntp::in_network(v6, {0x20, 0x01, 0x0d, 0xb8, 0x7f}));
  const ntp::Network all_v4{{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff}, 96};  // 0.0.0.0/0
  CHECK(ntp::in_network(all_v4, v4(192, 0, 2, 1).ip));
  CHECK_FALSE(ntp::in_network(all_v4, {0x20, 0x01}));  // IPv4 only
}

TEST_CASE("the steady shortcuts in a snapshot give byte-identical replies") {
  const ntp::Snapshot plain = two_timescales();
  const leapdb::UtcTime leap = utc(2017, 1, 1);
  // Every 23 minutes from 40 h before to 40 h after, and every quarter second around the leap
  // second and around the start of true UTC's announcement (24 h before).
  std::vector<leapdb::Nanoseconds> offsets;
  for (minutes offset = -hours{40}; offset <= hours{40}; offset += minutes{23}) offsets.push_back(offset);
  for (const leapdb::Nanoseconds around : {leapdb::Nanoseconds{0}, leapdb::Nanoseconds{-hours{24}}}) {
    for (milliseconds d = -seconds{3}; d <= seconds{3}; d += milliseconds{250}) offsets.push_back(around + d);
  }
  for (const leapdb::Nanoseconds offset : offsets) {
    // The control thread computes the shortcuts at `anchor`; requests arrive up to a minute
    // later, some past where the shortcut ends.
    const leapdb::UtcTime anchor = leap + offset;
    ntp::Snapshot fast = plain;
    fast.clock.steady = fast.clock.steady_around(anchor);
    for (ntp::TimescaleView& view : fast.timescales) view.steady = view.smearer->steady_around(fast.clock.to_tai(anchor));
    for (const milliseconds later : {milliseconds{0}, milliseconds{300}, milliseconds{1000}, milliseconds{59000}}) {
      const leapdb::UtcTime when = anchor + later;
      const leapdb::TaiTime tai = fast.clock.steady.contains(when) ? fast.clock.steady.to_tai(when)
                                                                    : fast.clock.to_tai(when);
      REQUIRE(tai == plain.clock.to_tai(when));
      for (std::uint8_t listener : {std::uint8_t{0}, std::uint8_t{1}}) {
        const auto request = ntp::build_client_request(ntp::Timestamp{1, 2});
        std::array<std::byte, ntp::kMaxReplyLength> with{}, without{};
        ntp::handle(ntp::Request{request, v4(192, 0, 2, 1), listener, tai}, fast, {}, with);
        ntp::handle(ntp::Request{request, v4(192, 0, 2, 1), listener, tai}, plain, {}, without);
        ntp::stamp_transmit(with, tai + milliseconds{3}, fast.timescales[listener]);
        ntp::stamp_transmit(without, tai + milliseconds{3}, plain.timescales[listener]);
        CAPTURE(leapdb::format_rfc3339(when));
        CHECK(with == without);
      }
    }
  }
}

TEST_CASE("a client history of any size uses every slot and no more") {
  for (const std::size_t size : {1u, 3u, 1000u, 349'525u}) {  // e.g. 2^20 slots split between 3 workers
    CAPTURE(size);
    ntp::ClientHistory history{size, 7};
    CHECK(history.size_bytes() == size * 8);
    const leapdb::TaiTime now{seconds{1'700'000'000}};
    std::size_t remembered = 0;
    const std::uint32_t clients = static_cast<std::uint32_t>(size) * 8 + 8;
    for (std::uint32_t i = 0; i < clients; ++i) {
      history.record(v4(10, static_cast<std::uint8_t>(i >> 16), static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i)), 1,
                     now);
    }
    for (std::uint32_t i = 0; i < clients; ++i) {
      remembered += history.last(v4(10, static_cast<std::uint8_t>(i >> 16), static_cast<std::uint8_t>(i >> 8),
                                    static_cast<std::uint8_t>(i)),
                                 now)
                            .known
                        ? 1u
                        : 0u;
    }
    // Eight times as many clients as slots fill nearly every slot (1 - e^-8), and never more.
    CHECK(remembered <= size);
    CHECK(static_cast<double>(remembered) >= 0.99 * static_cast<double>(size));
  }
}
