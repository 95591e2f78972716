#include "server/app/serving_state.hpp"

#include <doctest/doctest.h>

#include <string>

#include "leapdb/table.hpp"

namespace {

config::Config parse(const std::string& timescales) {
  const config::ParseResult result = config::parse(R"(listeners:
  - {address: "127.0.0.1:1123", timescale: utc}
timescales:
  utc: {smear: none}
)" + timescales,
                                                   "smeard.yaml");
  for (const config::Problem& p : result.problems) FAIL(p.to_string());
  REQUIRE(result.config);
  return *result.config;
}

leapdb::UtcTime midnight(int y, unsigned m, unsigned d) {
  return leapdb::UtcTime{std::chrono::sys_days{std::chrono::year{y} / std::chrono::month{m} / std::chrono::day{d}}.time_since_epoch()};
}

// The leap of 2016-12-31 alone: TAI-UTC 36 s before, 37 s after.
std::shared_ptr<const leapdb::LeapTable> table_of_2016() {
  auto table = std::make_shared<leapdb::LeapTable>();
  table->initial_tai_utc = 36;
  table->leaps.push_back(leapdb::Leap{midnight(2017, 1, 1), 1, 37, 0});
  return table;
}

}  // namespace

TEST_CASE("plan: a rehearsal inside a real leap's smear is refused at its leap_at, each leap named by what it is") {
  const config::Config config = parse(R"(  rehearse:
    smear: google
    rehearsal: {leap_at: "2017-01-01T06:00:00Z"}
)");
  const app::PlanResult result = app::plan_serving(config, table_of_2016(), leapdb::UtcTime{});
  CHECK_FALSE(result.plan);
  REQUIRE(result.problems.size() == 1);
  CHECK(result.problems[0] ==
        "smeard.yaml:7:26: timescales.rehearse.rehearsal.leap_at: the leap at the end of 2016-12-31 and the leap at "
        "2017-01-01T06:00:00Z are closer than the 'google' smear window (86400 s): their smears would overlap; a "
        "rehearsal must be one smear window away from every leap");
  // A day and a half later both smears fit.
  const config::Config later = parse(R"(  rehearse:
    smear: google
    rehearsal: {leap_at: "2017-01-02T12:00:00Z"}
)");
  CHECK(app::plan_serving(later, table_of_2016(), leapdb::UtcTime{}).plan);
}

TEST_CASE("plan: two timescales whose NTS cookie ids collide are refused where the second is defined") {
  // FNV-1a 32 of both names is the same (found by search; nts::timescale_id).
  const config::Config config = parse(R"(  ts412789: {smear: none}
  ts649192: {smear: google}
)");
  const app::PlanResult result = app::plan_serving(config, table_of_2016(), leapdb::UtcTime{});
  CHECK_FALSE(result.plan);
  REQUIRE(result.problems.size() == 1);
  CHECK(result.problems[0] == "smeard.yaml:6:13: timescales.ts649192: its NTS cookie id is the same as ts412789's: "
                              "rename one");
}
