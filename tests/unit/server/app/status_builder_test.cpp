#include "server/app/status_builder.hpp"

#include <doctest/doctest.h>

#include <algorithm>

#include "leapdb/parse.hpp"
#include "smear/profile.hpp"
#include "smear/smearer.hpp"
#include "tests/unit/leapdb/files.hpp"

using namespace std::chrono;

namespace {

const leapdb::UtcTime kNow = leapdb::UtcTime{sys_days{year{2026} / January / 10}} + hours{12};

ntp::Snapshot snapshot(const ntp::ServedQuality& quality, ntp::Correction correction = {}) {
  ntp::Snapshot s = ntp::true_utc_snapshot();
  s.clock.table = std::make_shared<const leapdb::LeapTable>(
      leapdb::parse(test_files::fixture("leap-seconds.list"), "leap-seconds.list").table);
  s.clock.correction = correction;
  s.quality = quality;
  return s;
}

app::StatusInputs inputs(const ntp::Snapshot& snap, reference::Stage stage) {
  app::StatusInputs in;
  in.version = "1.2.3";
  in.snapshot = &snap;
  in.reading = kNow;
  in.reference_type = "shm";
  in.stage = stage;
  in.estimate.last_update = kNow - seconds{1};
  in.leap_files_configured = true;
  in.leap_table_loaded = true;
  in.workers_running = true;
  reference::SourceReport shm;
  shm.name = "SHM(0)";
  shm.state = reference::SourceState::selected;
  shm.reach = 0x7f;
  shm.offset = microseconds{-12};
  in.sources = {shm};
  return in;
}

ntp::ServedQuality synchronized_quality(const ntp::Snapshot& base) {
  ntp::ServedQuality q;
  q.stratum = 1;
  q.reference_id = 0x4750'5300;
  q.dispersion = microseconds{100};
  q.last_update = base.clock.to_tai(kNow) - seconds{10};
  q.synchronized_until = q.last_update + hours{1};
  return q;
}

}  // namespace

TEST_CASE("a synchronized refclock: served fields are what replies say now, and the table's state") {
  const ntp::Snapshot base = snapshot({});
  const ntp::Snapshot snap = snapshot(synchronized_quality(base), {kNow, microseconds{250}, {}});
  const metrics::Status s = app::build_status(inputs(snap, reference::Stage::synchronized));
  CHECK(s.version == "1.2.3");
  CHECK(s.reference_type == "shm");
  CHECK(s.reference_stage == "synchronized");
  CHECK(s.reference_synchronized);
  CHECK(s.reference_reachable);
  CHECK(s.reference_offset_seconds == doctest::Approx(250e-6));
  CHECK(s.served_stratum == 1);
  CHECK(s.refid == "GPS");
  // 100 µs at the update plus 15 ppm of the 10 s since: 250 µs (to the 15 µs of NTP short format).
  CHECK(s.root_dispersion_seconds == doctest::Approx(250e-6).epsilon(0.1));
  CHECK(s.reference_error_bound_seconds == s.root_dispersion_seconds);
  REQUIRE(s.reference_last_update.has_value());
  CHECK(*s.reference_last_update == doctest::Approx(std::chrono::duration<double>(kNow.time_since_epoch()).count() - 10 + 250e-6));
  CHECK_FALSE(s.holdover_ends.has_value());
  CHECK(s.tai_offset == 37);
  CHECK(s.leap_table_valid);  // the fixture expires on 2026-06-28
  CHECK(s.sources.size() == 1);
  CHECK(s.sources[0].state == "selected");
  CHECK(s.sources[0].offset_seconds == doctest::Approx(-12e-6));
  CHECK(s.not_ready.empty());
}

TEST_CASE("holdover says when it ends; unsynchronized is not ready and says why") {
  const ntp::Snapshot base = snapshot({});
  ntp::ServedQuality q = synchronized_quality(base);
  const ntp::Snapshot held = snapshot(q);
  auto in = inputs(held, reference::Stage::holdover);
  const metrics::Status h = app::build_status(in);
  CHECK(h.reference_stage == "holdover");
  CHECK_FALSE(h.reference_synchronized);
  REQUIRE(h.holdover_ends.has_value());
  CHECK(*h.holdover_ends == doctest::Approx(std::chrono::duration<double>(kNow.time_since_epoch()).count() - 10 + 3600));

  q.synchronized_until = q.last_update;
  const ntp::Snapshot lost = snapshot(q);
  in = inputs(lost, reference::Stage::unsynchronized);
  in.leap_files_configured = false;
  in.leap_table_loaded = false;
  const metrics::Status u = app::build_status(in);
  CHECK(u.served_stratum == 16);
  CHECK(u.refid == "0.0.0.0");
  REQUIRE(u.not_ready.size() == 1);
  CHECK(u.not_ready[0].find("the reference (shm) is unsynchronized: replies say LI=3, stratum 16; last good sample") == 0);

  q.local_stratum = 10;
  const ntp::Snapshot local = snapshot(q);
  const metrics::Status l = app::build_status(inputs(local, reference::Stage::local));
  CHECK(l.reference_stage == "local");
  CHECK(l.served_stratum == 10);
  CHECK(l.refid == "127.127.1.1");  // chrony's local refid, an address as refids above stratum 1 are
}

TEST_CASE("a stopped worker is unhealthy and not ready") {
  const ntp::Snapshot snap = snapshot(synchronized_quality(snapshot({})));
  auto in = inputs(snap, reference::Stage::synchronized);
  in.workers_running = false;
  const metrics::Status s = app::build_status(in);
  CHECK_FALSE(s.healthy);
  CHECK(std::find(s.not_ready.begin(), s.not_ready.end(), std::string{"a worker thread has stopped"}) != s.not_ready.end());
}

TEST_CASE("a rehearsal's offset is from true UTC, as its clients get it; its progress is its own") {
  ntp::Snapshot snap = snapshot({});
  const leapdb::UtcTime leap_at = kNow - hours{1};  // an hour after a rehearsed inserted second
  const auto profile = smear::parse_profile("linear:window=600,anchor=center").profile;
  REQUIRE(profile.has_value());
  for (const int sign : {+1, -1}) {
    CAPTURE(sign);
    const leapdb::LeapTable rehearsed = leapdb::with_extra_leap(*snap.clock.table, leap_at, sign);
    auto made = smear::Smearer::make(rehearsed, *profile);
    REQUIRE(made.smearer.has_value());
    snap.timescales = {ntp::TimescaleView{"rehearse", std::make_shared<const smear::Smearer>(std::move(*made.smearer)),
                                          ntp::RefidConvention::ntpd, true, {}, {}}};
    const leapdb::TaiTime tai = snap.clock.to_tai(kNow);
    const auto statuses = app::timescale_statuses(snap, tai);
    REQUIRE(statuses.size() == 1);
    CHECK(statuses[0].rehearsal);
    // The rehearsed second was absorbed: served time is a second behind real UTC (ahead for a
    // deleted one), which is what the dashboard and the fleet-spread alert must see.
    CHECK(statuses[0].offset_seconds == doctest::Approx(-sign));
    CHECK(statuses[0].progress == 1);
    CHECK_FALSE(statuses[0].active);
  }
}

TEST_CASE("talkers as /status shows them: IPv4 dotted, IPv6 compressed, last seen in Unix seconds") {
  std::array<std::uint8_t, 16> mapped{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1};
  std::array<std::uint8_t, 16> six{0x20, 0x01, 0x0d, 0xb8};
  six[15] = 1;
  std::array<std::uint8_t, 16> compatible{};  // ::192.0.2.1 is IPv6, not IPv4
  compatible[12] = 192;
  compatible[14] = 2;
  compatible[15] = 1;
  CHECK(app::address_text(mapped) == "192.0.2.1");
  CHECK(app::address_text(six) == "2001:db8::1");
  CHECK(app::address_text(compatible) == "::192.0.2.1");
  const auto rows = app::client_statuses({{mapped, 7, 1, 2, kNow}, {six, 3, 0, 0, kNow + seconds{1}}});
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].address == "192.0.2.1");
  CHECK(rows[0].requests == 7);
  CHECK(rows[0].kod == 1);
  CHECK(rows[0].rate_limited == 2);
  CHECK(rows[0].last_seen == duration<double>(kNow.time_since_epoch()).count());
  CHECK(rows[1].address == "2001:db8::1");
}
