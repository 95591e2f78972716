#include "leapdb/sources.hpp"

#include <doctest/doctest.h>

#include "tests/unit/leapdb/files.hpp"

using namespace std::chrono;

namespace {
leapdb::SourceBytes source(const char* name) { return {name, test_files::fixture(name)}; }
leapdb::UtcTime utc(int y, unsigned m, unsigned d) { return leapdb::UtcTime{sys_days{year{y} / month{m} / day{d}}}; }
}  // namespace

TEST_CASE("agreeing sources: the one that expires last is served") {
  const auto combined = leapdb::combine({source("leap-seconds.list"), source("right-UTC-v2"), source("negative-leap.list")});
  CHECK(combined.problems.empty());
  REQUIRE(combined.table.has_value());
  CHECK(combined.table->source == "negative-leap.list");
  CHECK(combined.sources.size() == 3);
  CHECK(combined.warnings.size() == 1);  // right-UTC-v2 has no expiry
}

TEST_CASE("all or nothing: one bad or disagreeing source rejects the set") {
  const auto bad = leapdb::combine({source("leap-seconds.list"), source("tampered.list")});
  CHECK_FALSE(bad.table.has_value());
  REQUIRE(bad.problems.size() == 1);
  CHECK(bad.problems[0].source == "tampered.list");

  const auto disagree = leapdb::combine({source("leap-seconds.list"), source("disagreeing-leapseconds")});
  CHECK_FALSE(disagree.table.has_value());
  REQUIRE(disagree.problems.size() == 1);
  CHECK(disagree.problems[0].field == "leap 2015-06-30");

  const auto both = leapdb::combine({source("leap-seconds.list"), source("tampered.list"), source("disagreeing-leapseconds")});
  CHECK(both.problems.size() == 2);  // the damaged file, and the disagreement between the sound two

  CHECK_FALSE(leapdb::combine({}).table.has_value());
}

TEST_CASE("freshness") {
  const auto table = leapdb::combine({source("leap-seconds.list")}).table.value();
  const auto warning = duration_cast<leapdb::Nanoseconds>(days{28});
  CHECK(leapdb::freshness(table, utc(2026, 5, 1), warning) == leapdb::Freshness::fresh);
  CHECK(leapdb::freshness(table, utc(2026, 6, 1), warning) == leapdb::Freshness::expiring);
  CHECK(leapdb::freshness(table, utc(2026, 6, 28), warning) == leapdb::Freshness::expired);
  auto no_expiry = table;
  no_expiry.expires.reset();
  CHECK(leapdb::freshness(no_expiry, utc(2026, 6, 28), warning) == leapdb::Freshness::unknown);
}
