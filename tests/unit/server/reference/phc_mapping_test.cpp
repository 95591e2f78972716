// The line from a NIC's PHC to the system clock: anchor, rate, steps, and the error bound.
#include "server/reference/phc_mapping.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <random>

using namespace std::chrono;
using leapdb::Int128;
using leapdb::Nanoseconds;
using leapdb::UtcTime;
using reference::PhcMappingEstimator;
using reference::PhcReading;

namespace {

const UtcTime kStart = UtcTime{sys_days{year{2026} / March / 1}} + hours{12};

// A PHC running `ppb` parts per billion fast against the system clock, `offset` ahead of it at
// kStart, read exactly (to the nanosecond, rounded down) at the system-clock reading `t`.
struct Phc {
  std::int64_t ppb = 0;
  Nanoseconds offset = seconds{37};
  Nanoseconds at(UtcTime t) const {
    const Int128 since = (t - kStart).count();
    Int128 drift = since * ppb;
    drift = drift / 1'000'000'000 - (drift % 1'000'000'000 < 0 ? 1 : 0);
    return kStart.time_since_epoch() + offset + Nanoseconds{static_cast<std::int64_t>(since + drift)};
  }
  PhcReading sample(UtcTime t, Nanoseconds window = {}) const { return PhcReading{t, at(t), window}; }
};

}  // namespace

TEST_CASE("no line from a single sample, nor from two too close together") {
  PhcMappingEstimator estimator;
  const Phc phc;
  CHECK_FALSE(estimator.mapping().has_value());
  CHECK(estimator.add(phc.sample(kStart)) == PhcMappingEstimator::Added::kept);
  CHECK_FALSE(estimator.mapping().has_value());
  estimator.add(phc.sample(kStart + milliseconds{500}));
  CHECK_FALSE(estimator.mapping().has_value());
  estimator.add(phc.sample(kStart + seconds{2}));
  REQUIRE(estimator.mapping().has_value());
  CHECK(estimator.mapping()->phc_at == phc.at(kStart + seconds{2}));
  CHECK(estimator.mapping()->system_at == kStart + seconds{2});
  CHECK(estimator.mapping()->rate == leapdb::Rate{});
  CHECK(estimator.mapping()->reach == PhcMappingEstimator::kReach);
}

TEST_CASE("offset and rate: a PHC 37 s ahead on TAI and 20 ppm fast converts to the system clock") {
  PhcMappingEstimator estimator;
  const Phc phc{20'000, seconds{37}};
  for (int i = 0; i <= 10; ++i) estimator.add(phc.sample(kStart + seconds{2 * i}));
  const auto line = estimator.mapping();
  REQUIRE(line.has_value());
  CHECK(std::abs(line->rate.ppm() - (1 / 1.00002 - 1) * 1e6) < 0.00025);  // a 2^-32 step
  const UtcTime t = kStart + seconds{25};
  CHECK(abs(*line->to_system(phc.at(t)) - t) <= nanoseconds{3});
}

TEST_CASE("a step of the PHC or of the system clock starts the line afresh") {
  PhcMappingEstimator estimator;
  Phc phc{5'000};
  for (int i = 0; i < 5; ++i) estimator.add(phc.sample(kStart + seconds{2 * i}));
  REQUIRE(estimator.mapping().has_value());
  // Within the tolerance: kept.
  Phc nudged = phc;
  nudged.offset += microseconds{50};
  CHECK(estimator.add(nudged.sample(kStart + seconds{10})) == PhcMappingEstimator::Added::kept);
  // ptp4l steps the PHC by a millisecond: a new line, and none until it has two samples.
  phc.offset += milliseconds{1};
  CHECK(estimator.add(phc.sample(kStart + seconds{12})) == PhcMappingEstimator::Added::restarted);
  CHECK_FALSE(estimator.mapping().has_value());
  CHECK(estimator.add(phc.sample(kStart + seconds{14})) == PhcMappingEstimator::Added::kept);
  REQUIRE(estimator.mapping().has_value());
  CHECK(abs(*estimator.mapping()->to_system(phc.at(kStart + seconds{15})) - (kStart + seconds{15})) <= nanoseconds{3});
  // The PHC going backwards, or a rate no oscillator drifts at, is a step too.
  CHECK(estimator.add(phc.sample(kStart + seconds{16})) == PhcMappingEstimator::Added::kept);
  CHECK(estimator.add(PhcReading{kStart + seconds{18}, phc.at(kStart), {}}) == PhcMappingEstimator::Added::restarted);
  PhcMappingEstimator fresh;
  fresh.add(phc.sample(kStart));
  CHECK(fresh.add(PhcReading{kStart + seconds{2}, phc.at(kStart) + milliseconds{2003}, {}}) ==
        PhcMappingEstimator::Added::restarted);  // 1500 ppm
}

TEST_CASE("a wide read window widens the tolerance for steps by its half-width") {
  PhcMappingEstimator estimator;
  const Phc phc;
  for (int i = 0; i < 3; ++i) estimator.add(phc.sample(kStart + seconds{2 * i}));
  Phc off = phc;
  off.offset += microseconds{150};
  CHECK(estimator.add(off.sample(kStart + seconds{6}, microseconds{200})) == PhcMappingEstimator::Added::kept);
}

TEST_CASE("the kept samples are bounded; the rate spans the oldest to the newest") {
  PhcMappingEstimator estimator;
  const Phc phc{-80'000};
  for (int i = 0; i < 100; ++i) estimator.add(phc.sample(kStart + seconds{2 * i}));
  const auto line = estimator.mapping();
  REQUIRE(line.has_value());
  CHECK(line->system_at == kStart + seconds{198});
  CHECK(abs(*line->to_system(phc.at(kStart + seconds{207})) - (kStart + seconds{207})) <= nanoseconds{3});
}

// The bound phc_mapping.hpp states, 2 + |d| * (2^-32 + 2 / span) ns, over rates from -1000 to
// +1000 ppm, offsets of any era, spans from 1 s to a full window's 30 s, stamps anywhere in reach.
TEST_CASE("the conversion error bound holds") {
  std::mt19937_64 random{20260301};
  std::uniform_int_distribution<std::int64_t> ppb{-999'000, 999'000};
  std::uniform_int_distribution<std::int64_t> offset{-2'000'000'000'000'000'000, 2'000'000'000'000'000'000};
  std::uniform_int_distribution<std::int64_t> step{500'000'000, 2'000'000'000};
  std::uniform_int_distribution<std::int64_t> reach{-10'000'000'000, 10'000'000'000};
  std::uniform_int_distribution<int> count{2, static_cast<int>(PhcMappingEstimator::kCapacity)};
  double worst_margin = 1e9;
  int lines = 0;
  for (int trial = 0; trial < 2000; ++trial) {
    const Phc phc{ppb(random), Nanoseconds{offset(random)}};
    PhcMappingEstimator estimator;
    UtcTime t = kStart + Nanoseconds{step(random)};
    const Nanoseconds oldest = phc.at(t);  // no more samples than are kept: the first is the oldest
    const int samples = count(random);
    for (int i = 0; i < samples; ++i, t += Nanoseconds{step(random)}) estimator.add(phc.sample(t));
    const auto line = estimator.mapping();
    if (!line) continue;  // too short a span
    ++lines;
    const double span = static_cast<double>((line->phc_at - oldest).count());
    for (int q = 0; q < 20; ++q) {
      const Nanoseconds d{reach(random)};
      const Nanoseconds stamp = line->phc_at + d;
      // The truth: the system-clock reading at which the PHC read `stamp`, solved exactly.
      const Int128 phc_since = (stamp - phc.offset - kStart.time_since_epoch()).count();
      const Int128 since = phc_since * 1'000'000'000 / (1'000'000'000 + phc.ppb);
      const UtcTime truth = kStart + Nanoseconds{static_cast<std::int64_t>(since)};
      const std::optional<UtcTime> converted = line->to_system(stamp);
      REQUIRE(converted.has_value());
      const double error = static_cast<double>(abs(*converted - truth).count());
      // One more nanosecond than the header's bound: the truth here is itself rounded down.
      const double bound = 3 + static_cast<double>(abs(d).count()) * (std::ldexp(1.0, -32) + 2.0 / span);
      CHECK(error <= bound);
      worst_margin = std::min(worst_margin, bound - error);
    }
  }
  CHECK(worst_margin >= 0);
  CHECK(lines > 1500);
}

TEST_CASE("samples close together (a reload's extra sample) do not read their jitter as a rate") {
  PhcMappingEstimator estimator;
  const Phc phc;
  estimator.add(phc.sample(kStart));
  CHECK(estimator.add(PhcReading{kStart + milliseconds{3}, phc.at(kStart + milliseconds{3}) + microseconds{8}, {}}) ==
        PhcMappingEstimator::Added::kept);
  CHECK(estimator.add(phc.sample(kStart + seconds{2})) == PhcMappingEstimator::Added::kept);
  CHECK(estimator.add(phc.sample(kStart + seconds{2} + milliseconds{1})) == PhcMappingEstimator::Added::kept);
  REQUIRE(estimator.mapping().has_value());
}
