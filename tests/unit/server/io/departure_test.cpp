#include "server/io/departure.hpp"

#include <doctest/doctest.h>

#include <random>

using Seal = io::Departure::Seal;

TEST_CASE("a reply leaves after the signing still to do, the call's entry and the replies ahead") {
  io::Departure d;
  CHECK(d.lead_ns(0, 0) == 0);
  for (int i = 0; i < 1000; ++i) {
    d.stamped(Seal::none, 40);
    d.stamped(Seal::nts, 2'000);
    d.first_left(3'000);
    d.spread(15 * 1'200, 16);
  }
  CHECK(d.seal_cost(Seal::none) == 40);
  CHECK(d.seal_cost(Seal::nts) == 2'000);
  CHECK(d.seal_cost(Seal::mac) == 0);
  const std::int64_t seals = d.seal_cost(Seal::nts) + d.seal_cost(Seal::none);
  CHECK(d.lead_ns(seals, 5) == 2'040 + 3'000 + 5 * 1'200);
}

TEST_CASE("the estimates track the median: descheduled calls do not drag them up") {
  io::Departure d;
  std::mt19937 random{7};
  std::uniform_int_distribution<std::int64_t> jitter{-200, 200};
  std::uniform_int_distribution<int> percent{0, 99};
  for (int i = 0; i < 5000; ++i) {
    // One call in five descheduled for up to most of a millisecond.
    d.first_left(percent(random) < 20 ? 900'000 : 2'000 + jitter(random));
  }
  // The median of all, the 62nd percentile of the undisturbed calls (2,050 ns), give or take
  // the last few steps.
  CHECK(d.lead_ns(0, 0) == doctest::Approx(2'050).epsilon(0.1));
  const std::int64_t settled = d.lead_ns(0, 0);
  d.first_left(-5);
  d.first_left(50'000'000);
  CHECK(d.lead_ns(0, 0) == settled);                  // absurd: ignored
  for (int i = 0; i < 300; ++i) d.first_left(5'000);  // a real change is followed
  CHECK(d.lead_ns(0, 0) == 5'000);
}

TEST_CASE("a call sends as many replies as leave within the horizon, 1 to 16") {
  io::Departure d;
  CHECK(d.replies_per_call(8'000) == 16);  // nothing learned yet
  for (int i = 0; i < 1000; ++i) d.spread(15 * 1'000, 16);
  CHECK(d.replies_per_call(8'000) == 9);
  CHECK(d.replies_per_call(100'000) == 16);
  for (int i = 0; i < 1000; ++i) d.spread(15 * 7'000, 16);
  CHECK(d.replies_per_call(8'000) == 2);
  CHECK(d.replies_per_call(1'000) == 1);
}

TEST_CASE("without kernel stamps the spacing comes from how long calls take, with them from the stamps") {
  io::Departure d;
  for (int i = 0; i < 1000; ++i) d.call_took(16 * 900, 16);
  CHECK(d.lead_ns(0, 10) == 9'000);
  for (int i = 0; i < 1000; ++i) d.spread(15 * 1'500, 16);
  d.call_took(16 * 100, 16);  // ignored from now on
  CHECK(d.lead_ns(0, 10) == 15'000);
}
