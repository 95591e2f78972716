#include "server/reference/upstream/clock.hpp"

#include <doctest/doctest.h>

#include <random>
#include <vector>

using namespace std::chrono;
using namespace reference::upstream;

namespace {

// TAI minus raw for an oscillator `ppm` slow against TAI: the phase grows at that rate.
leapdb::Nanoseconds truth(leapdb::Nanoseconds raw, double ppm, leapdb::Nanoseconds base = seconds{1'700'000'000}) {
  return base + leapdb::Rate::from_ppm(ppm).over(raw);
}

}  // namespace

TEST_CASE("fit_line: a line's slope exactly, its error from the scatter") {
  std::vector<Point> points;
  for (int i = 0; i < 10; ++i) points.push_back({seconds{i}, seconds{1'700'000'000} + microseconds{25 * i}});
  const auto fit = fit_line(points);
  REQUIRE(fit);
  CHECK(fit->slope_ppm == doctest::Approx(25).epsilon(1e-9));
  CHECK(fit->slope_stderr_ppm < 1e-6);
  CHECK(fit->value_at(seconds{20}) == seconds{1'700'000'000} + microseconds{500});

  std::mt19937 random(7);
  std::normal_distribution<double> noise(0, 10'000);  // 10 us
  points.clear();
  for (int i = 0; i < 16; ++i) {
    points.push_back({seconds{i}, seconds{5} + microseconds{25 * i} + nanoseconds{std::llround(noise(random))}});
  }
  const auto noisy = fit_line(points);
  REQUIRE(noisy);
  // 10 us over a 15 s span: a fraction of a ppm, and the slope within a few errors of it.
  CHECK(noisy->slope_stderr_ppm > 0.1);
  CHECK(noisy->slope_stderr_ppm < 2);
  CHECK(std::abs(noisy->slope_ppm - 25) < 4 * noisy->slope_stderr_ppm);

  CHECK_FALSE(fit_line(std::vector<Point>{{seconds{1}, seconds{1}}}));
  CHECK_FALSE(fit_line(std::vector<Point>{{seconds{1}, seconds{1}}, {seconds{1}, seconds{2}}}));
}

TEST_CASE("drift file: parse what format writes, and say what is wrong") {
  std::string error;
  const auto drift = parse_drift(format_drift(Drift{-12.5, 0.25}), error);
  REQUIRE(drift);
  CHECK(drift->ppm == -12.5);
  CHECK(drift->stderr_ppm == 0.25);
  CHECK(parse_drift("3.5 0.1", error));  // no newline

  CHECK_FALSE(parse_drift("", error));
  CHECK(error == "frequency (ppm): expected a number");
  CHECK_FALSE(parse_drift("3.5\n", error));
  CHECK(error == "standard error (ppm): expected a number");
  CHECK_FALSE(parse_drift("3.5 0.1 x\n", error));
  CHECK(error == "unexpected text after the standard error");
  CHECK_FALSE(parse_drift("900 0.1\n", error));
  CHECK(error.starts_with("frequency (ppm): out of range"));
  CHECK_FALSE(parse_drift("nan 0.1\n", error));
}

TEST_CASE("software clock: the first update sets the phase, a later large error steps only early") {
  SoftwareClock clock(Drift{0, 0.1});
  CHECK_FALSE(clock.started());
  CHECK_FALSE(clock.update(seconds{1}, seconds{1000}));
  CHECK(clock.phase_at(seconds{1}) == seconds{1000});
  // Second update 300 ms off: a step of that.
  const auto step = clock.update(seconds{2}, seconds{1000} + milliseconds{300});
  REQUIRE(step);
  CHECK(*step == milliseconds{300});
  CHECK(clock.pending() == nanoseconds{0});
  CHECK(clock.phase_at(seconds{2}) == seconds{1000} + milliseconds{300});

  // After the first three updates, even 300 ms is slewed, never stepped.
  SoftwareClock late(Drift{0, 0.1});
  for (int i = 1; i <= 3; ++i) late.update(seconds{i}, seconds{1000});
  CHECK_FALSE(late.update(seconds{4}, seconds{1000} + milliseconds{300}));
  CHECK(late.pending() > milliseconds{0});
}

TEST_CASE("software clock: until the frequency is known the phase follows the measurements") {
  SoftwareClock clock;
  clock.update(seconds{1}, seconds{1000});
  CHECK_FALSE(clock.update(seconds{2}, seconds{1000} + milliseconds{300}));
  CHECK(clock.phase_at(seconds{2}) == seconds{1000} + milliseconds{300});
  CHECK(clock.pending() == nanoseconds{0});
  CHECK_FALSE(clock.frequency_known());
}

TEST_CASE("software clock: the slew is bounded at 500 ppm and follows pending/16 s below it") {
  SoftwareClock clock(Drift{0, 0.1});
  for (int i = 1; i <= 4; ++i) clock.update(seconds{i}, seconds{1000});
  clock.update(seconds{5}, seconds{1000} + milliseconds{50});
  const leapdb::Nanoseconds pending = clock.pending();
  REQUIRE(pending > milliseconds{5});
  const leapdb::Nanoseconds before = clock.phase_at(seconds{5});
  // 1 s at most 500 ppm: 500 us.
  clock.advance(seconds{6});
  const leapdb::Nanoseconds slewed = clock.phase_at(seconds{6}) - before - leapdb::Rate::from_ppm(clock.frequency().ppm).over(seconds{1});
  CHECK(std::abs(slewed.count()) <= 500'001);
  CHECK(std::abs(slewed.count()) >= 499'000);
  CHECK(clock.rate_ppm_at(seconds{6}) - clock.frequency().ppm == doctest::Approx(500).epsilon(0.01));

  SoftwareClock small(Drift{0, 0.1});
  for (int i = 1; i <= 4; ++i) small.update(seconds{i}, seconds{1000});
  small.update(seconds{5}, seconds{1000} + microseconds{1600});
  const leapdb::Nanoseconds p = small.pending();
  const leapdb::Nanoseconds start = small.phase_at(seconds{5});
  small.advance(seconds{6});
  const leapdb::Nanoseconds moved = small.phase_at(seconds{6}) - start - leapdb::Rate::from_ppm(small.frequency().ppm).over(seconds{1});
  CHECK(static_cast<double>(moved.count()) == doctest::Approx(static_cast<double>(p.count()) / 16).epsilon(0.01));
}

TEST_CASE("software clock: learns a 30 ppm oscillator, knows it after 4 points over 6 s, then tracks within a microsecond") {
  SoftwareClock clock;
  for (int s = 1; s <= 120; s += 2) {
    clock.advance(seconds{s});
    clock.update(seconds{s}, truth(seconds{s}, 30));
    if (s < 7) CHECK_FALSE(clock.frequency_known());
  }
  CHECK(clock.frequency_known());
  CHECK(clock.frequency().ppm == doctest::Approx(30).epsilon(1e-4));
  // What the first updates missed is slewed out with a 16 s time constant.
  CHECK(std::abs((clock.phase_at(seconds{121}) - truth(seconds{121}, 30)).count()) < 1'000);
  // Coasting a minute on the learned frequency.
  CHECK(std::abs((clock.phase_at(seconds{180}) - truth(seconds{180}, 30)).count()) < 10'000);
}

TEST_CASE("software clock: a stored drift is known at once, and kept until the regression is as good") {
  SoftwareClock clock(Drift{-8, 0.5});
  CHECK(clock.frequency_known());
  clock.update(seconds{1}, truth(seconds{1}, -8.2));
  clock.update(seconds{2}, truth(seconds{2}, -8.2));
  CHECK(clock.frequency().ppm == -8);
  for (int s = 3; s <= 20; ++s) clock.update(seconds{s}, truth(seconds{s}, -8.2));
  CHECK(clock.frequency().ppm == doctest::Approx(-8.2).epsilon(1e-3));
}
