#include "server/reference/shm.hpp"

#include <doctest/doctest.h>

#include <functional>
#include <memory>

#include "leapdb/parse.hpp"
#include "server/reference/quality.hpp"
#include "tests/unit/leapdb/files.hpp"

using namespace std::chrono;
using leapdb::Nanoseconds;
using leapdb::UtcTime;
using reference::Notice;
using reference::ShmRead;
using reference::ShmTime;

namespace {

const leapdb::LeapTable& table() { return test_files::leap_table(); }

// TAI-UTC is 37 s.
const UtcTime kStart = UtcTime{sys_days{year{2026} / March / 1}} + hours{12};
const std::uint32_t kRefid = 0x53484d30;  // "SHM0"

// A segment in ordinary memory. `during_copy` plays a writer that runs between the reader's two
// reads of count.
struct Segment {
  ShmTime shm{};
  std::function<void(ShmTime&)> during_copy;
  int clears = 0;
};

class FakeSegment final : public reference::ShmSegment {
 public:
  explicit FakeSegment(Segment& segment) : segment_(segment) {}
  int count() override { return segment_.shm.count; }
  ShmTime copy() override {
    const ShmTime t = segment_.shm;
    if (segment_.during_copy) segment_.during_copy(segment_.shm);
    return t;
  }
  void clear_valid() override {
    segment_.shm.valid = 0;
    ++segment_.clears;
  }

 private:
  Segment& segment_;
};

std::time_t seconds_of(UtcTime t) { return static_cast<std::time_t>(floor<seconds>(t).time_since_epoch().count()); }
unsigned nanoseconds_of(UtcTime t) { return static_cast<unsigned>((t - floor<seconds>(t)).count()); }

// What gpsd's writer does, in mode 1: valid off, count up, the fields, count up, valid on.
void write(ShmTime& shm, UtcTime clock, UtcTime received, int leap = 0, int precision = -20, int mode = 1) {
  shm.mode = mode;
  shm.valid = 0;
  ++shm.count;
  shm.clockTimeStampSec = seconds_of(clock);
  shm.clockTimeStampNSec = nanoseconds_of(clock);
  shm.clockTimeStampUSec = static_cast<int>(shm.clockTimeStampNSec / 1000);
  shm.receiveTimeStampSec = seconds_of(received);
  shm.receiveTimeStampNSec = nanoseconds_of(received);
  shm.receiveTimeStampUSec = static_cast<int>(shm.receiveTimeStampNSec / 1000);
  shm.leap = leap;
  shm.precision = precision;
  shm.nsamples = 3;
  ++shm.count;
  shm.valid = 1;
}

reference::Tick tick(UtcTime at) { return reference::Tick{table(), at, seconds{100}, reference::KernelClockStatus{}}; }

std::unique_ptr<reference::Source> shm_source(Segment& segment) {
  return reference::make_shm_source(std::make_unique<FakeSegment>(segment), {0, kRefid});
}

std::vector<std::string> events(reference::Source& source) {
  std::vector<std::string> out;
  for (const Notice& n : source.take_notices()) out.push_back(n.event);
  return out;
}

}  // namespace

TEST_CASE("SHM handshake: valid 0 is nothing new, and the segment is left alone") {
  Segment segment;
  write(segment.shm, kStart, kStart);
  segment.shm.valid = 0;
  FakeSegment fake{segment};
  CHECK(reference::read_shm(fake).status == ShmRead::Status::empty);
  CHECK(segment.clears == 0);
}

TEST_CASE("SHM handshake: mode 1, a consistent read takes the sample once") {
  Segment segment;
  const UtcTime received = kStart + nanoseconds{123'456'789};
  write(segment.shm, received + milliseconds{250}, received, 0, -13);
  FakeSegment fake{segment};
  const ShmRead got = reference::read_shm(fake);
  REQUIRE(got.status == ShmRead::Status::sample);
  CHECK(got.sample.received == received);
  CHECK(std::get<UtcTime>(got.sample.reference) == received + milliseconds{250});
  CHECK(got.sample.leap == reference::LeapWarning::none);
  CHECK(got.sample.precision == -13);
  CHECK(segment.shm.valid == 0);
  CHECK(reference::read_shm(fake).status == ShmRead::Status::empty);
}

TEST_CASE("SHM handshake: mode 1, count changing mid-read is a torn read, retried at the next poll") {
  Segment segment;
  write(segment.shm, kStart + seconds{1}, kStart);
  // The writer starts its next update while the reader copies.
  segment.during_copy = [](ShmTime& shm) { ++shm.count; };
  FakeSegment fake{segment};
  CHECK(reference::read_shm(fake).status == ShmRead::Status::torn);
  CHECK(segment.clears == 0);
  CHECK(segment.shm.valid == 1);

  segment.during_copy = nullptr;
  const ShmRead again = reference::read_shm(fake);
  REQUIRE(again.status == ShmRead::Status::sample);
  CHECK(std::get<UtcTime>(again.sample.reference) == kStart + seconds{1});
  CHECK(segment.clears == 1);
}

TEST_CASE("SHM handshake: mode 0 reads whenever valid, count or not") {
  Segment segment;
  write(segment.shm, kStart + seconds{1}, kStart, 0, -20, 0);
  segment.during_copy = [](ShmTime& shm) { ++shm.count; };
  FakeSegment fake{segment};
  const ShmRead got = reference::read_shm(fake);
  REQUIRE(got.status == ShmRead::Status::sample);
  CHECK(got.sample.received == kStart);
  CHECK(segment.shm.valid == 0);
}

TEST_CASE("SHM handshake: an unknown mode is refused and not written to") {
  Segment segment;
  write(segment.shm, kStart, kStart, 0, -20, 7);
  FakeSegment fake{segment};
  const ShmRead got = reference::read_shm(fake);
  CHECK(got.status == ShmRead::Status::refused);
  CHECK(got.why == "the segment is in mode 7 (only modes 0 and 1 are defined)");
  CHECK(segment.clears == 0);
}

TEST_CASE("SHM handshake: the nanosecond fields count only when both agree with the microseconds") {
  Segment segment;
  FakeSegment fake{segment};
  const UtcTime received = kStart + nanoseconds{500'000'001};
  const UtcTime clock = kStart + seconds{1} + nanoseconds{999};

  SUBCASE("agreeing: nanoseconds") {
    write(segment.shm, clock, received);
    const ShmRead got = reference::read_shm(fake);
    REQUIRE(got.status == ShmRead::Status::sample);
    CHECK(got.sample.received == received);
    CHECK(std::get<UtcTime>(got.sample.reference) == clock);
  }
  SUBCASE("a writer that predates them leaves them zero: microseconds") {
    write(segment.shm, clock, received);
    segment.shm.clockTimeStampNSec = 0;
    segment.shm.receiveTimeStampNSec = 0;
    const ShmRead got = reference::read_shm(fake);
    REQUIRE(got.status == ShmRead::Status::sample);
    CHECK(got.sample.received == kStart + microseconds{500'000});
    CHECK(std::get<UtcTime>(got.sample.reference) == kStart + seconds{1});
  }
  SUBCASE("one pair disagreeing: microseconds for both") {
    write(segment.shm, clock + microseconds{7}, received);
    segment.shm.receiveTimeStampNSec = 12;
    const ShmRead got = reference::read_shm(fake);
    REQUIRE(got.status == ShmRead::Status::sample);
    CHECK(got.sample.received == kStart + microseconds{500'000});
    CHECK(std::get<UtcTime>(got.sample.reference) == kStart + seconds{1} + microseconds{7});
  }
}

TEST_CASE("SHM handshake: leap indicators") {
  Segment segment;
  FakeSegment fake{segment};
  write(segment.shm, kStart, kStart, 1);
  CHECK(reference::read_shm(fake).sample.leap == reference::LeapWarning::insert);
  write(segment.shm, kStart, kStart, 2);
  CHECK(reference::read_shm(fake).sample.leap == reference::LeapWarning::remove);

  // gpsd's alarm before it has a fix: refused, and taken so it is not read again.
  write(segment.shm, kStart, kStart, 3);
  const ShmRead alarm = reference::read_shm(fake);
  CHECK(alarm.status == ShmRead::Status::refused);
  CHECK(alarm.why.find("leap indicator 3") == 0);
  CHECK(segment.shm.valid == 0);

  write(segment.shm, kStart, kStart, 5);
  const ShmRead bad = reference::read_shm(fake);
  CHECK(bad.status == ShmRead::Status::refused);
  CHECK(bad.why == "leap 5 is no NTP leap indicator");
}

TEST_CASE("SHM handshake: fields out of range are refused; precision is clamped") {
  Segment segment;
  FakeSegment fake{segment};
  write(segment.shm, kStart, kStart);
  segment.shm.receiveTimeStampUSec = 1'000'000;
  CHECK(reference::read_shm(fake).why == "the segment's microsecond fields are out of range");
  write(segment.shm, kStart, kStart);
  segment.shm.clockTimeStampSec = -5;
  CHECK(reference::read_shm(fake).why == "the segment's times are out of range");
  write(segment.shm, kStart, kStart, 0, -99);
  CHECK(reference::read_shm(fake).sample.precision == -30);
  write(segment.shm, kStart, kStart, 0, 4);
  CHECK(reference::read_shm(fake).sample.precision == 0);
}

TEST_CASE("SHM source: gpsd-like samples at 1 Hz, the reference 250 ms ahead of the system clock") {
  Segment segment;
  auto source = shm_source(segment);
  reference::Estimate e;
  for (int i = 0; i < 6; ++i) {
    const UtcTime received = kStart + seconds{i};
    write(segment.shm, received + milliseconds{250}, received);
    e = source->poll(tick(received + milliseconds{300}));
  }
  const UtcTime last = kStart + seconds{5};
  CHECK(e.tracking);
  CHECK(e.line.of(last) == milliseconds{250});
  CHECK(e.line.rate == leapdb::Rate{});
  REQUIRE(e.last_update.has_value());
  CHECK(*e.last_update == last);
  CHECK(e.dispersion == reference::RefclockSource::precision_error(-20));
  CHECK(e.dispersion == nanoseconds{954});
  CHECK(e.stratum == 0);
  CHECK(e.reference_id == kRefid);
  CHECK(e.precision == -20);
  CHECK(e.leap == reference::LeapWarning::none);

  const auto rows = source->report();
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].name == "SHM(0)");
  CHECK(rows[0].state == reference::SourceState::selected);
  CHECK(rows[0].reach == 0b111111);
  CHECK(rows[0].offset == milliseconds{250});
  CHECK(rows[0].error == nanoseconds{954});
  CHECK(rows[0].last_sample == last);
  CHECK(rows[0].why.empty());
  CHECK(events(*source) == std::vector<std::string>{"refclock_reachable"});

  // A poll between samples (the segment already read) gets nothing, and still tracks.
  e = source->poll(tick(last + milliseconds{800}));
  CHECK(e.tracking);
  CHECK(source->report()[0].reach == 0b1111110);
  CHECK(events(*source).empty());
}

TEST_CASE("SHM source: when samples stop it stops tracking after 4 s, and the daemon's holdover takes over") {
  Segment segment;
  auto source = shm_source(segment);
  for (int i = 0; i < 5; ++i) {
    const UtcTime received = kStart + seconds{i};
    write(segment.shm, received + milliseconds{100}, received);
    source->poll(tick(received + milliseconds{300}));
  }
  (void)source->take_notices();
  const UtcTime last = kStart + seconds{4};
  const auto served = [](const reference::Estimate& estimate, UtcTime now, seconds holdover) {
    return reference::serve(estimate, {holdover, 0}, table().to_tai(*estimate.last_update), table().to_tai(now),
                            table().to_tai(kStart))
        .stage;
  };

  reference::Estimate e;
  for (int k = 1; k <= 3; ++k) {
    e = source->poll(tick(last + milliseconds{300} + seconds{k}));
    CHECK(e.tracking);
  }
  CHECK(served(e, last + milliseconds{3'300}, seconds{3'600}) == reference::Stage::synchronized);
  CHECK(events(*source).empty());

  e = source->poll(tick(last + milliseconds{4'300}));
  CHECK_FALSE(e.tracking);
  // The line and the last update stay: holdover serves from them.
  CHECK(e.line.of(last) == milliseconds{100});
  CHECK(*e.last_update == last);
  CHECK(served(e, last + milliseconds{4'300}, seconds{3'600}) == reference::Stage::holdover);
  CHECK(served(e, last + milliseconds{4'300}, seconds{2}) == reference::Stage::unsynchronized);
  const auto row = source->report()[0];
  CHECK(row.state == reference::SourceState::unreachable);
  CHECK(row.why == "no good sample for 4 s");
  CHECK(row.reach == 0b11110000);
  const auto notices = source->take_notices();
  REQUIRE(notices.size() == 1);
  CHECK(notices[0].event == "refclock_unreachable");
  CHECK(notices[0].level == Notice::Level::warning);

  // Logged once, not at every poll.
  for (int k = 5; k < 12; ++k) source->poll(tick(last + milliseconds{300} + seconds{k}));
  CHECK(events(*source).empty());
  CHECK(source->report()[0].reach == 0);

  // Samples again: tracking again, logged.
  const UtcTime back = last + seconds{12};
  write(segment.shm, back + milliseconds{100}, back);
  CHECK(source->poll(tick(back + milliseconds{300})).tracking);
  CHECK(events(*source) == std::vector<std::string>{"refclock_reachable"});
}

TEST_CASE("SHM source: leap 3 from the writer refuses the source, with one notice") {
  Segment segment;
  auto source = shm_source(segment);
  for (int i = 0; i < 3; ++i) {
    const UtcTime received = kStart + seconds{i};
    write(segment.shm, received, received);
    source->poll(tick(received + milliseconds{300}));
  }
  (void)source->take_notices();
  reference::Estimate e;
  for (int i = 3; i < 12; ++i) {
    const UtcTime received = kStart + seconds{i};
    write(segment.shm, received, received, 3);
    e = source->poll(tick(received + milliseconds{300}));
    // Within the timeout of the last good sample it still tracks.
    CHECK(e.tracking == (i <= 5));
  }
  const auto row = source->report()[0];
  CHECK(row.state == reference::SourceState::refused);
  CHECK(row.why.find("leap indicator 3: the writer says the reference is not synchronized") == 0);
  const auto notices = source->take_notices();
  REQUIRE(notices.size() == 1);
  CHECK(notices[0].event == "refclock_refused");
  CHECK(notices[0].fields[0] == std::pair<std::string, std::string>{"source", "SHM(0)"});
}

TEST_CASE("SHM source: a sample left in the segment by a writer long gone is refused as stale") {
  Segment segment;
  write(segment.shm, kStart - hours{1}, kStart - hours{1});
  auto source = shm_source(segment);
  const auto e = source->poll(tick(kStart));
  CHECK_FALSE(e.tracking);
  CHECK_FALSE(e.last_update.has_value());
  CHECK(e.line.at == kStart);
  const auto row = source->report()[0];
  CHECK(row.state == reference::SourceState::refused);
  CHECK(row.why.find("a stale sample") == 0);
}

TEST_CASE("SHM source: a sample received after the poll is no reading of this clock") {
  Segment segment;
  write(segment.shm, kStart + seconds{10}, kStart + seconds{10});
  auto source = shm_source(segment);
  CHECK_FALSE(source->poll(tick(kStart)).tracking);
  CHECK(source->report()[0].why.find("a sample received after this poll") == 0);
}

TEST_CASE("SHM source: one sample far off the line is set aside, not refused") {
  Segment segment;
  auto source = shm_source(segment);
  for (int i = 0; i < 8; ++i) {
    const UtcTime received = kStart + seconds{i};
    write(segment.shm, received + (i == 6 ? milliseconds{50} : milliseconds{0}), received);
    const auto e = source->poll(tick(received + milliseconds{300}));
    CHECK(e.tracking);
    CHECK(e.line.of(received) == nanoseconds{0});
  }
  const auto row = source->report()[0];
  CHECK(row.state == reference::SourceState::selected);
  CHECK(row.reach == 0b11111101);
  CHECK(row.offset == nanoseconds{0});
}

TEST_CASE("refclock offsets against the leap table: TAI on both sides, and nothing near a leap") {
  // 2016-12-31T23:59:60 was inserted: TAI-UTC went from 36 to 37 s.
  const UtcTime midnight = UtcTime{sys_days{year{2017} / January / 1}};

  SUBCASE("a reference 20 s ahead across the leap is 21 s ahead in TAI") {
    Segment segment;
    auto source = shm_source(segment);
    const UtcTime received = midnight - seconds{10};
    write(segment.shm, midnight + seconds{10}, received);
    const auto e = source->poll(tick(received + milliseconds{300}));
    REQUIRE(e.tracking);
    CHECK(e.line.of(received) == seconds{21});
  }
  SUBCASE("within 2 s of the leap, either side, samples are refused") {
    for (const Nanoseconds at : {Nanoseconds{-seconds{2}} + milliseconds{1}, Nanoseconds{-milliseconds{500}},
                                 Nanoseconds{milliseconds{1'500}}}) {
      Segment segment;
      auto source = shm_source(segment);
      write(segment.shm, midnight + at, midnight + at);
      CHECK_FALSE(source->poll(tick(midnight + at + milliseconds{300})).tracking);
      CHECK(source->report()[0].why == "a sample within 2 s of a leap second, where POSIX times are ambiguous");
    }
  }
  SUBCASE("the reference's time near the leap is refused too") {
    Segment segment;
    auto source = shm_source(segment);
    write(segment.shm, midnight, midnight - seconds{30});
    CHECK_FALSE(source->poll(tick(midnight - seconds{30} + milliseconds{300})).tracking);
  }
  SUBCASE("a TAI reference: offset straight from the TAI axis") {
    class TaiDriver final : public reference::RefclockDriver {
     public:
      void read(reference::RefclockBatch& into) override {
        into.samples.push_back({kStart, table().to_tai(kStart) + milliseconds{1}, reference::LeapWarning::insert, -10});
      }
    };
    reference::RefclockSource source{std::make_unique<TaiDriver>(), {"TAI", 0, seconds{4}}};
    const auto e = source.poll(tick(kStart + milliseconds{300}));
    REQUIRE(e.tracking);
    CHECK(e.line.of(kStart) == milliseconds{1});
    CHECK(e.leap == reference::LeapWarning::insert);
    CHECK(e.precision == -10);
    CHECK(e.dispersion == reference::RefclockSource::precision_error(-10));
  }
}

TEST_CASE("refclock: a driver's failure is why it is unreachable") {
  class Failing final : public reference::RefclockDriver {
   public:
    void read(reference::RefclockBatch& into) override { into.failure = "recv: Connection refused"; }
  };
  reference::RefclockSource source{std::make_unique<Failing>(), {"X", 0, seconds{4}}};
  CHECK_FALSE(source.poll(tick(kStart)).tracking);
  CHECK(source.report()[0].state == reference::SourceState::unreachable);
  CHECK(source.report()[0].why == "recv: Connection refused");
}

TEST_CASE("SHM: a segment smeard may not attach is described by its owner and mode, with what to change") {
  // /proc/sysvipc/shm as Linux prints it: gpsd (as root) created units 0 to 2; 1 is marked for
  // removal (SHM_DEST, 01000 above the mode bits).
  const std::string table =
      "       key      shmid perms                  size  cpid  lpid nattch   uid   gid  cuid  cgid      atime"
      "      dtime      ctime                   rss                  swap\n"
      "1314148400          0   600                    96   412   412      1     0     0     0     0 1796640000"
      "          0 1796640000                  4096                     0\n"
      "1314148401          1  1600                    96   412   412      1     0     0     0     0 1796640000"
      "          0 1796640000                  4096                     0\n"
      "1314148402          2   644                    96   412   412      1   112   117   112   117 1796640000"
      "          0 1796640000                  4096                     0\n";
  CHECK(reference::shm_permission_advice(0, table, 999) ==
        "the segment exists, owned by uid 0 with mode 0600, and smeard runs as uid 999: gpsd, run as root, creates "
        "units 0 and 1 so when it starts first. Stop gpsd, remove the segment (ipcrm -M 0x4e545030) and start smeard "
        "before gpsd (smeard.service is ordered Before=gpsd.service): smeard then creates it, and gpsd, as root, "
        "attaches it. Or run gpsd unprivileged and use a unit from 2 up, which it creates with mode 0666");
  CHECK(reference::shm_permission_advice(1, table, 999).starts_with(
      "the segment exists, owned by uid 0 with mode 0600, and smeard runs as uid 999: gpsd, run as root"));
  CHECK(reference::shm_permission_advice(2, table, 999) ==
        "the segment exists, owned by uid 112 with mode 0644, and smeard runs as uid 999: remove the segment "
        "(ipcrm -M 0x4e545032) while its writer is stopped and start smeard first, which creates it with mode 0666; "
        "or run smeard as uid 112");
  // Not listed (another IPC namespace's, or /proc unreadable): nothing to add.
  CHECK(reference::shm_permission_advice(3, table, 999).empty());
  CHECK(reference::shm_permission_advice(0, "", 999).empty());
  CHECK(reference::shm_permission_advice(0, "garbage\n1314148400 x\n", 999).empty());
}
