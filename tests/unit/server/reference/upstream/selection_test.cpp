#include "server/reference/upstream/selection.hpp"

#include <doctest/doctest.h>

#include <random>
#include <vector>

#include "server/reference/upstream/filter.hpp"
#include "tests/unit/server/reference/upstream/simulation.hpp"

using namespace std::chrono;
using namespace reference::upstream;

namespace {

Candidate at(leapdb::Nanoseconds residual, leapdb::Nanoseconds distance) { return {residual, distance}; }

Measurement sample(leapdb::Nanoseconds raw, leapdb::Nanoseconds offset, leapdb::Nanoseconds delay) {
  Measurement m;
  m.raw = raw, m.offset = offset, m.delay = delay;
  return m;
}

}  // namespace

TEST_CASE("filter: the newest sample unless it was queued, then the least delayed") {
  SampleFilter filter;
  const Line line{seconds{0}, seconds{100}, {}};
  filter.add(sample(seconds{1}, seconds{100}, microseconds{300}));
  filter.add(sample(seconds{2}, seconds{100} + microseconds{5}, microseconds{500}));
  CHECK(filter.best(line)->sample.raw == seconds{2});  // 500 us is not twice 300 us
  filter.add(sample(seconds{3}, seconds{100} + microseconds{400}, microseconds{900}));
  CHECK(filter.best(line)->sample.raw == seconds{1});  // queued: 900 us
  filter.add(sample(seconds{4}, seconds{100}, microseconds{610}));
  CHECK(filter.best(line)->sample.raw == seconds{4});  // within 2 x 300 + 20 us
}

TEST_CASE("filter: the least delayed sample, judged against the line, and the jitter about it") {
  SampleFilter filter;
  const Line line{seconds{0}, seconds{100}, leapdb::Rate::from_ppm(10)};
  // Offsets follow the line plus 50 us; the queued ones (delay 5 ms) are 2 ms late.
  for (int i = 0; i < 8; ++i) {
    const leapdb::Nanoseconds raw = seconds{i};
    const bool queued = i != 3;
    filter.add(sample(raw, line.at_raw(raw) + microseconds{50} - (queued ? milliseconds{2} : nanoseconds{0}),
                      queued ? milliseconds{5} : microseconds{300}));
  }
  const auto best = filter.best(line);
  REQUIRE(best);
  CHECK(best->sample.raw == seconds{3});
  CHECK(best->residual == microseconds{50});
  CHECK(best->jitter.count() == doctest::Approx(2e6).epsilon(0.01));
  // Only the last eight are kept.
  for (int i = 8; i < 16; ++i) filter.add(sample(seconds{i}, line.at_raw(seconds{i}), milliseconds{1}));
  CHECK(filter.best(line)->residual == nanoseconds{0});
  CHECK(filter.best(line)->jitter == nanoseconds{0});
}

TEST_CASE("selection: the majority's intersection, a falseticker outside it") {
  const std::vector<Candidate> c{at(microseconds{100}, microseconds{500}), at(microseconds{-50}, microseconds{300}),
                                 at(seconds{2}, microseconds{400})};
  const Selection s = select(c, 2);
  REQUIRE(s.ok);
  CHECK(s.truechimers == std::vector<std::size_t>{1, 0});  // best (smallest distance) first
  CHECK(s.falsetickers == std::vector<std::size_t>{2});
  CHECK(s.low == microseconds{-350});
  CHECK(s.high == microseconds{250});
  // 1/λ weights: (100/500 - 50/300) / (1/500 + 1/300).
  CHECK(static_cast<double>(s.combined.count()) == doctest::Approx(6250).epsilon(1e-3));
}

TEST_CASE("selection: no majority, too few servers, touching intervals") {
  CHECK_FALSE(select(std::vector<Candidate>{at(seconds{0}, microseconds{10}), at(seconds{1}, microseconds{10})}, 1).ok);
  const Selection few = select(std::vector<Candidate>{at(seconds{0}, microseconds{10})}, 2);
  CHECK_FALSE(few.ok);
  CHECK(few.why == "1 usable server(s), minsources is 2");
  const Selection one = select(std::vector<Candidate>{at(seconds{0}, microseconds{10})}, 1);
  CHECK(one.ok);
  CHECK(one.combined == seconds{0});
  CHECK(select(std::vector<Candidate>{at(microseconds{0}, microseconds{10}), at(microseconds{20}, microseconds{10})}, 2).ok);
  const Selection split = select(std::vector<Candidate>{at(seconds{0}, microseconds{10}), at(seconds{0}, microseconds{10}),
                                                        at(seconds{1}, microseconds{10}), at(seconds{1}, microseconds{10})},
                                 1);
  CHECK_FALSE(split.ok);
  CHECK(split.why.starts_with("no majority agrees"));
}

TEST_CASE("selection: a server without the leap warning in the last 12 hours before a leap smears or ignores it") {
  const leapdb::LeapTable& table = upstream_test::table();
  const leapdb::UtcTime leap = leapdb::UtcTime{sys_days{year{2017} / January / 1}};
  CHECK_FALSE(leap_refusal(ntp::LeapIndicator::none, table, leap - hours{13}));
  const auto why = leap_refusal(ntp::LeapIndicator::none, table, leap - hours{11});
  REQUIRE(why);
  CHECK(*why == "announces no inserted second for the leap at 2017-01-01T00:00:00.000000000Z the leap table has: "
                "it smears or ignores the leap");
  CHECK_FALSE(leap_refusal(ntp::LeapIndicator::insert, table, leap - hours{11}));
  CHECK(leap_refusal(ntp::LeapIndicator::remove, table, leap - hours{1}));
  CHECK_FALSE(leap_refusal(ntp::LeapIndicator::none, table, leap + seconds{1}));
}

TEST_CASE("drift detector: a smear's steady drift, not an offset or noise") {
  std::mt19937 random(3);
  std::normal_distribution<double> noise(0, 50'000);  // 50 us: a LAN
  DriftDetector smear, offset, noisy;
  for (int i = 0; i < 16; ++i) {
    const leapdb::Nanoseconds raw = seconds{16 * i};
    // 11.6 ppm: one second over a day.
    smear.add(raw, leapdb::Rate::from_ppm(11.6).over(raw) + nanoseconds{std::llround(noise(random))});
    offset.add(raw, milliseconds{3} + nanoseconds{std::llround(noise(random))});
    noisy.add(raw, nanoseconds{std::llround(noise(random) * 20)});  // 1 ms scatter
  }
  REQUIRE(smear.drifting_ppm());
  CHECK(*smear.drifting_ppm() == doctest::Approx(11.6).epsilon(0.05));
  CHECK_FALSE(offset.drifting_ppm());
  CHECK_FALSE(noisy.drifting_ppm());

  // A rehearsal smearing a second over a minute is seen within seconds.
  DriftDetector fast;
  for (int i = 0; i < 6; ++i) fast.add(seconds{i}, leapdb::Rate::from_ppm(16'667).over(seconds{i}));
  CHECK(fast.drifting_ppm());
  DriftDetector short_span;
  for (int i = 0; i < 6; ++i) short_span.add(milliseconds{500 * i}, leapdb::Rate::from_ppm(16'667).over(milliseconds{500 * i}));
  CHECK_FALSE(short_span.drifting_ppm());
}
