#include "smear/smearer.hpp"

#include <doctest/doctest.h>
#include <quadmath.h>

#include <random>

#include "leapdb/parse.hpp"
#include "tests/unit/leapdb/files.hpp"

using namespace std::chrono;
using leapdb::Nanoseconds;
using leapdb::TaiTime;
using leapdb::UtcTime;

namespace {

UtcTime utc(int y, unsigned m, unsigned d, int hh = 0, int mm = 0, int ss = 0) {
  return UtcTime{sys_days{year{y} / month{m} / day{d}}} + hours{hh} + minutes{mm} + seconds{ss};
}

const leapdb::LeapTable& real_table() {
  static const leapdb::LeapTable table =
      leapdb::parse(test_files::fixture("leap-seconds.list"), "leap-seconds.list").table;
  return table;
}

const leapdb::LeapTable& negative_table() {
  static const leapdb::LeapTable table =
      leapdb::parse(test_files::fixture("negative-leap.list"), "negative-leap.list").table;
  return table;
}

smear::Smearer smearer(const std::string& spec, const leapdb::LeapTable& table = real_table()) {
  const auto profile = smear::parse_profile(spec);
  REQUIRE_MESSAGE(profile.profile.has_value(), profile.error);
  auto made = smear::Smearer::make(table, *profile.profile);
  REQUIRE_MESSAGE(made.smearer.has_value(), made.error);
  return *made.smearer;
}

// The offset served at a true-UTC instant, in nanoseconds.
std::int64_t offset_at(const smear::Smearer& s, UtcTime t) { return s.at(s.table().to_tai(t)).offset.count(); }

double offset_error(const smear::Smearer& s, UtcTime t, double expected_ns) {
  return std::abs(static_cast<double>(offset_at(s, t)) - expected_ns);
}

// Quad precision (113-bit mantissa), the reference the smear is checked against.
__extension__ typedef __float128 Quad;
Quad quad(double x) { return static_cast<Quad>(x); }

const std::vector<std::string> kAllPresets{"google", "aws", "google-2016", "ntpd", "ntpsec", "chrony", "meta"};

}  // namespace

TEST_CASE("known values around the 2016-12-31 leap") {
  // google: linear over the 86401 SI seconds from noon to noon.
  CHECK(offset_error(smearer("google"), utc(2016, 12, 31, 18), -21600e9 / 86401) <= 1.0);
  CHECK(offset_at(smearer("google"), utc(2016, 12, 31, 12)) == 0);
  CHECK(offset_at(smearer("google"), utc(2017, 1, 1, 12)) == 0);
  // chrony: quadratic from the leap, 31250 s per half; 6 h after midnight 0.23887872 s is absorbed.
  CHECK(offset_at(smearer("chrony"), utc(2017, 1, 1, 6)) == 761'121'280);
  // ntpd: cosine over the day that ends at the leap: half way is exactly half a second.
  CHECK(offset_at(smearer("ntpd"), utc(2016, 12, 31, 12)) == -500'000'000);
  // ntpsec: linear over the same day.
  CHECK(offset_at(smearer("ntpsec"), utc(2016, 12, 31, 18)) == -750'000'000);
  // google-2016: 20 h, 10 h each side.
  CHECK(offset_error(smearer("google-2016"), utc(2016, 12, 31, 19), -18000e9 / 72001) <= 1.0);
  CHECK(offset_at(smearer("google-2016"), utc(2016, 12, 31, 14)) == 0);
}

TEST_CASE("a negative leap mirrors each known value") {
  const auto& table = negative_table();  // 23:59:59 deleted at the end of 2029-06-30
  CHECK(offset_error(smearer("google", table), utc(2029, 6, 30, 18), 21600e9 / 86399) <= 1.0);
  CHECK(offset_at(smearer("chrony", table), utc(2029, 7, 1, 6)) == -761'121'280);
  // Windows ending at the leap cover the last UTC day, which has 86399 SI seconds when
  // 23:59:59 is deleted: noon is then just past half way.
  CHECK(offset_error(smearer("ntpd", table), utc(2029, 6, 30, 12), (1 - std::cos(M_PI * 43200 / 86399)) / 2 * 1e9) <= 1.0);
  CHECK(offset_error(smearer("ntpsec", table), utc(2029, 6, 30, 18), 64800e9 / 86399) <= 1.0);
  CHECK(offset_at(smearer("ntpsec", table), utc(2029, 6, 30)) == 0);
  CHECK(offset_at(smearer("ntpsec", table), utc(2029, 7, 1)) == 0);
}

TEST_CASE("the leap indicator: 0 when smearing, announced during the last day on true UTC") {
  const auto google = smearer("google");
  const auto none = smearer("none");
  for (const UtcTime t : {utc(2016, 12, 31), utc(2016, 12, 31, 23, 59, 59), utc(2016, 12, 31, 12)}) {
    CHECK(google.at(real_table().to_tai(t)).leap_indicator == 0);
    CHECK(none.at(real_table().to_tai(t)).leap_indicator == 1);
  }
  // Also during the inserted second itself (TAI one second after 23:59:59 began).
  CHECK(none.at(real_table().to_tai(utc(2016, 12, 31, 23, 59, 59)) + 1500ms).leap_indicator == 1);
  CHECK(none.at(real_table().to_tai(utc(2016, 12, 30, 23, 59, 59))).leap_indicator == 0);
  CHECK(none.at(real_table().to_tai(utc(2017, 1, 1))).leap_indicator == 0);
  const auto none_negative = smearer("none", negative_table());
  CHECK(none_negative.at(negative_table().to_tai(utc(2029, 6, 30, 1))).leap_indicator == 2);
  CHECK(none.at(real_table().to_tai(utc(2016, 12, 31, 23, 59, 59))).offset.count() == 0);
}

TEST_CASE("true UTC repeats 23:59:59 for an inserted second and skips it for a deleted one") {
  const auto none = smearer("none");
  const TaiTime last_normal = real_table().to_tai(utc(2016, 12, 31, 23, 59, 59));
  CHECK(none.at(last_normal).time == utc(2016, 12, 31, 23, 59, 59));
  CHECK(none.at(last_normal + 1s).time == utc(2016, 12, 31, 23, 59, 59));
  CHECK(none.at(last_normal + 2s).time == utc(2017, 1, 1));
  const auto none_negative = smearer("none", negative_table());
  const TaiTime before = negative_table().to_tai(utc(2029, 6, 30, 23, 59, 58));
  CHECK(none_negative.at(before + 1s).time == utc(2029, 7, 1));
}

TEST_CASE("chrony's curve goes straight through the leap second, then catches up") {
  const auto chrony = smearer("chrony");
  const TaiTime leap_second = real_table().to_tai(utc(2016, 12, 31, 23, 59, 59)) + 1s;
  const auto during = chrony.at(leap_second + 500ms);
  CHECK(during.time == utc(2017, 1, 1) + 500ms);  // no repeat
  CHECK(during.offset == 1s);
  CHECK_FALSE(during.active);
  CHECK(chrony.at(leap_second + 1s + 62500s).offset.count() == 0);
  CHECK(chrony.max_frequency_ppm() == doctest::Approx(32.0).epsilon(1e-9));
}

TEST_CASE("progress, activity and frequency") {
  const auto google = smearer("google");
  const auto mid = google.at(real_table().to_tai(utc(2016, 12, 31, 18)));
  CHECK(mid.active);
  CHECK(mid.progress == doctest::Approx(21600.0 / 86401));
  CHECK(mid.frequency_ppm == doctest::Approx(-1e6 / 86401));
  CHECK(google.at(real_table().to_tai(utc(2016, 12, 31, 11))).progress == 0);
  CHECK(google.at(real_table().to_tai(utc(2017, 1, 1, 13))).progress == 1);
  CHECK_FALSE(google.at(real_table().to_tai(utc(2017, 1, 1, 13))).active);
  const auto ntpd_peak = smearer("ntpd").at(real_table().to_tai(utc(2016, 12, 31, 12)));
  CHECK(ntpd_peak.frequency_ppm == doctest::Approx(-1e6 * M_PI / (2 * 86400)));
  CHECK(smearer("ntpd").max_frequency_ppm() == doctest::Approx(1e6 * M_PI / (2 * 86400)));
}

TEST_CASE("properties over random instants, every preset, both signs") {
  std::mt19937_64 random{86401};
  for (const auto* table : {&real_table(), &negative_table()}) {
    for (const auto& name : kAllPresets) {
      CAPTURE(name);
      const auto s = smearer(name, *table);
      const double bound = s.max_frequency_ppm() * 1e-6;
      for (const smear::Window& w : s.windows()) {
        // Continuous at both edges; the full leap applied at the end.
        CHECK(std::abs((s.at(w.begins).time - s.at(w.begins - 1ns).time).count() - 1) <= 1);
        CHECK(std::abs((s.at(w.ends + 1ns).time - s.at(w.ends).time).count() - 1) <= 1);
        CHECK(s.at(w.ends).time == UtcTime{w.ends.time_since_epoch() - seconds{w.tai_utc_before + w.sign}});
        if (name != "chrony" && name != "meta") CHECK(s.at(w.begins).offset.count() == 0);
        std::uniform_int_distribution<std::int64_t> inside{(w.begins - 3600s).time_since_epoch().count(),
                                                           (w.ends + 3600s).time_since_epoch().count()};
        std::uniform_int_distribution<std::int64_t> step{1, 100'000'000'000};  // up to 100 s
        for (int i = 0; i < 300; ++i) {
          const TaiTime a{Nanoseconds{inside(random)}};
          const Nanoseconds d{step(random)};
          const auto served_a = s.at(a).time;
          const auto served_b = s.at(a + d).time;
          // Monotonic, and never faster or slower than the profile allows.
          REQUIRE(served_b >= served_a);
          const double drift = static_cast<double>((served_b - served_a - d).count());
          REQUIRE(std::abs(drift) <= bound * static_cast<double>(d.count()) + 2);
        }
      }
    }
  }
}

TEST_CASE("offsets match the formulas evaluated in quad precision to within 1 ns") {
  std::mt19937_64 random{1};
  for (const std::string name : {"google", "ntpd", "chrony"}) {
    CAPTURE(name);
    const auto s = smearer(name);
    const smear::Window& w = s.windows().back();
    const std::int64_t length = (w.ends - w.begins).count();
    std::uniform_int_distribution<std::int64_t> elapsed{0, length};
    for (int i = 0; i < 20000; ++i) {
      const std::int64_t e = i < 3 ? (i == 0 ? 0 : i == 1 ? length / 2 : length) : elapsed(random);
      const Quad x = static_cast<Quad>(e) / static_cast<Quad>(length);
      Quad fraction = 0;
      if (name == "google") {
        fraction = x;
      } else if (name == "ntpd") {
        fraction = (1 - cosq(acosq(quad(-1)) * x)) / 2;
      } else {
        fraction = x <= quad(0.5) ? 2 * x * x : 1 - 2 * (1 - x) * (1 - x);
      }
      const Quad expected_ns = -w.sign * fraction * quad(1e9);
      const TaiTime t = w.begins + Nanoseconds{e};
      // Offset from where this timescale stood before the window (true UTC may have stepped).
      const std::int64_t served = (s.at(t).time.time_since_epoch() - t.time_since_epoch()).count() +
                                  std::int64_t{w.tai_utc_before} * 1'000'000'000;
      CAPTURE(e);
      REQUIRE(fabsq(static_cast<Quad>(served) - expected_ns) <= quad(1.0));
    }
  }
}

TEST_CASE("unsmear inverts the smear to the nanosecond") {
  std::mt19937_64 random{2};
  for (const auto* table : {&real_table(), &negative_table()}) {
    for (const auto& name : kAllPresets) {
      CAPTURE(name);
      const auto s = smearer(name, *table);
      const smear::Window& w = s.windows().back();
      std::uniform_int_distribution<std::int64_t> around{(w.begins - 600s).time_since_epoch().count(),
                                                         (w.ends + 600s).time_since_epoch().count()};
      for (int i = 0; i < 2000; ++i) {
        const TaiTime t{Nanoseconds{around(random)}};
        const UtcTime served = s.at(t).time;
        const TaiTime back = s.unsmear(served);
        REQUIRE(s.at(back).time == served);
        REQUIRE(std::abs((back - t).count()) <= 1);
      }
    }
  }
}

TEST_CASE("leaps closer than one window are refused") {
  leapdb::LeapTable table = real_table();
  // Leaps at the ends of January and February: 28 days apart, less than a 30-day window.
  table.leaps.push_back(leapdb::Leap{utc(2017, 2, 1), 1, 38, 0});
  table.leaps.push_back(leapdb::Leap{utc(2017, 3, 1), 1, 39, 0});
  auto profile = smear::parse_profile("linear:window=2592000,anchor=center").profile.value();
  const auto made = smear::Smearer::make(table, profile);
  CHECK_FALSE(made.smearer.has_value());
  CHECK(made.error == "the leap at the end of 2017-01-31 and the leap at the end of 2017-02-28 are closer than the "
                      "'linear:window=2592000,anchor=center' smear window (2592000 s): their smears would overlap");
  CHECK(smear::Smearer::make(table, smear::parse_profile("google").profile.value()).smearer.has_value());
}

TEST_CASE("a leap that is not at midnight (a rehearsal's) is named by its instant, not by its day") {
  const leapdb::LeapTable table = leapdb::with_extra_leap(real_table(), utc(2017, 1, 1) + std::chrono::hours{6}, 1);
  const auto made = smear::Smearer::make(table, smear::parse_profile("google").profile.value());
  CHECK_FALSE(made.smearer.has_value());
  CHECK(made.error == "the leap at the end of 2016-12-31 and the leap at 2017-01-01T06:00:00Z are closer than the "
                      "'google' smear window (86400 s): their smears would overlap");
}

namespace {

void check_same(const smear::Served& fast, const smear::Served& slow) {
  CHECK(fast.time == slow.time);
  CHECK(fast.offset == slow.offset);
  CHECK(fast.active == slow.active);
  CHECK(fast.progress == slow.progress);
  CHECK(fast.frequency_ppm == slow.frequency_ppm);
  CHECK(fast.leap_indicator == slow.leap_indicator);
}

}  // namespace

TEST_CASE("a steady stretch answers exactly as at() does, up to both of its edges") {
  std::mt19937_64 random{7};
  std::vector<std::string> specs = kAllPresets;
  specs.push_back("none");
  specs.push_back("linear:window=7200,anchor=start");
  for (const auto* table : {&real_table(), &negative_table()}) {
    for (const std::string& spec : specs) {
      CAPTURE(spec);
      const smear::Smearer s = smearer(spec, *table);
      for (const leapdb::Leap& leap : table->leaps) {
        const TaiTime midnight = table->to_tai(leap.effective);
        // Anchors every 17 minutes from two days before to two days after, plus the edges
        // of the leap second itself to the nanosecond.
        std::vector<TaiTime> anchors;
        for (minutes d = -hours{48}; d <= hours{48}; d += minutes{17}) anchors.push_back(midnight + d);
        for (const auto d : {-2'000'000'001LL, -1'000'000'001LL, -1'000'000'000LL, -1LL, 0LL, 1LL, 999'999'999LL}) {
          anchors.push_back(midnight + Nanoseconds{d});
        }
        for (const TaiTime anchor : anchors) {
          const smear::Steady steady = s.steady_around(anchor);
          if (steady.from == steady.until) {
            CHECK(s.at(anchor).active);  // only a smear in progress has no steady stretch
            continue;
          }
          REQUIRE(steady.contains(anchor));
          // Clip unbounded stretches to a century so probes stay representable.
          const TaiTime from = std::max(steady.from, anchor - hours{24 * 365 * 50});
          const TaiTime until = std::min(steady.until, anchor + hours{24 * 365 * 50});
          std::vector<TaiTime> probes{from, from + Nanoseconds{1}, anchor, until - Nanoseconds{1}};
          std::uniform_int_distribution<std::int64_t> inside{0, (until - from).count() - 1};
          for (int i = 0; i < 8; ++i) probes.push_back(from + Nanoseconds{inside(random)});
          for (const TaiTime p : probes) check_same(s.at(p, steady), s.at(p));
        }
      }
    }
  }
}

TEST_CASE("between leaps the steady stretch lasts until the next smear begins") {
  const smear::Smearer s = smearer("google");
  const TaiTime now = s.table().to_tai(utc(2026, 11, 23, 7));
  const smear::Steady steady = s.steady_around(now);
  CHECK(steady.from == s.windows().back().ends + Nanoseconds{1});
  CHECK(steady.until == TaiTime::max());
  CHECK(steady.shift == seconds{37});
}
