#include "server/reference/phc.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <set>

#include "leapdb/parse.hpp"
#include "tests/unit/leapdb/files.hpp"

using namespace std::chrono;
using leapdb::Nanoseconds;
using reference::CrossTimestamp;
using reference::PhcRead;
using reference::PhcTriple;

namespace {

const leapdb::LeapTable& table() { return test_files::leap_table(); }

// TAI-UTC is 37 s.
const leapdb::UtcTime kStart = leapdb::UtcTime{sys_days{year{2026} / March / 1}} + hours{12};

// What the fake clock does; the test keeps a pointer while the source owns the device.
struct FakeState {
  reference::PhcCapabilities capabilities;
  std::set<CrossTimestamp> unsupported;
  bool failing = false;
  leapdb::UtcTime now = kStart;
  // The PHC at a system-clock reading: by default exactly TAI.
  std::function<Nanoseconds(leapdb::UtcTime)> phc = [](leapdb::UtcTime t) { return t.time_since_epoch() + seconds{37}; };
  // Extended and basic windows: widths; the narrowest reads true, the others 300 ns off.
  std::vector<Nanoseconds> widths{nanoseconds{800}, nanoseconds{200}, nanoseconds{500}};
  std::vector<CrossTimestamp> calls;
};

class FakePhc final : public reference::PhcDevice {
 public:
  explicit FakePhc(FakeState& state) : state_(state) {}
  reference::PhcCapabilities capabilities() const override { return state_.capabilities; }
  PhcRead read(CrossTimestamp method) override {
    state_.calls.push_back(method);
    PhcRead out;
    if (state_.failing) {
      out.error = "PTP_SYS_OFFSET_EXTENDED: No such device";
      return out;
    }
    if (state_.unsupported.contains(method)) {
      out.status = PhcRead::Status::unsupported;
      out.error = std::string{reference::to_string(method)} + ": Operation not supported";
      return out;
    }
    out.status = PhcRead::Status::ok;
    if (method == CrossTimestamp::precise) {
      out.triples.push_back({state_.now, state_.phc(state_.now), state_.now});
      return out;
    }
    const Nanoseconds narrowest = *std::ranges::min_element(state_.widths);
    for (const Nanoseconds width : state_.widths) {
      const Nanoseconds wrong = width == narrowest ? Nanoseconds{0} : nanoseconds{300};
      out.triples.push_back({state_.now - width / 2, state_.phc(state_.now) + wrong, state_.now + width / 2});
    }
    return out;
  }

 private:
  FakeState& state_;
};

std::unique_ptr<reference::Source> source(FakeState& state, bool utc = false) {
  return reference::make_phc_source(std::make_unique<FakePhc>(state), {"/dev/ptp0", utc, 0x50484300, {}});
}

reference::Estimate poll(reference::Source& source, FakeState& state) {
  return source.poll(reference::Tick{table(), state.now, seconds{100}, reference::KernelClockStatus{}});
}

std::size_t count(const std::vector<reference::Notice>& notices, const std::string& event) {
  return static_cast<std::size_t>(std::ranges::count_if(notices, [&](const auto& n) { return n.event == event; }));
}

}  // namespace

TEST_CASE("narrowest_window: the middle of the narrowest forward window, half of it as the error") {
  const leapdb::UtcTime t = kStart;
  const auto reading = reference::narrowest_window({{t, seconds{1}, t + nanoseconds{900}},
                                                    {t + nanoseconds{1'000}, seconds{2}, t + nanoseconds{1'300}},
                                                    {t + nanoseconds{2'000}, seconds{3}, t + nanoseconds{1'990}}});
  REQUIRE(reading);
  CHECK(reading->system == t + nanoseconds{1'150});
  CHECK(reading->phc == seconds{2});
  CHECK(reading->window == nanoseconds{300});
  CHECK(reading->error() == nanoseconds{150});
  CHECK_FALSE(reference::narrowest_window({{t, seconds{1}, t - nanoseconds{1}}}));  // stepped back
  CHECK_FALSE(reference::narrowest_window({}));
}

TEST_CASE("phc: PRECISE is used when the driver offers it") {
  FakeState state;
  state.capabilities.precise = true;
  auto phc = source(state);
  const reference::Estimate e = poll(*phc, state);
  CHECK(state.calls == std::vector{CrossTimestamp::precise});
  CHECK(dynamic_cast<reference::PhcSource&>(*phc).method() == CrossTimestamp::precise);
  CHECK(e.tracking);
  CHECK(e.line.offset == Nanoseconds{0});
  CHECK(e.last_update == state.now);
  CHECK(e.stratum == 0);
  CHECK(e.reference_id == 0x50484300);
  CHECK(e.leap == reference::LeapWarning::unknown);
  CHECK(e.precision == -29);  // a zero-width window: the 1 ns floor
  const auto row = phc->report().at(0);
  CHECK(row.name == "/dev/ptp0");
  CHECK(row.state == reference::SourceState::selected);
  CHECK(row.reach == 1);
  const auto notices = phc->take_notices();
  REQUIRE(notices.size() == 1);
  CHECK(notices[0].event == "phc_reachable");
  CHECK(notices[0].fields.at(1).second == "PTP_SYS_OFFSET_PRECISE");
}

TEST_CASE("phc: without PRECISE, EXTENDED and its narrowest window") {
  FakeState state;
  auto phc = source(state);
  const reference::Estimate e = poll(*phc, state);
  CHECK(state.calls == std::vector{CrossTimestamp::extended});
  CHECK(e.line.offset == Nanoseconds{0});  // not the wider windows' 300 ns
  CHECK(e.dispersion == nanoseconds{100});
  CHECK(e.precision == -23);  // 100 ns
  const auto row = phc->report().at(0);
  CHECK(row.offset == Nanoseconds{0});
  CHECK(row.delay == nanoseconds{200});
  CHECK(row.error == nanoseconds{100});
}

TEST_CASE("phc: unsupported methods are dropped once, down to plain clock_gettime, and remembered") {
  FakeState state;
  state.capabilities.precise = true;  // claimed, but the driver refuses it
  state.unsupported = {CrossTimestamp::precise, CrossTimestamp::extended, CrossTimestamp::basic};
  state.widths = {nanoseconds{2'000}};
  auto phc = source(state);
  CHECK(poll(*phc, state).tracking);  // this very poll
  CHECK(state.calls == std::vector{CrossTimestamp::precise, CrossTimestamp::extended, CrossTimestamp::basic,
                                   CrossTimestamp::clock_gettime});
  auto notices = phc->take_notices();
  CHECK(count(notices, "phc_cross_timestamp_unsupported") == 3);
  CHECK(count(notices, "phc_reachable") == 1);

  state.calls.clear();
  state.now += seconds{1};
  CHECK(poll(*phc, state).tracking);
  CHECK(state.calls == std::vector{CrossTimestamp::clock_gettime});
  CHECK(phc->take_notices().empty());

  // Only the basic ioctl missing: EXTENDED is tried no more, nor is PRECISE when not offered.
  FakeState basic;
  basic.unsupported = {CrossTimestamp::extended};
  auto other = source(basic);
  poll(*other, basic);
  basic.now += seconds{1};
  poll(*other, basic);
  CHECK(basic.calls == std::vector{CrossTimestamp::extended, CrossTimestamp::basic, CrossTimestamp::basic});
}

TEST_CASE("phc: timescale tai or utc, at TAI-UTC 37") {
  const auto offset_of = [](bool utc, Nanoseconds phc_minus_utc) {
    FakeState state;
    state.capabilities.precise = true;
    state.phc = [=](leapdb::UtcTime t) { return t.time_since_epoch() + phc_minus_utc; };
    auto phc = source(state, utc);
    return poll(*phc, state).line.offset;
  };
  CHECK(offset_of(false, seconds{37}) == Nanoseconds{0});       // a TAI PHC at TAI
  CHECK(offset_of(true, seconds{0}) == Nanoseconds{0});         // a UTC PHC at UTC
  CHECK(offset_of(false, seconds{0}) == -seconds{37});          // a UTC PHC taken for TAI
  CHECK(offset_of(true, seconds{37}) == seconds{37});           // a TAI PHC taken for UTC
  CHECK(offset_of(false, seconds{37} + microseconds{5}) == microseconds{5});
}

TEST_CASE("phc: a PHC running 10 ppm fast gives a fitted rate of 10 ppm") {
  FakeState state;
  state.capabilities.precise = true;
  state.phc = [](leapdb::UtcTime t) { return t.time_since_epoch() + seconds{37} + (t - kStart) / 100'000; };
  auto phc = source(state);
  reference::Estimate e;
  for (int i = 0; i < 10; ++i, state.now += seconds{1}) e = poll(*phc, state);
  CHECK(e.tracking);
  CHECK(e.line.rate.ppm() == doctest::Approx(10.0).epsilon(0.001));
  CHECK(e.line.at == kStart + seconds{9});
  CHECK(std::chrono::abs(e.line.offset - microseconds{90}) <= nanoseconds{2});
}

TEST_CASE("phc: a read failure makes it unreachable, logged once; so is the recovery") {
  FakeState state;
  state.capabilities.precise = true;
  auto phc = source(state);
  poll(*phc, state);
  const leapdb::UtcTime good = state.now;
  phc->take_notices();

  state.failing = true;
  for (int i = 0; i < 3; ++i) {
    state.now += seconds{1};
    const reference::Estimate e = poll(*phc, state);
    CHECK_FALSE(e.tracking);
    CHECK(e.last_update == good);
  }
  auto notices = phc->take_notices();
  REQUIRE(notices.size() == 1);
  CHECK(notices[0].event == "phc_unreachable");
  CHECK(notices[0].level == reference::Notice::Level::warning);
  auto row = phc->report().at(0);
  CHECK(row.state == reference::SourceState::unreachable);
  CHECK(row.reach == 0b1000);
  CHECK(row.why == "cannot read the clock: PTP_SYS_OFFSET_EXTENDED: No such device");

  state.failing = false;
  for (int i = 0; i < 2; ++i) {
    state.now += seconds{1};
    CHECK(poll(*phc, state).tracking);
  }
  notices = phc->take_notices();
  REQUIRE(notices.size() == 1);
  CHECK(notices[0].event == "phc_reachable");
  CHECK(notices[0].level == reference::Notice::Level::info);
  row = phc->report().at(0);
  CHECK(row.state == reference::SourceState::selected);
  CHECK(row.why.empty());
  CHECK(row.reach == 0b100011);
}

TEST_CASE("phc: the real device factory says what is wrong with the path") {
  std::string error;
  CHECK_FALSE(reference::make_phc_source({"/dev/ptp9", false, 0, {}}, error));
  CHECK(error == "/dev/ptp9: cannot open: No such file or directory");
  error.clear();
  CHECK_FALSE(reference::make_phc_source({"/dev/null", true, 0, {}}, error));
  CHECK(error == "/dev/null is not a PTP hardware clock: PTP_CLOCK_GETCAPS: Inappropriate ioctl for device");
}

namespace {

// A ptp4l that never answers: its socket is there, nothing comes back.
class SilentPtp4l final : public reference::ptp4l::Channel {
 public:
  bool send(std::span<const std::byte>, std::string&) override { return true; }
  std::optional<reference::ptp4l::Datagram> receive(std::span<std::byte>, std::string&) override { return {}; }
};

}  // namespace

TEST_CASE("phc: with ptp4l configured, a readable PHC counts only while ptp4l says it is synchronized") {
  FakeState state;
  state.capabilities.precise = true;
  auto monitor = std::make_unique<reference::ptp4l::Monitor>(std::make_unique<SilentPtp4l>(), "/var/run/ptp4l");
  auto phc = reference::make_phc_source(std::make_unique<FakePhc>(state), {"/dev/ptp0", false, 0x50484300, {}},
                                        std::move(monitor));
  for (int i = 0; i < 4; ++i, state.now += seconds{1}) {
    const reference::Estimate e = poll(*phc, state);
    CHECK_FALSE(e.tracking);
    CHECK_FALSE(e.last_update.has_value());
  }
  const reference::SourceReport row = phc->report().front();
  CHECK(row.state == reference::SourceState::refused);
  CHECK(row.why.find("ptp4l at /var/run/ptp4l") != std::string::npos);
  CHECK(count(phc->take_notices(), "ptp4l_state") == 1);  // logged once, not every poll
}
