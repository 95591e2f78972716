#include "leapdb/parse.hpp"

#include <doctest/doctest.h>

#include <algorithm>

#include "tests/unit/leapdb/files.hpp"

using namespace std::chrono;
using leapdb::HashStatus;
using leapdb::ParseResult;

namespace {

leapdb::UtcTime utc(int y, unsigned m, unsigned d) { return leapdb::UtcTime{sys_days{year{y} / month{m} / day{d}}}; }

ParseResult parse_fixture(const std::string& name, const leapdb::ParseOptions& options = {}) {
  return leapdb::parse(test_files::fixture(name), name, options);
}

bool mentions(const std::vector<leapdb::Problem>& problems, const std::string& text) {
  return std::any_of(problems.begin(), problems.end(),
                     [&](const leapdb::Problem& p) { return p.to_string().find(text) != std::string::npos; });
}

std::string all(const std::vector<leapdb::Problem>& problems) {
  std::string text;
  for (const auto& p : problems) text += p.to_string() + "\n";
  return text;
}

void check_the_27_real_leaps(const leapdb::LeapTable& table) {
  REQUIRE(table.leaps.size() == 27);
  CHECK(table.initial_tai_utc == 10);
  CHECK(table.leaps.front().effective == utc(1972, 7, 1));
  CHECK(table.leaps.front().tai_utc == 11);
  CHECK(table.leaps.back().effective == utc(2017, 1, 1));
  CHECK(table.leaps.back().day() == sys_days{year{2016} / December / 31});
  CHECK(table.leaps.back().tai_utc == 37);
  CHECK(std::all_of(table.leaps.begin(), table.leaps.end(), [](const leapdb::Leap& l) { return l.sign == 1; }));
  CHECK(table.tai_utc_at(utc(2026, 11, 23)) == 37);
}

}  // namespace

TEST_CASE("Debian's own files parse to the same 27 leaps") {
  const std::vector<std::string> paths{"/usr/share/zoneinfo/leap-seconds.list", "/usr/share/zoneinfo/leapseconds",
                                       "/usr/share/zoneinfo/right/UTC"};
  std::vector<leapdb::LeapTable> tables;
  for (const auto& path : paths) {
    CAPTURE(path);
    const ParseResult result = leapdb::parse(test_files::read(path), path);
    INFO(all(result.problems));
    REQUIRE(result.ok());
    check_the_27_real_leaps(result.table);
    tables.push_back(result.table);
  }
  CHECK(tables[0].format == leapdb::Format::leap_seconds_list);
  CHECK(tables[0].hash == HashStatus::ok);
  CHECK(tables[1].format == leapdb::Format::tzdata_leapseconds);
  CHECK(tables[2].format == leapdb::Format::tzif);
  CHECK_FALSE(leapdb::compare(tables[0], tables[1]).has_value());
  CHECK_FALSE(leapdb::compare(tables[0], tables[2]).has_value());
  CHECK_FALSE(leapdb::compare(tables[1], tables[2]).has_value());
}

TEST_CASE("leap-seconds.list") {
  const ParseResult result = parse_fixture("leap-seconds.list");
  INFO(all(result.problems));
  REQUIRE(result.ok());
  check_the_27_real_leaps(result.table);
  CHECK(result.table.hash == HashStatus::ok);
  CHECK(result.table.expires == utc(2026, 6, 28));
  CHECK(result.table.last_update == utc(2025, 7, 7));
  CHECK(result.table.leaps.front().line == 7);
  CHECK(result.warnings.empty());
}

TEST_CASE("a tampered digit is a hash mismatch, and names the #h line") {
  const ParseResult result = parse_fixture("tampered.list");
  CHECK_FALSE(result.ok());
  CHECK(result.table.hash == HashStatus::mismatch);
  REQUIRE(result.problems.size() == 1);
  CHECK(result.problems[0].line == 34);
  CHECK(result.problems[0].to_string().starts_with(
      "tampered.list:34: #h (hash): mismatch: the file says 49db2447 571e5e1b 2f002a53 9c8da8e4 39b8e49e but its content "
      "hashes to "));
  // Even allow_unhashed never accepts a mismatch.
  CHECK_FALSE(parse_fixture("tampered.list", {.allow_unhashed = true}).ok());
}

TEST_CASE("an unhashed file is refused unless allowed, and then warned about") {
  const ParseResult strict = parse_fixture("unhashed.list");
  CHECK_FALSE(strict.ok());
  CHECK(mentions(strict.problems, "unhashed.list: #h (hash): missing"));
  const ParseResult lenient = parse_fixture("unhashed.list", {.allow_unhashed = true});
  CHECK(lenient.ok());
  CHECK(lenient.table.hash == HashStatus::missing);
  CHECK(mentions(lenient.warnings, "#h (hash): missing"));
}

TEST_CASE("missing #@ is an error") {
  const ParseResult result = parse_fixture("missing-expiry.list");
  CHECK_FALSE(result.ok());
  CHECK(mentions(result.problems, "missing-expiry.list: #@ (expiry): missing"));
  CHECK(result.problems.size() == 1);  // the hash was made without an expiry, so it matches
}

TEST_CASE("TAI-UTC must move by exactly one") {
  const ParseResult result = parse_fixture("jump-of-two.list");
  INFO(all(result.problems));
  REQUIRE(result.problems.size() == 1);
  CHECK(result.problems[0].to_string() ==
        "jump-of-two.list:33: TAI-UTC: moves from 36 to 38 at 2016-12-31; it must move by exactly one at each leap");
}

TEST_CASE("entries must strictly increase") {
  const ParseResult result = parse_fixture("non-monotonic.list");
  INFO(all(result.problems));
  // Swapping two entries also breaks the TAI-UTC sequence; the order problem is reported too.
  CHECK(mentions(result.problems, "non-monotonic.list:17: date: leaps must strictly increase: 1981-06-30 follows 1982-06-30"));
}

TEST_CASE("a negative leap second") {
  for (const char* name : {"negative-leap.list", "negative-leapseconds", "negative-right-UTC-v4"}) {
    CAPTURE(name);
    const ParseResult result = parse_fixture(name);
    INFO(all(result.problems));
    REQUIRE(result.ok());
    const auto& leaps = result.table.leaps;
    REQUIRE(leaps.size() == 28);
    CHECK(leaps.back().sign == -1);
    CHECK(leaps.back().tai_utc == 36);
    CHECK(leaps.back().effective == utc(2029, 7, 1));
    CHECK(leaps.back().day() == sys_days{year{2029} / June / 30});
    CHECK(result.table.expires == utc(2030, 6, 28));
  }
  CHECK_FALSE(leapdb::compare(parse_fixture("negative-leap.list").table, parse_fixture("negative-right-UTC-v4").table));
}

TEST_CASE("tzdata leapseconds") {
  const ParseResult result = parse_fixture("leapseconds");
  INFO(all(result.problems));
  REQUIRE(result.ok());
  check_the_27_real_leaps(result.table);
  CHECK(result.table.expires == utc(2026, 6, 28));
  CHECK(result.table.last_update == utc(2025, 7, 7));
  CHECK(result.table.hash == HashStatus::not_applicable);
  CHECK(result.table.leaps[0].line == 2);

  // The commented-out "#Expires" form, as Debian's 2025b ships it, and the #expires comment.
  const auto commented = leapdb::parse("Leap 2016 Dec 31 23:59:60 + S\n#Expires 2026\tJun\t28\t00:00:00\n", "x");
  CHECK(commented.table.expires == utc(2026, 6, 28));
  const auto numeric = leapdb::parse("Leap 2016 Dec 31 23:59:60 + S\n#expires 1782604800 (2026-06-28)\n", "x");
  CHECK(numeric.table.expires == utc(2026, 6, 28));
  const auto none = leapdb::parse("Leap 2016 Dec 31 23:59:60 + S\n", "x");
  CHECK(mentions(none.warnings, "Expires: missing"));
}

TEST_CASE("tzdata leapseconds errors name line and field") {
  auto only = [](const std::string& text) {
    const auto result = leapdb::parse_tzdata_leapseconds(text, "leapseconds");
    REQUIRE(result.problems.size() >= 1);
    return result.problems[0].to_string();
  };
  CHECK(only("Leap 2016 Dec 31 23:59:59 + S\n") ==
        "leapseconds:1: time: must be 23:59:60 for an inserted second, found 23:59:59");
  CHECK(only("Leap 2016 Dec 31 23:59:60 x S\n") == "leapseconds:1: correction: 'x' must be + (inserted) or - (deleted)");
  CHECK(only("Leap 2016 Dek 31 23:59:60 + S\n") ==
        "leapseconds:1: date: '2016 Dek 31 23:59:60' is not a valid date and time");
  CHECK(only("\nLeap 2016 Dec 30 23:59:60 + S\n") ==
        "leapseconds:2: date: 2016-12-31T00:00:00.000000000Z is not the first second of a month");
  CHECK(only("Leep 2016 Dec 31 23:59:60 + S\n") == "leapseconds:1: Leep: unknown line; expected 'Leap' or 'Expires'");
}

TEST_CASE("TZif versions 1, 2 and 4") {
  const auto list = parse_fixture("leap-seconds.list").table;
  for (const char* name : {"right-UTC-v1", "right-UTC-v2", "right-UTC-v4"}) {
    CAPTURE(name);
    const ParseResult result = parse_fixture(name);
    INFO(all(result.problems));
    REQUIRE(result.ok());
    check_the_27_real_leaps(result.table);
    CHECK_FALSE(leapdb::compare(list, result.table).has_value());
  }
  CHECK(parse_fixture("right-UTC-v4").table.expires == utc(2026, 6, 28));
  CHECK_FALSE(parse_fixture("right-UTC-v2").table.expires.has_value());
  CHECK(mentions(parse_fixture("right-UTC-v2").warnings, "expiry: none recorded"));
}

TEST_CASE("truncated TZif") {
  const ParseResult result = parse_fixture("truncated-right-UTC");
  REQUIRE(result.problems.size() == 1);
  CHECK(result.problems[0].to_string().starts_with("truncated-right-UTC: byte 322 (data): truncated: the header announces 346 bytes of data but the file has 312"));
  const std::string whole = test_files::fixture("right-UTC-v4");
  for (std::size_t length = 0; length < whole.size() - 6; ++length) {
    CAPTURE(length);
    CHECK_FALSE(leapdb::parse_tzif(whole.substr(0, length), "cut").ok());
  }
}

TEST_CASE("two sources that disagree: the first differing leap is named") {
  const auto list = parse_fixture("leap-seconds.list").table;
  const auto other = parse_fixture("disagreeing-leapseconds");
  REQUIRE(other.ok());
  const auto problem = leapdb::compare(list, other.table);
  REQUIRE(problem.has_value());
  CHECK(problem->to_string() ==
        "leap-seconds.list:32: leap 2015-06-30: first difference: 2015-06-30 (+1, TAI-UTC 36) here, absent in "
        "disagreeing-leapseconds");
}

TEST_CASE("sources are compared only where both speak") {
  // The negative-leap list goes on to 2029; the real one expires in 2026. They agree up to then.
  const auto real = parse_fixture("leap-seconds.list").table;
  const auto longer = parse_fixture("negative-leap.list").table;
  CHECK_FALSE(leapdb::compare(real, longer).has_value());
  CHECK(&leapdb::most_recent({real, longer}) != nullptr);
  CHECK(leapdb::most_recent({real, longer}).leaps.size() == 28);
}

TEST_CASE("format detection and garbage") {
  CHECK(leapdb::parse("", "empty").problems.size() >= 1);
  CHECK(mentions(leapdb::parse("hello world\n", "junk").problems, "junk:1: data: expected 'NTP-seconds TAI-UTC'"));
  CHECK(mentions(leapdb::parse("TZif", "short").problems, "short: byte 0 (header)"));
}
