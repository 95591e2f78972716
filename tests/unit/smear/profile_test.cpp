#include "smear/profile.hpp"

#include <doctest/doctest.h>

using smear::Anchor;
using smear::Shape;

TEST_CASE("presets") {
  const auto google = smear::parse_profile("google").profile.value();
  CHECK(google.shape == Shape::linear);
  CHECK(google.anchor == Anchor::center);
  CHECK(google.window == std::chrono::seconds{86400});
  CHECK(smear::parse_profile("aws").profile->window == google.window);
  CHECK(smear::parse_profile("google-2016").profile->window == std::chrono::seconds{72000});
  const auto ntpd = smear::parse_profile("ntpd").profile.value();
  CHECK(ntpd.shape == Shape::cosine);
  CHECK(ntpd.anchor == Anchor::end);
  CHECK(smear::parse_profile("ntpsec").profile->shape == Shape::linear);
  const auto chrony = smear::parse_profile("chrony").profile.value();
  CHECK(chrony.shape == Shape::quadratic);
  CHECK(chrony.anchor == Anchor::start);
  CHECK(chrony.window == std::chrono::seconds{62500});
  CHECK(chrony.ramp == std::chrono::seconds{31250});
  CHECK(smear::parse_profile("meta").profile->window == chrony.window);
  CHECK(smear::parse_profile("none").profile->shape == Shape::none);
  CHECK(smear::presets().size() == 8);
}

TEST_CASE("custom profiles") {
  const auto linear = smear::parse_profile("linear:window=72000,anchor=center").profile.value();
  CHECK(linear.window == std::chrono::seconds{72000});
  CHECK(linear.name == "linear:window=72000,anchor=center");
  const auto cosine = smear::parse_profile("cosine:anchor=end,window=600").profile.value();
  CHECK(cosine.anchor == Anchor::end);
  CHECK(cosine.window == std::chrono::seconds{600});
  // A ceiling below the peak: ramps of f/a seconds and a plateau absorbing the rest.
  const auto capped = smear::parse_profile("quadratic:wander=0.001024,max_frequency=16").profile.value();
  CHECK(capped.ramp == std::chrono::seconds{15625});
  // ramps absorb 2 * a * r^2 / 2 = 0.25 s; the plateau absorbs 0.75 s at 16 ppm: 46875 s.
  CHECK(capped.window == std::chrono::seconds{2 * 15625 + 46875});
  CHECK(capped.anchor == Anchor::start);
}

TEST_CASE("bad profiles say why") {
  CHECK(smear::parse_profile("gogle").error.starts_with("unknown profile 'gogle'"));
  CHECK(smear::parse_profile("linear").error == "profile 'linear': needs window=SECONDS");
  CHECK(smear::parse_profile("linear:window=10").error ==
        "profile 'linear:window=10': window must be a number of seconds from 60 to 2592000");
  CHECK(smear::parse_profile("linear:window=600,anchor=middle").error ==
        "profile 'linear:window=600,anchor=middle': anchor must be center, end or start");
  CHECK(smear::parse_profile("cosine:window=600,wander=1").error ==
        "profile 'cosine:window=600,wander=1': unknown setting 'wander' for cosine");
  CHECK(smear::parse_profile("quadratic:anchor=end").error == "profile 'quadratic:anchor=end': quadratic needs wander=PPM_PER_S");
  CHECK(smear::parse_profile("quadratic:wander=0.0000001").error.find("it must last 60 s to 30 days") != std::string::npos);
  // Ramps past 400000 s would overflow the exact 128-bit curve: refused.
  CHECK(smear::parse_profile("quadratic:wander=0.000001").error ==
        "profile 'quadratic:wander=0.000001': each quadratic ramp would last over 400000 s; use a larger wander");
  CHECK(smear::parse_profile("quadratic:wander=0.00001").profile.has_value());
}
