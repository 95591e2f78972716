#pragma once
// Pure. Several sources, one selection, one served clock. At every control tick each source's
// estimate becomes an interval, offset ± root distance; the sources whose intervals share the
// majority's intersection are truechimers, the rest falsetickers (chrony's prefer, trust,
// require and noselect shape that); the preferred truechimer, or else all of them weighted by
// distance, steer the served clock. Whenever what steers changes, the served clock slews from
// where it was to the new target instead of stepping, and the slew still pending counts in the
// dispersion. A source whose time jumps by more than max_step with nothing to confirm it (or
// starts that far from a system clock the kernel says is disciplined) is refused until the
// operator raises max_step (or restarts). Before the first selection,
// sources already usable wait a little for the rest, so that one early voice cannot serve a
// wrong clock as synchronized while the others that would outvote it are still starting.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "server/reference/intersection.hpp"
#include "server/reference/source.hpp"

namespace reference {

// chrony's per-source options.
struct SelectionOptions {
  bool prefer = false;    // steers alone whenever it is a truechimer
  bool trust = false;     // a falseticker only if another trusted source disagrees with it
  bool require = false;   // nothing is selected unless one required source is a truechimer
  bool noselect = false;  // judged and reported, never steers
  // Whether the jump gate applies: not to the system clock, on which the served time rides anyway.
  bool gated = true;
};

struct SelectorSettings {
  std::size_t minsources = 1;
  leapdb::Nanoseconds max_step = std::chrono::seconds{1};
  // After this long without a selection the next one steps: clients were told LI=3 meanwhile.
  leapdb::Nanoseconds holdover = std::chrono::hours{1};
};

struct SourceInput {
  std::string_view name;
  const Estimate* estimate = nullptr;
  SelectionOptions options;
  // Refused by its own account (its driver, its ptp4l): not worth waiting for at start.
  bool refused = false;
};

// What the selection made of a source at the last update. `own`: the source is not usable by
// its own account (unreachable, refused by its driver), and its own report stands.
struct SourceVerdict {
  bool own = true;
  SourceState state = SourceState::unreachable;
  std::string why;
};

class Selector {
 public:
  static constexpr leapdb::Nanoseconds kStartupWait = std::chrono::seconds{30};
  static constexpr leapdb::Nanoseconds kSlewTimeConstant = std::chrono::seconds{16};
  static constexpr double kMaxSlewPpm = 500;
  static constexpr double kMinSlewPpm = 1;
  // What a source's phase may drift against the raw oscillator between two looks at it.
  static constexpr double kMaxDriftPpm = 500;
  // The system clock moving against the raw oscillator by more than this in a tick was stepped;
  // sources' lines then lag for a few samples, so the jump gate waits that out.
  static constexpr leapdb::Nanoseconds kSystemStep = std::chrono::milliseconds{10};
  static constexpr leapdb::Nanoseconds kStepSettle = std::chrono::seconds{10};
  // How close to ±(TAI-UTC) a difference must be to be named a TAI/UTC mix-up.
  static constexpr leapdb::Nanoseconds kMixupTolerance = std::chrono::milliseconds{5};

  Selector(SelectorSettings settings, std::size_t sources, leapdb::Nanoseconds started_raw);

  // A reload: new settings and sources; `previous[i]` is the index source i had before, if it
  // was there (it keeps its baseline and any refusal, unless max_step now allows its jump).
  void reconfigure(SelectorSettings settings, std::span<const std::optional<std::size_t>> previous,
                   leapdb::Nanoseconds raw);

  // The served estimate from this tick's source estimates (one input per source, in order).
  Estimate update(const Tick& tick, std::span<const SourceInput> sources);

  const std::vector<SourceVerdict>& verdicts() const { return verdicts_; }
  // The source whose claims replies carry (the selected one), if any is.
  std::optional<std::size_t> primary() const { return primary_; }
  // How often what steers the served clock changed, the first selection included.
  std::uint64_t changes() const { return changes_; }
  std::vector<Notice> take_notices() { return std::exchange(notices_, {}); }

 private:
  struct Member {
    leapdb::Nanoseconds added_raw{0};
    // The last phase (source TAI minus raw) the gate accepted, and when.
    std::optional<std::pair<leapdb::Nanoseconds, leapdb::Nanoseconds>> baseline;
    std::optional<leapdb::Nanoseconds> refused_jump;
    bool against_system = false;  // the refused jump is a newcomer's distance from the system clock
    std::optional<std::pair<SourceState, std::string>> logged;
  };
  // What steers the served clock: the primary alone (prefer), a combination, or holdover.
  struct Steering {
    enum class Mode : std::uint8_t { none, preferred, combined, holdover };
    Mode mode = Mode::none;
    std::size_t primary = 0;
    std::vector<std::size_t> members;
    friend bool operator==(const Steering&, const Steering&) = default;
  };
  struct Judged;

  std::vector<Candidate> candidates(const Tick& tick, std::span<const SourceInput> sources) const;
  void gate(const Tick& tick, std::span<const SourceInput> sources, const std::vector<Candidate>& all,
            const std::vector<bool>& usable, leapdb::Nanoseconds axis, int tai_utc);
  Judged judge(const Tick& tick, std::span<const SourceInput> sources, const std::vector<Candidate>& all,
               const std::vector<bool>& usable);
  bool waiting_at_start(leapdb::Nanoseconds raw, std::span<const SourceInput> sources,
                        const std::vector<bool>& usable) const;
  Estimate steer(const Tick& tick, std::span<const SourceInput> sources, const Judged& judged,
                 const std::vector<Candidate>& all);
  void follow(const Tick& tick, const Steering& steering, const ntp::Correction& target,
              std::span<const SourceInput> sources);
  void log_verdicts(std::span<const SourceInput> sources);
  void notice(Notice::Level level, std::string event, std::vector<std::pair<std::string, std::string>> fields);

  SelectorSettings settings_;
  std::vector<Member> members_;
  std::vector<SourceVerdict> verdicts_;
  std::optional<leapdb::Nanoseconds> previous_axis_;
  leapdb::Nanoseconds settle_until_{leapdb::Nanoseconds::min()};
  // The served clock: the target plus what is still to slew, and the slew's rate.
  std::optional<ntp::Correction> served_;
  leapdb::Nanoseconds pending_{0};
  leapdb::Rate slew_{};
  leapdb::Nanoseconds last_raw_{0};
  Steering steering_;
  std::optional<std::size_t> primary_;
  std::optional<leapdb::Nanoseconds> synchronized_raw_;  // the last tick anything steered
  Estimate claims_;                                      // what the last selection let replies claim
  std::uint64_t changes_ = 0;
  std::string selection_problem_;  // as last logged
  std::vector<Notice> notices_;
};

// Pure. When `difference` is within Selector::kMixupTolerance of ±(TAI-UTC), one sentence
// saying so; empty otherwise.
std::string tai_utc_mixup(leapdb::Nanoseconds difference, int tai_utc);

}  // namespace reference
