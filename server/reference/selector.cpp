#include "server/reference/selector.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "server/reference/kernel.hpp"

namespace reference {
namespace {

std::string seconds_text(leapdb::Nanoseconds d) {
  char text[32];
  std::snprintf(text, sizeof text, "%.6f s", static_cast<double>(d.count()) / 1e9);
  return text;
}

leapdb::Rate plus(leapdb::Rate a, leapdb::Rate b) { return leapdb::Rate{a.per_2_32 + b.per_2_32}; }

bool usable_by_its_account(const Estimate& e) { return e.tracking && e.stratum + 1 < ntp::kUnsynchronizedStratum; }

// How far from the truth the estimate may be now: RFC 5905's root distance.
leapdb::Nanoseconds root_distance(const Estimate& e, leapdb::UtcTime now) {
  leapdb::Nanoseconds aged{0};
  if (e.last_update && now > *e.last_update) aged = e.dispersion_growth.over(now - *e.last_update);
  return std::max(e.root_delay / 2 + e.dispersion + aged, leapdb::Nanoseconds{1});
}

}  // namespace

std::string tai_utc_mixup(leapdb::Nanoseconds difference, int tai_utc) {
  const leapdb::Nanoseconds offset = std::chrono::seconds{tai_utc};
  if (tai_utc == 0 || std::chrono::abs(std::chrono::abs(difference) - offset) > Selector::kMixupTolerance) return "";
  return "that is TAI-UTC (" + std::to_string(tai_utc) +
         " s): a TAI/UTC mix-up, one side counting TAI where "
         "the other counts UTC (a PHC's timescale, a refclock's setting)";
}

struct Selector::Judged {
  bool ok = false;
  bool waiting = false;
  std::string why;                       // when not ok
  std::vector<std::size_t> truechimers;  // source indices, best first
  leapdb::Nanoseconds combined{0};
  Candidate intersection;  // what the majority (or the trusted) agree on
};

Selector::Selector(SelectorSettings settings, std::size_t sources, leapdb::Nanoseconds started_raw)
    : settings_(settings), members_(sources), verdicts_(sources) {
  for (Member& m : members_) m.added_raw = started_raw;
}

void Selector::reconfigure(SelectorSettings settings, std::span<const std::optional<std::size_t>> previous,
                           leapdb::Nanoseconds raw) {
  std::vector<Member> members(previous.size());
  std::vector<SourceVerdict> verdicts(previous.size());
  std::vector<std::optional<std::size_t>> now_at(members_.size());
  for (std::size_t i = 0; i < previous.size(); ++i) {
    if (!previous[i] || *previous[i] >= members_.size()) {
      members[i].added_raw = raw;
      continue;
    }
    members[i] = std::move(members_[*previous[i]]);
    verdicts[i] = std::move(verdicts_[*previous[i]]);
    now_at[*previous[i]] = i;
    // The operator's word on a refused jump: a max_step that allows it.
    if (members[i].refused_jump && std::chrono::abs(*members[i].refused_jump) <= settings.max_step) {
      members[i].refused_jump.reset();
      members[i].baseline.reset();
    }
  }
  const auto remap = [&](std::size_t index) { return index < now_at.size() ? now_at[index] : std::nullopt; };
  if (steering_.mode != Steering::Mode::none) {
    // Sources gone from what steers: the served clock holds over from where it is.
    Steering steering = steering_;
    steering.members.clear();
    bool intact = remap(steering_.primary).has_value();
    for (const std::size_t m : steering_.members) {
      if (const auto at = remap(m)) {
        steering.members.push_back(*at);
      } else {
        intact = false;
      }
    }
    std::ranges::sort(steering.members);
    if (intact) {
      steering.primary = *remap(steering_.primary);
      steering_ = std::move(steering);
    } else {
      steering_.mode = Steering::Mode::holdover;
      steering_.members.clear();
      steering_.primary = previous.size();  // none: hold the served line itself
    }
  }
  primary_ = primary_ ? remap(*primary_) : std::nullopt;
  members_ = std::move(members);
  verdicts_ = std::move(verdicts);
  settings_ = settings;
}

std::vector<Candidate> Selector::candidates(const Tick& tick, std::span<const SourceInput> sources) const {
  std::vector<Candidate> all;
  for (const SourceInput& s : sources) {
    all.push_back({s.estimate->line.of(tick.realtime), root_distance(*s.estimate, tick.realtime),
                   std::max<std::size_t>(s.estimate->voices, 1)});
  }
  return all;
}

void Selector::gate(const Tick& tick, std::span<const SourceInput> sources, const std::vector<Candidate>& all,
                    const std::vector<bool>& usable, leapdb::Nanoseconds axis, int tai_utc) {
  const leapdb::Nanoseconds raw = tick.monotonic_raw;
  for (std::size_t i = 0; i < sources.size(); ++i) {
    Member& m = members_[i];
    if (!sources[i].options.gated || !usable[i] || m.refused_jump) continue;
    const leapdb::Nanoseconds phase = all[i].offset + axis;
    // A move from its own last time; for a newcomer, a disciplined system clock is the second
    // opinion (a GPS week rollover at start, a PHC counting UTC).
    std::optional<leapdb::Nanoseconds> jump;
    leapdb::Nanoseconds allowed = settings_.max_step;
    if (m.baseline) {
      jump = phase - m.baseline->second;
      allowed += leapdb::Rate::from_ppm(kMaxDriftPpm).over(raw - m.baseline->first);
    } else if (tick.kernel.synchronized) {
      jump = all[i].offset;
      allowed += tick.kernel.max_error;
    }
    bool confirmed = !jump || raw < settle_until_ || std::chrono::abs(*jump) <= allowed;
    for (std::size_t j = 0; j < sources.size() && !confirmed; ++j) {
      confirmed = j != i && usable[j] && !members_[j].refused_jump && all[i].overlaps(all[j]);
    }
    if (confirmed) {
      // Taken, yet still worth a word: a newcomer TAI-UTC away from a disciplined system clock.
      if (const std::string mixup = tai_utc_mixup(jump.value_or(leapdb::Nanoseconds{0}), tai_utc);
          !m.baseline && !mixup.empty()) {
        notice(Notice::Level::warning, "tai_utc_mixup",
               {{"source", std::string{sources[i].name}}, {"offset_s", seconds_text(*jump)}, {"detail", mixup}});
      }
      m.baseline = {raw, phase};
      continue;
    }
    m.against_system = !m.baseline;
    m.refused_jump = *jump;
    std::vector<std::pair<std::string, std::string>> fields{
        {"source", std::string{sources[i].name}},
        {m.against_system ? "from_system_clock_s" : "jump_s", seconds_text(*jump)},
        {"max_step_s", seconds_text(settings_.max_step)},
        {"detail",
         "no other source confirms it: refused until max_step is raised (and smeard reloaded) or smeard restarts"}};
    if (const std::string mixup = tai_utc_mixup(*jump, tai_utc); !mixup.empty()) fields.emplace_back("mixup", mixup);
    notice(Notice::Level::error, "source_jump_refused", std::move(fields));
  }
}

bool Selector::waiting_at_start(leapdb::Nanoseconds raw, std::span<const SourceInput> sources,
                                const std::vector<bool>& usable) const {
  if (synchronized_raw_) return false;
  bool any = false, missing = false;
  for (std::size_t i = 0; i < sources.size(); ++i) {
    if (sources[i].options.noselect) continue;
    any = any || usable[i];
    missing = missing || (!usable[i] && !sources[i].refused && !members_[i].refused_jump &&
                          raw - members_[i].added_raw < kStartupWait);
  }
  return any && missing;
}

Selector::Judged Selector::judge(const Tick& tick, std::span<const SourceInput> sources,
                                 const std::vector<Candidate>& all, const std::vector<bool>& usable) {
  Judged out;
  if (waiting_at_start(tick.monotonic_raw, sources, usable)) {
    out.waiting = true;
    out.why = "waiting up to " + std::to_string(kStartupWait.count() / 1'000'000'000) +
              " s after start for the other sources, so that they can outvote this one";
    return out;
  }
  std::vector<std::size_t> selectable;
  std::vector<Candidate> candidates, trusted_candidates;
  for (std::size_t i = 0; i < sources.size(); ++i) {
    if (!usable[i] || sources[i].options.noselect) continue;
    selectable.push_back(i);
    candidates.push_back(all[i]);
    if (sources[i].options.trust) trusted_candidates.push_back(all[i]);
  }
  Selection selection;
  // Trusted sources that agree among themselves decide alone which others are true (none: not ok).
  if (const Selection t = select(trusted_candidates, 1, "trusted source"); t.ok) {
    selection.low = t.low, selection.high = t.high;
    std::size_t voices = 0;
    for (std::size_t k = 0; k < candidates.size(); ++k) {
      if (!candidates[k].overlaps(t.intersection())) continue;
      selection.truechimers.push_back(k);
      voices += candidates[k].voices;
    }
    std::ranges::stable_sort(selection.truechimers, [&](std::size_t a, std::size_t b) {
      return candidates[a].distance < candidates[b].distance;
    });
    selection.combined = combine(candidates, selection.truechimers);
    selection.ok = voices >= settings_.minsources;
    if (!selection.ok) {
      selection.why = std::to_string(voices) + " source(s) agree with the trusted ones, minsources is " +
                      std::to_string(settings_.minsources);
    }
  } else {
    selection = select(candidates, settings_.minsources, "source");
  }
  for (const std::size_t k : selection.truechimers) out.truechimers.push_back(selectable[k]);
  out.ok = selection.ok, out.why = selection.why, out.combined = selection.combined;
  out.intersection = selection.intersection();
  const bool required = std::ranges::any_of(sources, [](const SourceInput& s) { return s.options.require; });
  if (out.ok && required &&
      std::ranges::none_of(out.truechimers, [&](std::size_t i) { return sources[i].options.require; })) {
    out.ok = false;
    out.why = "no source marked require is a truechimer";
  }
  return out;
}

Estimate Selector::update(const Tick& tick, std::span<const SourceInput> sources) {
  const leapdb::Nanoseconds raw = tick.monotonic_raw;
  const leapdb::TaiTime system = system_tai(tick.table, tick.realtime, tick.kernel);
  const int tai_utc = tick.table.tai_utc_at(system);
  const leapdb::Nanoseconds axis = system.time_since_epoch() - raw;
  if (previous_axis_ && std::chrono::abs(axis - *previous_axis_) > kSystemStep) {
    // The system clock was stepped: served time stays where it was, on the raw oscillator.
    if (served_) served_->offset -= axis - *previous_axis_;
    settle_until_ = raw + kStepSettle;
    notice(Notice::Level::warning, "system_clock_stepped", {{"step_s", seconds_text(axis - *previous_axis_)}});
  }
  previous_axis_ = axis;

  const std::vector<Candidate> all = candidates(tick, sources);
  std::vector<bool> usable(sources.size());
  for (std::size_t i = 0; i < sources.size(); ++i) usable[i] = usable_by_its_account(*sources[i].estimate);
  gate(tick, sources, all, usable, axis, tai_utc);
  for (std::size_t i = 0; i < sources.size(); ++i) usable[i] = usable[i] && !members_[i].refused_jump;

  const Judged judged = judge(tick, sources, all, usable);
  for (std::size_t i = 0; i < sources.size(); ++i) {
    SourceVerdict& v = verdicts_[i];
    v = SourceVerdict{};
    if (members_[i].refused_jump) {
      const std::string what = members_[i].against_system
                                   ? "its time is " + seconds_text(*members_[i].refused_jump) +
                                         " from the system clock, which the kernel says is synchronized"
                                   : "its time jumped by " + seconds_text(*members_[i].refused_jump);
      v = {
          false, SourceState::refused,
          what + ", more than max_step (" + seconds_text(settings_.max_step) + "), with no other source to confirm it"};
      if (const std::string mixup = tai_utc_mixup(*members_[i].refused_jump, tai_utc); !mixup.empty()) {
        v.why += ": " + mixup;
      }
    } else if (!usable[i]) {
      continue;
    } else if (judged.waiting || !judged.ok) {
      v = {false, SourceState::candidate, judged.why};
    } else if (std::ranges::find(judged.truechimers, i) != judged.truechimers.end() ||
               (sources[i].options.noselect && all[i].overlaps(judged.intersection))) {
      v = {false, SourceState::candidate, sources[i].options.noselect ? "noselect: judged, never selected" : ""};
    } else {
      const leapdb::Nanoseconds off = all[i].offset - judged.combined;
      v = {false, SourceState::falseticker,
           "its offset is " + seconds_text(off) + " from what the majority agree on, beyond its root distance " +
               seconds_text(all[i].distance)};
      if (const std::string mixup = tai_utc_mixup(off, tai_utc); !mixup.empty()) v.why += ": " + mixup;
    }
  }
  Estimate out = steer(tick, sources, judged, all);
  if (primary_) verdicts_[*primary_].state = SourceState::selected;
  if (!judged.ok && !judged.waiting && selection_problem_ != judged.why &&
      std::ranges::any_of(usable, [](bool u) { return u; })) {
    notice(Notice::Level::warning, "selection_failed", {{"detail", judged.why}});
  }
  selection_problem_ = judged.ok ? "" : judged.why;
  log_verdicts(sources);
  return out;
}

Estimate Selector::steer(const Tick& tick, std::span<const SourceInput> sources, const Judged& judged,
                         const std::vector<Candidate>& all) {
  const leapdb::Nanoseconds raw = tick.monotonic_raw;
  if (judged.ok) {
    const auto preferred =
        std::ranges::find_if(judged.truechimers, [&](std::size_t i) { return sources[i].options.prefer; });
    Steering steering;
    steering.primary = preferred != judged.truechimers.end() ? *preferred : judged.truechimers.front();
    const Estimate& primary = *sources[steering.primary].estimate;
    ntp::Correction target = primary.line;
    if (preferred != judged.truechimers.end() || judged.truechimers.size() == 1) {
      steering.mode = Steering::Mode::preferred;
      steering.members = {steering.primary};
    } else {
      steering.mode = Steering::Mode::combined;
      steering.members = judged.truechimers;
      std::ranges::sort(steering.members);
      double weights = 0, ppm = 0;
      for (const std::size_t i : judged.truechimers) {
        weights += all[i].weight();
        ppm += all[i].weight() * sources[i].estimate->line.rate.ppm();
      }
      target = ntp::Correction{tick.realtime, judged.combined, leapdb::Rate::from_ppm(ppm / weights)};
    }
    follow(tick, steering, target, sources);
    claims_ = primary;
    claims_.voices = 0;
    for (const std::size_t i : judged.truechimers) claims_.voices += all[i].voices;
    // The combination's distance from the primary's own time counts against what replies claim.
    claims_.dispersion = primary.dispersion + std::chrono::abs(target.of(tick.realtime) - all[steering.primary].offset);
    synchronized_raw_ = raw;
    primary_ = steering.primary;
    Estimate out = claims_;
    out.line = *served_;
    out.tracking = true;
    out.dispersion += std::chrono::abs(pending_);
    return out;
  }
  primary_.reset();
  if (steering_.mode == Steering::Mode::none || !served_) {
    // Never selected: nothing to claim, nothing to hold over from.
    Estimate out;
    out.line = ntp::Correction{tick.realtime, {}, {}};
    if (!sources.empty()) {
      out.stratum = sources.front().estimate->stratum;
      out.reference_id = sources.front().estimate->reference_id;
      out.precision = sources.front().estimate->precision;
    }
    return out;
  }
  // Holdover: the last primary's own line (its holdover), or the served line itself.
  Steering steering{Steering::Mode::holdover, steering_.primary, {}};
  ntp::Correction target{tick.realtime, served_->of(tick.realtime) - pending_,
                         leapdb::Rate{served_->rate.per_2_32 - slew_.per_2_32}};
  if (steering.primary < sources.size() && sources[steering.primary].estimate->last_update) {
    target = sources[steering.primary].estimate->line;
  }
  follow(tick, steering, target, sources);
  Estimate out = claims_;
  out.line = *served_;
  out.tracking = false;
  out.dispersion += std::chrono::abs(pending_);
  return out;
}

void Selector::follow(const Tick& tick, const Steering& steering, const ntp::Correction& target,
                      std::span<const SourceInput> sources) {
  const leapdb::Nanoseconds raw = tick.monotonic_raw;
  if (served_) {
    const leapdb::Nanoseconds slewed = slew_.over(raw - last_raw_);
    pending_ = std::chrono::abs(slewed) >= std::chrono::abs(pending_) ? leapdb::Nanoseconds{0} : pending_ + slewed;
  }
  if (steering != steering_) {
    const bool fresh = !served_ || !synchronized_raw_ || raw - *synchronized_raw_ > settings_.holdover;
    pending_ = fresh ? leapdb::Nanoseconds{0} : served_->of(tick.realtime) - target.of(tick.realtime);
    const auto name = [&](const Steering& s) -> std::string {
      if (s.mode == Steering::Mode::none) return "none";
      std::string text = s.mode == Steering::Mode::holdover ? "holdover" : "";
      for (const std::size_t i : s.mode == Steering::Mode::combined ? s.members : std::vector{s.primary}) {
        if (i >= sources.size()) continue;
        text += (text.empty() ? "" : text == "holdover" ? " of " : "+") + std::string{sources[i].name};
      }
      return text;
    };
    notice(steering.mode == Steering::Mode::holdover ? Notice::Level::warning : Notice::Level::info,
           "reference_selection",
           {{"from", name(steering_)},
            {"to", name(steering)},
            {"slew_s", seconds_text(pending_)},
            {"stepped", fresh ? "true" : "false"}});
    steering_ = steering;
    ++changes_;
  }
  // Exponential from far away, then at the least rate, so that it ends.
  const double rate = static_cast<double>(pending_.count()) / static_cast<double>(kSlewTimeConstant.count()) * 1e6;
  const double ppm = pending_ == leapdb::Nanoseconds{0}
                         ? 0
                         : -std::copysign(std::clamp(std::abs(rate), kMinSlewPpm, kMaxSlewPpm), rate);
  slew_ = leapdb::Rate::from_ppm(ppm);
  served_ = ntp::Correction{tick.realtime, target.of(tick.realtime) + pending_, plus(target.rate, slew_)};
  last_raw_ = raw;
}

void Selector::log_verdicts(std::span<const SourceInput> sources) {
  for (std::size_t i = 0; i < sources.size(); ++i) {
    const SourceVerdict& v = verdicts_[i];
    Member& m = members_[i];
    // A source's own account is its own to log; candidates waiting on a failed selection are
    // that selection's news.
    if (v.own || (v.state == SourceState::candidate && !v.why.empty() && !sources[i].options.noselect)) {
      m.logged.reset();
      continue;
    }
    const std::pair<SourceState, std::string> now{v.state, v.why};
    if (m.logged == now) continue;
    const bool first = !m.logged;
    m.logged = now;
    if (first && v.state == SourceState::candidate) continue;
    const Notice::Level level = v.state == SourceState::falseticker || v.state == SourceState::refused
                                    ? Notice::Level::warning
                                    : Notice::Level::info;
    std::vector<std::pair<std::string, std::string>> fields{{"source", std::string{sources[i].name}},
                                                            {"state", std::string{to_string(v.state)}}};
    if (!v.why.empty()) fields.emplace_back("why", v.why);
    notice(level, "source_state", std::move(fields));
  }
}

void Selector::notice(Notice::Level level, std::string event, std::vector<std::pair<std::string, std::string>> fields) {
  notices_.push_back(Notice{level, std::move(event), std::move(fields)});
}

}  // namespace reference
