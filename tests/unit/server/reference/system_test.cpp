#include "server/reference/system.hpp"

#include <doctest/doctest.h>

#include <algorithm>

#include "leapdb/parse.hpp"
#include "tests/unit/leapdb/files.hpp"

using namespace std::chrono;
using reference::KernelClockStatus;

namespace {

const leapdb::LeapTable& table() { return test_files::leap_table(); }

// 2016-12-31, hours before the leap that makes TAI-UTC 37.
leapdb::UtcTime leap_day(int hour) {
  return leapdb::UtcTime{sys_days{year{2016} / December / 31}} + hours{hour};
}

KernelClockStatus kernel(bool synchronized, int tai = 0, int armed = 0) {
  KernelClockStatus status;
  status.synchronized = synchronized;
  status.max_error = microseconds{1'500};
  status.tai = tai;
  status.armed = armed;
  return status;
}

reference::Tick tick(leapdb::UtcTime at, const KernelClockStatus& status) {
  return reference::Tick{table(), at, seconds{100}, status};
}

}  // namespace

TEST_CASE("the kernel and the leap table: what each disagreement says") {
  using reference::kernel_disagreements;
  const leapdb::UtcTime morning = leap_day(6), evening = leap_day(20);
  CHECK(kernel_disagreements(kernel(true, 36, 1), table(), evening).empty());
  CHECK(kernel_disagreements(kernel(true, 0, 0), table(), morning).empty());  // not yet: the kernel is told on the day
  CHECK(kernel_disagreements(kernel(false, 0, 0), table(), evening).empty());  // nothing disciplines it anyway

  const auto unarmed = kernel_disagreements(kernel(true, 0, 0), table(), evening);
  REQUIRE(unarmed.size() == 1);
  CHECK(unarmed[0].find("the kernel was not told") != std::string::npos);
  CHECK(unarmed[0].find("2017-01-01T00:00:00") != std::string::npos);

  const auto wrong_tai = kernel_disagreements(kernel(true, 35, 1), table(), evening);
  REQUIRE(wrong_tai.size() == 1);
  CHECK(wrong_tai[0] == "the kernel's TAI offset is 35 s, the leap table's 36 s");

  const auto wrong_sign = kernel_disagreements(kernel(true, 36, -1), table(), evening);
  REQUIRE(wrong_sign.size() == 1);
  CHECK(wrong_sign[0].find("set to delete a second at 2017-01-01") != std::string::npos);

  const auto not_tonight = kernel_disagreements(kernel(true, 37, 1), table(), leap_day(24 * 30));
  REQUIRE(not_tonight.size() == 1);
  CHECK(not_tonight[0].find("which the leap table does not") != std::string::npos);
}

TEST_CASE("system source: synchronized kernel -> the system clock itself, its maximum error as dispersion") {
  reference::SystemSource source{{false, 0x4C4F434C, -24}};
  const leapdb::UtcTime now = leap_day(-24 * 100);
  const reference::Estimate e = source.poll(tick(now, kernel(true)));
  CHECK(e.tracking);
  CHECK(e.last_update == now);
  CHECK(e.line.offset == leapdb::Nanoseconds{0});
  CHECK(e.line.rate == leapdb::Rate{});
  CHECK(e.dispersion == microseconds{1'500});
  CHECK(e.stratum == 0);
  CHECK(e.precision == -24);
  const auto notices = source.take_notices();
  REQUIRE(notices.size() == 1);
  CHECK(notices[0].event == "system_clock_synchronized");
  CHECK(source.report().at(0).state == reference::SourceState::selected);

  // The kernel loses its discipline: the last update stays where it was; logged once.
  const reference::Estimate lost = source.poll(tick(now + seconds{1}, kernel(false)));
  CHECK_FALSE(lost.tracking);
  CHECK(lost.last_update == now);
  source.poll(tick(now + seconds{2}, kernel(false)));
  const auto lost_notices = source.take_notices();
  REQUIRE(lost_notices.size() == 1);
  CHECK(lost_notices[0].event == "system_clock_unsynchronized");
  CHECK(source.report().at(0).state == reference::SourceState::unreachable);
  CHECK(source.report().at(0).reach == 0b100);
}

TEST_CASE("system source, clock: tai: the kernel's TAI offset must be set and agree") {
  reference::SystemSource source{{true, 0, -20}};
  const leapdb::UtcTime now = leap_day(-24 * 100);  // TAI-UTC 36
  CHECK_FALSE(source.poll(tick(now, kernel(true, 0))).tracking);
  CHECK(source.take_notices().at(0).fields.at(0).second.find("clock: tai needs") != std::string::npos);
  CHECK(source.poll(tick(now, kernel(true, 36))).tracking);
}

TEST_CASE("system source: each kernel disagreement is logged when it appears and when it clears") {
  reference::SystemSource source{{false, 0, -20}};
  source.poll(tick(leap_day(20), kernel(true, 36, 0)));
  auto notices = source.take_notices();
  CHECK(std::ranges::count_if(notices, [](const auto& n) { return n.event == "kernel_leap_disagreement"; }) == 1);
  source.poll(tick(leap_day(20) + seconds{1}, kernel(true, 36, 0)));
  CHECK(source.take_notices().empty());
  source.poll(tick(leap_day(21), kernel(true, 36, 1)));
  notices = source.take_notices();
  REQUIRE(notices.size() == 1);
  CHECK(notices[0].event == "kernel_leap_agreement");
  CHECK(source.poll(tick(leap_day(21), kernel(true, 36, 1))).leap == reference::LeapWarning::insert);
}
