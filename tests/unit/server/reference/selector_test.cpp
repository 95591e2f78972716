#include "server/reference/selector.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "leapdb/parse.hpp"
#include "tests/unit/leapdb/files.hpp"

using namespace std::chrono;
using leapdb::Nanoseconds;
using leapdb::UtcTime;
using reference::Estimate;
using reference::SelectionOptions;
using reference::Selector;
using reference::SelectorSettings;
using reference::SourceInput;
using reference::SourceState;

namespace {

const leapdb::LeapTable& table() { return test_files::leap_table(); }

// 2025-01-01T00:00:00Z, where TAI-UTC is 37 s; raw time starts at 1000 s.
const UtcTime kStart = leapdb::utc_from_unix_nanoseconds(1'735'689'600'000'000'000);
constexpr Nanoseconds kRawStart = seconds{1000};

// A source whose time is the system clock plus `offset`, sampled at `at`.
Estimate source(Nanoseconds offset, UtcTime at, Nanoseconds dispersion = microseconds{10}, std::uint8_t stratum = 0) {
  Estimate e;
  e.line = ntp::Correction{at, offset, {}};
  e.tracking = true;
  e.last_update = at;
  e.dispersion = dispersion;
  e.stratum = stratum;
  e.reference_id = 0x47505300u + stratum;
  return e;
}

struct Rig {
  Selector selector;
  std::vector<Estimate> estimates;
  std::vector<std::string> names;
  std::vector<SelectionOptions> options;
  reference::KernelClockStatus kernel;
  Nanoseconds elapsed{0};
  Nanoseconds system_step{0};  // what has been added to the system clock since the start

  explicit Rig(std::size_t sources, SelectorSettings settings = {})
      : selector(settings, sources, kRawStart), estimates(sources), options(sources) {
    for (std::size_t i = 0; i < sources; ++i) names.push_back("s" + std::to_string(i));
  }
  UtcTime now() const { return kStart + elapsed + system_step; }
  reference::Tick tick() const { return reference::Tick{table(), now(), kRawStart + elapsed, kernel}; }
  // Every source sampled now, `offsets[i]` from the system clock (none: not tracking).
  Estimate step(const std::vector<std::optional<Nanoseconds>>& offsets, Nanoseconds by = seconds{1}) {
    elapsed += by;
    for (std::size_t i = 0; i < offsets.size(); ++i) {
      if (offsets[i]) {
        const Nanoseconds dispersion =
            estimates[i].dispersion == Nanoseconds{0} ? microseconds{10} : estimates[i].dispersion;
        const std::uint8_t stratum = estimates[i].stratum;
        const std::size_t voices = estimates[i].voices;
        estimates[i] = source(*offsets[i], now(), dispersion, stratum);
        estimates[i].voices = voices;
      } else {
        estimates[i].tracking = false;
      }
    }
    std::vector<SourceInput> inputs;
    for (std::size_t i = 0; i < estimates.size(); ++i) inputs.push_back({names[i], &estimates[i], options[i]});
    return selector.update(tick(), inputs);
  }
  Nanoseconds served(const Estimate& e) const { return e.line.of(now()); }
  SourceState state(std::size_t i) const { return selector.verdicts()[i].state; }
  const std::string& why(std::size_t i) const { return selector.verdicts()[i].why; }
};

bool has_notice(const std::vector<reference::Notice>& notices, const std::string& event) {
  return std::ranges::any_of(notices, [&](const reference::Notice& n) { return n.event == event; });
}

}  // namespace

TEST_CASE("selector: a source 37 s off beside two that agree is a falseticker named as a TAI/UTC mix-up") {
  Rig rig{3};
  rig.estimates[1].stratum = rig.estimates[2].stratum = 2;
  rig.estimates[1].dispersion = rig.estimates[2].dispersion = microseconds{300};
  Estimate e;
  for (int i = 0; i < 3; ++i) e = rig.step({seconds{-37} + microseconds{20}, microseconds{100}, microseconds{-100}});
  REQUIRE(e.tracking);
  CHECK(rig.state(0) == SourceState::falseticker);
  CHECK(rig.why(0).find("TAI/UTC mix-up") != std::string::npos);
  CHECK(rig.state(1) == SourceState::selected);
  CHECK(rig.state(2) == SourceState::candidate);
  // The two agreeing ones, equally weighted: their mean.
  CHECK(rig.served(e) == nanoseconds{0});
  CHECK(e.stratum == 2);  // replies say 3: the selected server's stratum plus one
  CHECK(*rig.selector.primary() == 1);
}

TEST_CASE("selector: an upstream source's agreeing servers are votes, outvoting a lone wrong refclock") {
  Rig rig{2};
  rig.estimates[1].voices = 2;
  rig.estimates[1].stratum = 2;
  rig.estimates[1].dispersion = microseconds{500};
  rig.step({seconds{37}, microseconds{50}});
  CHECK(rig.state(0) == SourceState::falseticker);
  CHECK(rig.state(1) == SourceState::selected);
  // With one voice each, neither would be a majority.
  Rig even{2};
  even.step({seconds{37}, microseconds{50}});
  CHECK(even.selector.primary() == std::nullopt);
  CHECK(even.state(0) == SourceState::candidate);
  CHECK(even.why(0).starts_with("no majority agrees"));
}

TEST_CASE("selector: the preferred truechimer steers alone; a preferred falseticker does not") {
  Rig rig{3};
  rig.options[2].prefer = true;
  rig.estimates[2].dispersion = microseconds{100};  // the worst of three, and still preferred
  Estimate e = rig.step({microseconds{10}, microseconds{-10}, microseconds{50}});
  CHECK(rig.state(2) == SourceState::selected);
  CHECK(rig.served(e) == microseconds{50});
  CHECK(e.dispersion == microseconds{100});  // its own: nothing combined into it
  // Gone wrong, it is outvoted and the other two are combined.
  rig.options[2].prefer = true;
  Rig wrong{3};
  wrong.options[2].prefer = true;
  e = wrong.step({microseconds{10}, microseconds{-10}, seconds{2}});
  CHECK(wrong.state(2) == SourceState::falseticker);
  CHECK(wrong.served(e) == nanoseconds{0});
}

TEST_CASE("selector: a combination claims the primary's dispersion plus its distance from the primary") {
  Rig rig{2};
  rig.estimates[0].dispersion = microseconds{10};
  rig.estimates[1].dispersion = microseconds{30};
  const Estimate e = rig.step({microseconds{0}, microseconds{20}});
  CHECK(rig.state(0) == SourceState::selected);
  CHECK(rig.state(1) == SourceState::candidate);
  // Weights 1/10 and 1/30: 3/4 of the way to s0.
  CHECK(rig.served(e) == microseconds{5});
  CHECK(e.dispersion == microseconds{15});
}

TEST_CASE("selector: trusted sources decide alone, unless they disagree among themselves") {
  Rig rig{2};
  rig.options[1].trust = true;
  rig.step({seconds{0}, seconds{5}});
  CHECK(rig.state(0) == SourceState::falseticker);
  CHECK(rig.state(1) == SourceState::selected);
  Rig both{3};
  both.options[1].trust = both.options[2].trust = true;
  both.step({seconds{0}, seconds{5}, seconds{10}});
  CHECK(both.selector.primary() == std::nullopt);
  CHECK(both.why(0).starts_with("no majority agrees"));
}

TEST_CASE("selector: nothing is selected unless a required source is a truechimer") {
  Rig rig{3};
  rig.options[2].require = true;
  rig.step({microseconds{0}, microseconds{1}, std::nullopt}, seconds{31});  // past the wait at start
  CHECK(rig.selector.primary() == std::nullopt);
  CHECK(rig.why(0) == "no source marked require is a truechimer");
  rig.step({microseconds{0}, microseconds{1}, microseconds{2}});
  CHECK(rig.selector.primary().has_value());
}

TEST_CASE("selector: a noselect source is judged and reported, never selected") {
  Rig rig{2};
  rig.options[0].noselect = true;
  rig.estimates[1].dispersion = milliseconds{1};
  const Estimate e = rig.step({microseconds{0}, microseconds{300}});
  CHECK(rig.state(0) == SourceState::candidate);
  CHECK(rig.why(0) == "noselect: judged, never selected");
  CHECK(rig.state(1) == SourceState::selected);
  CHECK(rig.served(e) == microseconds{300});
  Rig wrong{2};
  wrong.options[0].noselect = true;
  wrong.step({seconds{3}, microseconds{300}});
  CHECK(wrong.state(0) == SourceState::falseticker);
  CHECK(wrong.state(1) == SourceState::selected);
}

TEST_CASE("selector: minsources counts the voices that agree") {
  Rig rig{2, SelectorSettings{2, seconds{1}, hours{1}}};
  rig.step({microseconds{0}, std::nullopt}, seconds{31});
  CHECK(rig.selector.primary() == std::nullopt);
  CHECK(rig.why(0) == "1 usable source(s), minsources is 2");
  rig.step({microseconds{0}, microseconds{5}});
  CHECK(rig.selector.primary().has_value());
}

TEST_CASE("selector: at start, usable sources wait for the others, at most 30 s") {
  Rig rig{2};
  Estimate e = rig.step({microseconds{0}, std::nullopt});
  CHECK_FALSE(e.tracking);
  CHECK_FALSE(e.last_update.has_value());  // nothing claimed while waiting
  CHECK(rig.state(0) == SourceState::candidate);
  CHECK(rig.why(0).starts_with("waiting up to 30 s"));
  e = rig.step({microseconds{0}, std::nullopt}, seconds{28});
  CHECK_FALSE(e.tracking);
  e = rig.step({microseconds{0}, std::nullopt});
  CHECK(e.tracking);
  // Once something was selected, nothing waits again.
  e = rig.step({std::nullopt, std::nullopt});
  e = rig.step({microseconds{0}, std::nullopt});
  CHECK(e.tracking);
}

TEST_CASE("selector: failover slews from where the served clock was, never steps") {
  Rig rig{2};
  rig.options[0].prefer = true;
  rig.estimates[1].dispersion = milliseconds{3};
  Estimate e = rig.step({microseconds{0}, milliseconds{2}});
  e = rig.step({microseconds{0}, milliseconds{2}});
  REQUIRE(rig.state(0) == SourceState::selected);
  CHECK(rig.served(e) == microseconds{0});
  // s0 goes quiet: s1 (2 ms away) takes over, the served time continuous.
  e = rig.step({std::nullopt, milliseconds{2}});
  CHECK(rig.state(1) == SourceState::selected);
  CHECK(e.tracking);
  CHECK(rig.served(e) == microseconds{0});
  CHECK(e.dispersion >= milliseconds{2});  // the slew still to do is owned up to
  CHECK(rig.selector.changes() == 2);
  // Slewing at most 500 ppm: no more than 500 us a second, and converging.
  Nanoseconds previous = rig.served(e);
  for (int i = 0; i < 120; ++i) {
    e = rig.step({std::nullopt, milliseconds{2}});
    const Nanoseconds now = rig.served(e);
    CHECK(now - previous <= microseconds{501});
    CHECK(now >= previous);
    previous = now;
  }
  CHECK(rig.served(e) == milliseconds{2});
  CHECK(e.dispersion == milliseconds{3});  // s1's own, the slew done
  // Between ticks the workers extrapolate the slewing line: no step at the next tick either.
  const Nanoseconds extrapolated = e.line.of(rig.now() + seconds{1});
  e = rig.step({std::nullopt, milliseconds{2}});
  CHECK(std::chrono::abs(rig.served(e) - extrapolated) <= microseconds{1});
}

TEST_CASE("selector: with every source gone the last primary's own line holds over, then a late return steps") {
  Rig rig{1, SelectorSettings{1, seconds{1}, seconds{60}}};
  Estimate e = rig.step({microseconds{40}});
  REQUIRE(e.tracking);
  e = rig.step({std::nullopt});
  CHECK_FALSE(e.tracking);
  CHECK(e.last_update == rig.estimates[0].last_update);  // holdover runs from the last good sample
  CHECK(rig.served(e) == microseconds{40});
  e = rig.step({microseconds{60}}, seconds{120});  // past holdover: clients were told LI=3
  CHECK(e.tracking);
  CHECK(rig.served(e) == microseconds{60});
}

TEST_CASE("selector: a lone source that jumps past max_step is refused until max_step allows the jump") {
  Rig rig{1};
  Estimate e = rig.step({microseconds{0}});
  REQUIRE(e.tracking);
  e = rig.step({seconds{-37}});
  CHECK_FALSE(e.tracking);
  CHECK(rig.state(0) == SourceState::refused);
  CHECK(rig.why(0).find("jumped by -37.000000 s, more than max_step (1.000000 s)") != std::string::npos);
  CHECK(rig.why(0).find("TAI/UTC mix-up") != std::string::npos);
  CHECK(rig.served(e) == nanoseconds{0});  // holding over, not serving the jump
  CHECK(has_notice(rig.selector.take_notices(), "source_jump_refused"));
  // It stays refused, whatever it says now.
  e = rig.step({seconds{-37}});
  CHECK(rig.state(0) == SourceState::refused);
  // A reload that keeps max_step keeps the refusal; one that allows the jump lifts it.
  const std::vector<std::optional<std::size_t>> same{0};
  rig.selector.reconfigure(SelectorSettings{1, seconds{1}, hours{1}}, same, kRawStart + rig.elapsed);
  e = rig.step({seconds{-37}});
  CHECK(rig.state(0) == SourceState::refused);
  rig.selector.reconfigure(SelectorSettings{1, seconds{40}, hours{1}}, same, kRawStart + rig.elapsed);
  e = rig.step({seconds{-37}});
  CHECK(e.tracking);
}

TEST_CASE("selector: a jump another source confirms is taken; the system clock is not gated") {
  Rig rig{2};
  rig.estimates[1].dispersion = milliseconds{1};
  rig.step({seconds{37}, microseconds{0}});  // s0 starts wrong and is outvoted... by nothing: one each
  rig.step({seconds{37}, microseconds{0}});
  // Made right, s1 confirms it: a jump of 37 s, and no refusal.
  rig.step({microseconds{100}, microseconds{0}});
  CHECK(rig.state(0) != SourceState::refused);
  CHECK(rig.selector.primary().has_value());

  Rig system{1};
  system.options[0].gated = false;
  system.step({microseconds{0}});
  const Estimate e = system.step({seconds{5}});
  CHECK(e.tracking);
  CHECK(system.state(0) == SourceState::selected);
}

TEST_CASE("selector: a stepped system clock moves every offset, refuses nothing and keeps the served time") {
  Rig rig{1};
  Estimate e = rig.step({milliseconds{1}});
  const leapdb::TaiTime before = leapdb::TaiTime{rig.now().time_since_epoch() + seconds{37} + rig.served(e)};
  // Someone steps the system clock 5 s ahead: the source is now 5 s behind it.
  rig.system_step = seconds{5};
  e = rig.step({milliseconds{1} - seconds{5}});
  CHECK(e.tracking);
  CHECK(rig.state(0) == SourceState::selected);
  const leapdb::TaiTime after = leapdb::TaiTime{rig.now().time_since_epoch() + seconds{37} + rig.served(e)};
  CHECK(after - before == seconds{1});
  CHECK(has_notice(rig.selector.take_notices(), "system_clock_stepped"));
}

TEST_CASE("selector: a reload keeps what sources had; removing the primary holds over from the served clock") {
  Rig rig{2};
  rig.options[0].prefer = true;
  rig.estimates[0].dispersion = rig.estimates[1].dispersion = microseconds{50};
  Estimate e = rig.step({microseconds{0}, microseconds{30}});
  REQUIRE(*rig.selector.primary() == 0);
  // Reordered: the old s1 is now first, s0 is gone.
  const std::vector<std::optional<std::size_t>> previous{1};
  rig.selector.reconfigure(SelectorSettings{}, previous, kRawStart + rig.elapsed);
  rig.estimates = {rig.estimates[1]};
  rig.names = {"s1"};
  rig.options = {SelectionOptions{}};
  e = rig.step({microseconds{30}});
  CHECK(e.tracking);
  CHECK(rig.served(e) == microseconds{0});  // slewing from where it was, not stepping to s1
  CHECK(rig.state(0) == SourceState::selected);
}

TEST_CASE("tai_utc_mixup: within 5 ms of TAI-UTC either way") {
  CHECK_FALSE(reference::tai_utc_mixup(seconds{37} + milliseconds{4}, 37).empty());
  CHECK_FALSE(reference::tai_utc_mixup(-seconds{37}, 37).empty());
  CHECK(reference::tai_utc_mixup(seconds{37} + milliseconds{6}, 37).empty());
  CHECK(reference::tai_utc_mixup(seconds{36}, 37).empty());
  CHECK(reference::tai_utc_mixup(nanoseconds{0}, 0).empty());
}

TEST_CASE("selector: a newcomer far from a system clock the kernel says is disciplined needs a second opinion") {
  // A GPS receiver after a week-number rollover: 1024 weeks behind.
  const Nanoseconds rollover = -hours{24 * 7 * 1024};
  Rig lone{1};
  lone.kernel.synchronized = true;
  lone.kernel.max_error = milliseconds{5};
  Estimate e = lone.step({rollover});
  CHECK_FALSE(e.tracking);
  CHECK(lone.state(0) == SourceState::refused);
  CHECK(
      lone.why(0).starts_with("its time is -619315200.000000 s from the system clock, which the kernel says is "
                              "synchronized, more than max_step"));
  // Within max_step and the kernel's own error bound of it: taken.
  Rig near{1};
  near.kernel.synchronized = true;
  near.kernel.max_error = milliseconds{5};
  CHECK(near.step({seconds{1} + milliseconds{4}}).tracking);
  // A PHC counting UTC where TAI was configured: taken only if max_step allows 37 s, and named.
  Rig mixup{1, SelectorSettings{1, seconds{60}, hours{1}}};
  mixup.kernel.synchronized = true;
  CHECK(mixup.step({seconds{-37}}).tracking);
  CHECK(has_notice(mixup.selector.take_notices(), "tai_utc_mixup"));
  // Unconfirmed only matters alone: two newcomers that agree confirm each other.
  Rig pair{2};
  pair.kernel.synchronized = true;
  e = pair.step({rollover, rollover + microseconds{5}});
  CHECK(e.tracking);
  // An undisciplined system clock says nothing: the first look is taken as it is.
  Rig free{1};
  CHECK(free.step({rollover}).tracking);
}

TEST_CASE("selector: at start, a source its own driver refuses is not waited for") {
  Rig rig{2};
  rig.elapsed = seconds{0};
  std::vector<SourceInput> inputs;
  rig.estimates[0] = source(microseconds{0}, rig.now() + seconds{1});
  rig.estimates[1].tracking = false;
  rig.elapsed += seconds{1};
  inputs.push_back({"upstream", &rig.estimates[0], {}, false});
  inputs.push_back({"ptp", &rig.estimates[1], {}, true});  // ptp4l says UNCALIBRATED
  CHECK(rig.selector.update(rig.tick(), inputs).tracking);
  inputs[1].refused = false;  // not heard from yet: waited for
  Rig waiting{2};
  waiting.elapsed = seconds{1};
  waiting.estimates[0] = source(microseconds{0}, waiting.now());
  waiting.estimates[1].tracking = false;
  inputs[0].estimate = &waiting.estimates[0];
  inputs[1].estimate = &waiting.estimates[1];
  CHECK_FALSE(waiting.selector.update(waiting.tick(), inputs).tracking);
}
