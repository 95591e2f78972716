#include "server/io/departure.hpp"

#include <doctest/doctest.h>

using Seal = io::Departure::Seal;

TEST_CASE("a reply leaves after the signing still to do, the call's entry and the replies ahead") {
  io::Departure d;
  CHECK(d.lead_ns(0, 0) == 0);
  for (int i = 0; i < 200; ++i) {
    d.stamped(Seal::none, 40);
    d.stamped(Seal::nts, 2'000);
    d.first_left(3'000);
    d.spread(15 * 1'200, 16);
  }
  CHECK(d.seal_cost(Seal::none) == doctest::Approx(40).epsilon(0.2));
  CHECK(d.seal_cost(Seal::nts) == doctest::Approx(2'000).epsilon(0.01));
  CHECK(d.seal_cost(Seal::mac) == 0);
  const std::int64_t seals = d.seal_cost(Seal::nts) + d.seal_cost(Seal::none);
  CHECK(d.lead_ns(seals, 5) == doctest::Approx(2'040 + 3'000 + 5 * 1'200).epsilon(0.01));
}

TEST_CASE("one slow call moves the estimates an eighth of the way, at most by an eighth of them") {
  io::Departure d;
  for (int i = 0; i < 200; ++i) d.first_left(1'000);
  d.first_left(1'800);
  CHECK(d.lead_ns(0, 0) == doctest::Approx(1'100).epsilon(0.01));
  d.first_left(900'000);  // descheduled for most of a millisecond
  const std::int64_t after_one = d.lead_ns(0, 0);
  CHECK(after_one == doctest::Approx(1'240).epsilon(0.01));
  d.first_left(-5);
  d.first_left(50'000'000);
  CHECK(d.lead_ns(0, 0) == after_one);
  for (int i = 0; i < 100; ++i) d.first_left(5'000);  // a real change is followed
  CHECK(d.lead_ns(0, 0) == doctest::Approx(5'000).epsilon(0.01));
}

TEST_CASE("without kernel stamps the spacing comes from how long calls take, with them from the stamps") {
  io::Departure d;
  for (int i = 0; i < 200; ++i) d.call_took(16 * 900, 16);
  CHECK(d.lead_ns(0, 10) == doctest::Approx(9'000).epsilon(0.02));
  for (int i = 0; i < 200; ++i) d.spread(15 * 1'500, 16);
  d.call_took(16 * 100, 16);  // ignored from now on
  CHECK(d.lead_ns(0, 10) == doctest::Approx(15'000).epsilon(0.02));
}
