// timescales: smear profiles, refid conventions, announce and rehearsals.
#include <doctest/doctest.h>

#include <string>

#include "tests/unit/config/helpers.hpp"

using config_test::kListener;
using config_test::kTimescales;
using config_test::only_problem;
using config_test::parse;

TEST_CASE("timescales: presets, custom profiles, refid conventions, announce, rehearsal") {
  const auto result = parse(kListener + R"(timescales:
  utc: {smear: none, announce: 3600}
  smeared: {smear: google}
  ntpd-like: {smear: ntpd, refid: chrony}
  custom:
    smear: {profile: cosine, window: 600, anchor: end}
    refid: reference
    rehearsal: {leap_at: "2026-11-23T15:00:00Z", sign: "-"}
)");
  REQUIRE_MESSAGE(result.problems.empty(), result.problems.front().to_string());
  const auto& t = result.config->timescales;
  CHECK(t.at("utc").profile.shape == smear::Shape::none);
  CHECK(t.at("utc").announce == std::chrono::hours{1});
  CHECK(t.at("smeared").profile.name == "google");
  CHECK(t.at("smeared").refid == config::RefidConvention::ntpd);
  CHECK(t.at("ntpd-like").refid == config::RefidConvention::chrony);
  CHECK(t.at("custom").profile.shape == smear::Shape::cosine);
  CHECK(t.at("custom").profile.window == std::chrono::seconds{600});
  CHECK(t.at("custom").profile.anchor == smear::Anchor::end);
  CHECK(t.at("custom").refid == config::RefidConvention::reference);
  REQUIRE(t.at("custom").rehearsal.has_value());
  CHECK(t.at("custom").rehearsal->sign == -1);
  CHECK(leapdb::format_rfc3339(t.at("custom").rehearsal->leap_at) == "2026-11-23T15:00:00.000000000Z");

  CHECK(only_problem(kListener + "timescales:\n  utc: {smear: {profile: linear, window: 5}}\n") ==
        "smeard.yaml:5:16: timescales.utc.smear: profile 'linear:window=5': window must be a number of seconds "
        "from 60 to 2592000");
  CHECK(only_problem(kListener + "timescales:\n  utc: {smear: none, refid: gps}\n") ==
        "smeard.yaml:5:29: timescales.utc.refid: 'gps' is not ntpd, chrony or reference");
  CHECK(
      only_problem(kListener + "timescales:\n  utc: {smear: none, rehearsal: {leap_at: soon}}\n") ==
      "smeard.yaml:5:43: timescales.utc.rehearsal.leap_at: 'soon' is not an RFC 3339 time, e.g. 2026-11-23T15:00:00Z");
}

TEST_CASE("an empty timescale name is refused, not crashed on later") {
  CHECK(only_problem("listeners:\n  - address: \"127.0.0.1:123\"\n    timescale: \"\"\n" + kTimescales) ==
        "smeard.yaml:3:16: listeners[0].timescale: a timescale name is needed");
}
