#include "server/reference/tracker.hpp"

#include <doctest/doctest.h>

#include <random>

using namespace std::chrono;
using leapdb::Nanoseconds;
using reference::OffsetTracker;

namespace {

const leapdb::UtcTime kStart = leapdb::utc_from_unix_nanoseconds(1'800'000'000'000'000'000);

}  // namespace

TEST_CASE("no samples, no line; one sample, a flat line through it") {
  OffsetTracker tracker;
  CHECK_FALSE(tracker.fit().has_value());
  tracker.add({kStart, Nanoseconds{-2'500'000'000}, microseconds{1}});
  const auto fit = tracker.fit().value();
  CHECK(fit.line.at == kStart);
  CHECK(fit.line.offset == Nanoseconds{-2'500'000'000});
  CHECK(fit.line.rate == leapdb::Rate{});
  CHECK(fit.error == microseconds{1});
}

TEST_CASE("a drifting reference: the line recovers offset and rate from noisy samples") {
  std::mt19937_64 random{7};
  std::normal_distribution<double> noise{0, 200};  // ns
  for (const double ppm : {0.0, 12.5, -47.0, 300.0}) {
    CAPTURE(ppm);
    OffsetTracker tracker{16};
    const Nanoseconds base{3'000'000};
    for (int i = 0; i < 40; ++i) {
      const leapdb::UtcTime at = kStart + seconds{i};
      const double truth = static_cast<double>(base.count()) + ppm * 1e3 * i;
      tracker.add({at, Nanoseconds{std::llround(truth + noise(random))}, Nanoseconds{100}});
    }
    const auto fit = tracker.fit().value();
    CHECK(fit.samples == 16);
    CHECK(fit.line.at == kStart + seconds{39});
    CHECK(std::abs(fit.line.rate.ppm() - ppm) < 0.05);
    const double truth_now = static_cast<double>(base.count()) + ppm * 1e3 * 39;
    CHECK(std::abs(static_cast<double>(fit.line.offset.count()) - truth_now) < 300);
    // The error bound covers the scatter (about two sigma) and the samples' own error.
    CHECK(fit.error >= Nanoseconds{100});
    CHECK(fit.error < Nanoseconds{1'500});
    // Between samples the line predicts where the reference is.
    const double ahead = truth_now + ppm * 1e3 * 0.5;
    CHECK(std::abs(static_cast<double>(fit.line.of(kStart + milliseconds{39'500}).count()) - ahead) < 400);
  }
}

TEST_CASE("a wild sample is set aside; a run of them is a new truth") {
  OffsetTracker tracker;
  for (int i = 0; i < 8; ++i) CHECK(tracker.add({kStart + seconds{i}, microseconds{50}, microseconds{1}}));
  CHECK_FALSE(tracker.add({kStart + seconds{8}, milliseconds{30}, microseconds{1}}));
  CHECK(tracker.fit()->line.offset == microseconds{50});
  CHECK(tracker.add({kStart + seconds{9}, microseconds{50}, microseconds{1}}));
  // The system clock was stepped by a second: three samples agree on it, the line follows.
  CHECK_FALSE(tracker.add({kStart + seconds{10}, microseconds{50} + seconds{1}, microseconds{1}}));
  CHECK_FALSE(tracker.add({kStart + seconds{11}, microseconds{50} + seconds{1}, microseconds{1}}));
  CHECK(tracker.add({kStart + seconds{12}, microseconds{50} + seconds{1}, microseconds{1}}));
  CHECK(tracker.size() == 1);
  CHECK(tracker.fit()->line.offset == microseconds{50} + seconds{1});
}

TEST_CASE("a median filter: a few outliers among the kept samples do not bend the line") {
  OffsetTracker tracker{9};
  // Too few for the outlier check on arrival: the first three include the spike.
  tracker.add({kStart, microseconds{10}, Nanoseconds{10}});
  tracker.add({kStart + seconds{1}, milliseconds{80}, Nanoseconds{10}});
  for (int i = 2; i < 9; ++i) tracker.add({kStart + seconds{i}, microseconds{10}, Nanoseconds{10}});
  const auto fit = tracker.fit().value();
  CHECK(fit.samples == 8);
  CHECK(std::chrono::abs(fit.line.offset - microseconds{10}) < Nanoseconds{5});
}

TEST_CASE("a reading going backwards means the system clock was stepped: start afresh") {
  OffsetTracker tracker;
  for (int i = 0; i < 5; ++i) tracker.add({kStart + seconds{i}, microseconds{5}, Nanoseconds{10}});
  CHECK(tracker.add({kStart + seconds{2}, seconds{2}, Nanoseconds{10}}));
  CHECK(tracker.size() == 1);
}

TEST_CASE("an implausible rate is taken as no rate") {
  OffsetTracker tracker;
  for (int i = 0; i < 3; ++i) tracker.add({kStart + seconds{i}, milliseconds{i * 2}, milliseconds{1}});  // 2000 ppm
  CHECK(tracker.fit()->line.rate == leapdb::Rate{});
}
