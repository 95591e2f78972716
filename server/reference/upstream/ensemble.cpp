#include "server/reference/upstream/ensemble.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "server/ntp/client.hpp"
#include "server/reference/kernel.hpp"

namespace reference::upstream {

namespace {

constexpr double kDispersionGrowthPpm = 15;
// Beyond this the system clock was stepped between ticks, not slewed.
constexpr double kMaxRealtimeSlewPpm = 1000;

std::string milliseconds(leapdb::Nanoseconds d) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3f", static_cast<double>(d.count()) / 1e6);
  return text;
}

std::string decimal(double value, int digits) {
  char text[32];
  std::snprintf(text, sizeof text, "%.*f", digits, value);
  return text;
}

LeapWarning warning_of(ntp::LeapIndicator leap) {
  switch (leap) {
    case ntp::LeapIndicator::none: return LeapWarning::none;
    case ntp::LeapIndicator::insert: return LeapWarning::insert;
    case ntp::LeapIndicator::remove: return LeapWarning::remove;
    case ntp::LeapIndicator::unsynchronized: return LeapWarning::unknown;
  }
  return LeapWarning::unknown;
}

}  // namespace

Ensemble::Ensemble(std::vector<ServerIdentity> servers, EnsembleOptions options, std::optional<Drift> stored,
                   leapdb::Nanoseconds started_raw)
    : options_(options), clock_(stored), stored_drift_(stored.has_value()), started_raw_(started_raw) {
  for (ServerIdentity& identity : servers) {
    Server server;
    server.identity = std::move(identity);
    server.interval = options_.poll;
    if (server.identity.vacant()) server.why = "no address yet";
    servers_.push_back(std::move(server));
  }
}

void Ensemble::notice(Notice::Level level, std::string event, std::vector<std::pair<std::string, std::string>> fields) {
  notices_.push_back(Notice{level, std::move(event), std::move(fields)});
}

void Ensemble::notice(Notice::Level level, std::string event, const Server& server,
                      std::vector<std::pair<std::string, std::string>> fields) {
  fields.insert(fields.begin(), {{"server", server.identity.name}, {"address", server.identity.address}});
  notice(level, std::move(event), std::move(fields));
}

void Ensemble::set_state(Server& server, SourceState state, std::string why) {
  server.state = state;
  server.why = std::move(why);
}

void Ensemble::refuse(Server& server, leapdb::Nanoseconds raw, leapdb::Nanoseconds duration, const std::string& why) {
  const bool forever = duration == leapdb::Nanoseconds::max();
  server.refused_until = forever ? duration : raw + duration;
  if (forever) server.reach = 0;
  server.filter.clear();
  server.drift.clear();
  server.best.reset();
  set_state(server, SourceState::refused, why);
  if (server.refusal != why) {
    notice(Notice::Level::warning, "source_refused", server,
           {{"why", why}, {"for_s", forever ? "ever" : std::to_string(duration.count() / 1'000'000'000)}});
    server.refusal = why;
  }
}

std::vector<std::size_t> Ensemble::due(leapdb::Nanoseconds raw) const {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < servers_.size(); ++i) {
    const Server& s = servers_[i];
    // Half a control tick early is on time: ticks come about a second apart, not exactly.
    if (!s.identity.vacant() && s.refused_until != leapdb::Nanoseconds::max() && raw + kTickSlack >= s.next_send) {
      out.push_back(i);
    }
  }
  return out;
}

void Ensemble::sent(std::size_t index, const Request& request) {
  Server& s = servers_[index];
  s.in_flight = request;
  ++s.requests;
  const bool was_reachable = s.reach != 0;
  s.reach = static_cast<std::uint8_t>(s.reach << 1);
  if (was_reachable && s.reach == 0) {
    notice(Notice::Level::warning, "source_unreachable", s, {});
    s.burst = kBurst;
    s.best.reset();
    if (!refused(s, request.sent_raw)) set_state(s, SourceState::unreachable, "no reply to the last 8 requests");
  }
  const leapdb::Nanoseconds gap = s.burst > 0 ? std::min(kBurstInterval, s.interval) : s.interval;
  if (s.burst > 0) --s.burst;
  s.next_send = request.sent_raw + gap;
}

leapdb::Nanoseconds Ensemble::to_raw(leapdb::UtcTime realtime, leapdb::UtcTime now_realtime,
                                     leapdb::Nanoseconds now_raw) const {
  const leapdb::Nanoseconds ago = now_realtime - realtime;
  return now_raw - ago - leapdb::Rate::from_ppm(raw_per_realtime_ppm_).over(ago);
}

void Ensemble::received(std::size_t index, std::span<const std::byte> reply, leapdb::UtcTime arrival,
                        leapdb::UtcTime now_realtime, leapdb::Nanoseconds now_raw) {
  if (index >= servers_.size() || arrivals_.size() >= kMaxArrivals) return;
  Arrival& a = arrivals_.emplace_back();
  a.server = index;
  a.length = std::min(reply.size(), a.bytes.size());
  std::copy_n(reply.begin(), a.length, a.bytes.begin());
  a.arrival = arrival, a.now_realtime = now_realtime, a.now_raw = now_raw;
}

void Ensemble::take(const Arrival& a, const leapdb::LeapTable& table) {
  const std::size_t index = a.server;
  const std::span<const std::byte> reply{a.bytes.data(), a.length};
  const leapdb::UtcTime arrival = a.arrival, now_realtime = a.now_realtime;
  const leapdb::Nanoseconds now_raw = a.now_raw;
  Server& s = servers_[index];
  if (!s.in_flight) return;
  const Judged judged = judge(reply, *s.in_flight, to_raw(arrival, now_realtime, now_raw), arrival, table,
                              options_.precision, own_reference_ids_);
  if (judged.verdict == Verdict::not_ours) return;
  s.in_flight.reset();  // one reply a request: a duplicate is a replay
  const Measurement& m = judged.measurement;
  s.reach = static_cast<std::uint8_t>(s.reach | 1);
  if (!s.ever_reachable || s.state == SourceState::unreachable) {
    notice(Notice::Level::info, "source_reachable", s, {{"stratum", std::to_string(m.stratum)}});
    s.ever_reachable = true;
    if (!refused(s, now_raw)) set_state(s, SourceState::candidate, "");
  }
  s.unusable.clear();
  switch (judged.verdict) {
    case Verdict::sample: break;
    case Verdict::rate_limited:
      s.interval = std::min(s.interval * 2, kMaxPoll);
      s.burst = 0;
      s.next_send = now_raw + s.interval;
      notice(Notice::Level::warning, "source_rate_limited", s,
             {{"poll_s", std::to_string(s.interval.count() / 1'000'000'000)}});
      return;
    case Verdict::denied:
      refuse(s, now_raw, leapdb::Nanoseconds::max(), "it answered kiss-o'-death " + judged.kiss + ": no more requests");
      return;
    case Verdict::smeared:
      refuse(s, now_raw, kRefusal,
             m.reference_id >> 24 == 0xFE ? "its refid 254.x.y.z (ntpd's leap smear) says it serves smeared time, not true UTC"
                                          : "its refid 127.127.1.255 (chrony's time smoothing) says it serves smeared "
                                            "time, not true UTC");
      return;
    case Verdict::unsynchronized:
      unusable(s, now_raw, "it says it is unsynchronized", false);
      return;
    case Verdict::loop:
      unusable(s, now_raw,
               "its refid " + ntp::format_reference_id(m.stratum, m.reference_id) +
                   " is one of our own addresses: it takes its time from us (a timing loop)",
               true);
      return;
    case Verdict::missing_time:
    case Verdict::kiss_of_death:
    case Verdict::near_leap:
    case Verdict::bogus:
    case Verdict::not_ours: return;
  }
  s.last = m;  // reported even when refused: what a smearing server serves is worth seeing
  s.last_realtime = now_realtime;
  if (const std::optional<std::string> why = leap_refusal(m.leap, table, now_realtime)) {
    refuse(s, now_raw, kRefusal, *why);
    return;
  }
  if (m.leap != ntp::LeapIndicator::none && !s.leap_noticed) {
    const leapdb::Leap* next = table.next_leap_after(now_realtime);
    if (!next || next->effective - now_realtime > std::chrono::hours{24}) {
      notice(Notice::Level::warning, "source_leap_unknown", s,
             {{"detail",
               "it announces a leap at the coming midnight that the leap table does not have; "
               "smeard follows the leap table"}});
    }
    s.leap_noticed = true;
  }
  if (refused(s, now_raw)) return;
  s.filter.add(m);
  s.fresh = true;
}

Line Ensemble::residual_line() const {
  if (clock_.started()) return clock_.line();
  return provisional_.value_or(Line{});
}

void Ensemble::select_and_steer(const Tick& tick) {
  const leapdb::Nanoseconds raw = tick.monotonic_raw;
  if (!clock_.started() && !provisional_) {
    for (const Server& s : servers_) {
      if (!s.filter.empty() && !refused(s, raw)) {
        provisional_ = Line{s.filter.newest().raw, s.filter.newest().offset,
                            leapdb::Rate::from_ppm(stored_drift_ ? clock_.frequency().ppm : 0)};
        break;
      }
    }
  }
  const Line line = residual_line();
  std::vector<Candidate> candidates;
  std::vector<std::size_t> indices;
  for (std::size_t i = 0; i < servers_.size(); ++i) {
    Server& s = servers_[i];
    if (!refused(s, raw) && s.state == SourceState::refused && s.unusable.empty()) {
      set_state(s, s.reach ? SourceState::candidate : SourceState::unreachable, s.reach ? "" : "no reply yet");
    }
    if (refused(s, raw) || s.reach == 0 || !s.unusable.empty() || s.filter.empty()) {
      s.best.reset();
      continue;
    }
    s.best = s.filter.best(line);
    candidates.push_back({s.best->residual, s.best->sample.distance() + s.best->jitter});
    indices.push_back(i);
  }
  const Selection selection = select(candidates, options_.minsources);
  selected_.reset();
  if (!selection.ok) {
    for (std::size_t i : indices) set_state(servers_[i], SourceState::candidate, selection.why);
    if (selection_problem_ != selection.why && !candidates.empty()) {
      notice(Notice::Level::warning, "selection_failed", {{"detail", selection.why}});
      selection_problem_ = selection.why;
    }
    for (Server& s : servers_) s.fresh = false;
    return;
  }
  if (!selection_problem_.empty()) notice(Notice::Level::info, "selection_recovered", {});
  selection_problem_.clear();

  for (std::size_t k : selection.falsetickers) {
    Server& s = servers_[indices[k]];
    const std::string why = "its offset " + milliseconds(candidates[k].offset - selection.combined) +
                            " ms is outside what the majority agree on";
    if (s.state != SourceState::falseticker) {
      notice(Notice::Level::warning, "falseticker", s, {{"why", why}});
    }
    set_state(s, SourceState::falseticker, why);
  }
  for (std::size_t rank = 0; rank < selection.truechimers.size(); ++rank) {
    const std::size_t i = indices[selection.truechimers[rank]];
    set_state(servers_[i], rank == 0 ? SourceState::selected : SourceState::candidate, "");
  }
  selected_ = indices[selection.truechimers.front()];
  voices_ = selection.truechimers.size();

  // A server that drifts steadily away from all the others smears (or is broken): it takes at
  // least two others to tell which one moves.
  for (std::size_t k = 0; k < candidates.size(); ++k) {
    Server& s = servers_[indices[k]];
    if (!s.fresh) continue;
    double weights = 0, sum = 0;
    std::size_t others = 0;
    for (std::size_t t : selection.truechimers) {
      if (t == k) continue;
      const double w = candidates[t].weight();
      weights += w, sum += w * static_cast<double>(candidates[t].offset.count()), ++others;
    }
    if (others < 2) continue;
    const Measurement& newest = s.filter.newest();
    s.drift.add(newest.raw, newest.offset - line.at_raw(newest.raw) - leapdb::Nanoseconds{std::llround(sum / weights)});
    if (const std::optional<double> ppm = s.drift.drifting_ppm()) {
      refuse(s, raw, kRefusal,
             "it drifts " + decimal(*ppm, 1) + " ppm against the other servers: it smears, or its clock is broken");
      if (selected_ == indices[k]) selected_.reset();
    }
  }
  if (!selected_) {
    for (Server& s : servers_) s.fresh = false;
    return;
  }

  // The combined residual belongs to when its samples were taken: measured there, the phase
  // owes nothing to the clock's own frequency, which is what the regression is to learn.
  bool fresh = false;
  double weights = 0, sum = 0;
  const leapdb::Nanoseconds origin = servers_[*selected_].best->sample.raw;
  for (std::size_t t : selection.truechimers) {
    const Server& s = servers_[indices[t]];
    if (refused(s, raw)) continue;
    fresh = fresh || s.fresh;
    const double w = candidates[t].weight();
    weights += w, sum += w * static_cast<double>((s.best->sample.raw - origin).count());
  }
  for (Server& s : servers_) s.fresh = false;
  const leapdb::Nanoseconds measured_at = origin + leapdb::Nanoseconds{std::llround(sum / weights)};
  if (!fresh) return;
  // A new sample that did not beat the filter's best still says the servers are there.
  if (!last_measured_at_ || measured_at > *last_measured_at_) {
    last_measured_at_ = measured_at;
    const leapdb::Nanoseconds measured = line.at_raw(measured_at) + selection.combined;
    if (const std::optional<leapdb::Nanoseconds> step = clock_.update(measured_at, measured)) {
      notice(Notice::Level::warning, "clock_step", {{"step_ms", milliseconds(*step)}});
    }
  }
  if (!locked_ && clock_.frequency_known()) {
    locked_ = true;
    notice(Notice::Level::info, "upstream_locked",
           {{"after_s", decimal(static_cast<double>((raw - started_raw_).count()) / 1e9, 1)},
            {"frequency_ppm", decimal(clock_.frequency().ppm, 3)},
            {"from_drift_file", stored_drift_ ? "true" : "false"}});
  }
  if (locked_) last_update_ = tick.realtime;
}

Estimate Ensemble::update(const Tick& tick) {
  const leapdb::Nanoseconds raw = tick.monotonic_raw;
  if (previous_tick_) {
    const leapdb::Nanoseconds dsys = tick.realtime - previous_tick_->first;
    const leapdb::Nanoseconds draw = raw - previous_tick_->second;
    if (dsys > leapdb::Nanoseconds{0}) {
      const double ppm = (static_cast<double>(draw.count()) / static_cast<double>(dsys.count()) - 1) * 1e6;
      if (std::abs(ppm) < kMaxRealtimeSlewPpm) {
        raw_per_realtime_ppm_ = rate_measured_ ? raw_per_realtime_ppm_ + 0.25 * (ppm - raw_per_realtime_ppm_) : ppm;
        rate_measured_ = true;
      }
    }
  }
  previous_tick_ = {tick.realtime, raw};
  // Judged only now, so the arrival's conversion to raw time has this tick's rate.
  for (const Arrival& a : arrivals_) take(a, tick.table);
  arrivals_.clear();

  select_and_steer(tick);
  clock_.advance(raw);

  Estimate e;
  e.precision = options_.precision;
  e.leap = LeapWarning::unknown;
  e.line = ntp::Correction{tick.realtime, {}, {}};
  if (clock_.started()) {
    const leapdb::Nanoseconds reference = raw + clock_.phase_at(raw);
    e.line.offset = reference - system_tai(tick.table, tick.realtime, tick.kernel).time_since_epoch();
    e.line.rate = leapdb::Rate::from_ppm(raw_per_realtime_ppm_ + clock_.rate_ppm_at(raw));
  }
  const Server* best = selected_ ? &servers_[*selected_] : nullptr;
  if (best && best->best && tick.realtime == last_update_) {
    const Measurement& m = best->best->sample;
    claims_.stratum = m.stratum;
    claims_.reference_id = best->identity.reference_id;
    claims_.root_delay = m.root_delay + m.delay;
    claims_.dispersion = m.root_dispersion + m.error + best->best->jitter + std::chrono::abs(clock_.pending()) +
                         leapdb::Rate::from_ppm(kDispersionGrowthPpm).over(std::max(raw - m.raw, leapdb::Nanoseconds{0}));
    claims_.leap = warning_of(m.leap);
  }
  // Between updates, and once the servers are gone, replies claim what the last update
  // allowed, the dispersion growing from it.
  e.stratum = claims_.stratum;
  e.reference_id = claims_.reference_id;
  e.root_delay = claims_.root_delay;
  e.dispersion = claims_.dispersion;
  e.leap = claims_.leap;
  const double frequency_error = clock_.frequency_known() ? std::min(clock_.frequency().stderr_ppm, 100.0) : 100.0;
  e.dispersion_growth = leapdb::Rate::from_ppm(kDispersionGrowthPpm + frequency_error);
  if (locked_) e.last_update = last_update_;
  e.voices = voices_;
  // A reply is due every poll: two missed, and the clock is coasting.
  const leapdb::Nanoseconds window = std::max(2 * options_.poll, kBurstInterval) + std::chrono::seconds{1};
  e.tracking = locked_ && best && last_update_ && tick.realtime - *last_update_ < window;
  return e;
}

std::vector<SourceReport> Ensemble::report() const {
  std::vector<SourceReport> rows;
  for (const Server& s : servers_) {
    SourceReport r;
    r.name = s.identity.name;
    r.address = s.identity.address;
    r.unauthentic = s.unauthentic;
    r.state = s.state;
    r.poll = std::chrono::duration_cast<std::chrono::seconds>(s.interval);
    r.reach = s.reach;
    r.why = s.why;
    if (s.last) {
      r.stratum = s.last->stratum;
      r.offset = s.last->system_offset;
      r.delay = s.last->delay;
      r.error = s.last->distance();
      r.last_sample = s.last_realtime;
    }
    rows.push_back(std::move(r));
  }
  return rows;
}

void Ensemble::unusable(Server& server, leapdb::Nanoseconds raw, std::string why, bool log) {
  if (log && server.refusal != why) {
    notice(Notice::Level::warning, "source_refused", server, {{"why", why}, {"for_s", "0"}});
    server.refusal = why;
  }
  if (!refused(server, raw)) set_state(server, SourceState::refused, why);
  server.unusable = std::move(why);
}

AssociationHealth Ensemble::health(std::size_t slot) const {
  const Server& s = servers_[slot];
  return AssociationHealth{
      s.identity.vacant(), s.state, s.reach, s.requests, s.refused_until == leapdb::Nanoseconds::max(), s.why};
}

void Ensemble::assign(std::size_t slot, ServerIdentity identity, const std::string& why) {
  Server& old = servers_[slot];
  if (old.identity.vacant()) {
    notice(Notice::Level::info, "source_address", {{"server", identity.name}, {"address", identity.address}});
  } else {
    notice(Notice::Level::warning, "source_replaced",
           {{"server", identity.name},
            {"old_address", old.identity.address},
            {"address", identity.address},
            {"why", why}});
  }
  if (selected_ == slot) selected_.reset();
  Server fresh;
  fresh.identity = std::move(identity);
  fresh.interval = options_.poll;
  if (fresh.identity.vacant()) fresh.why = "no address yet";
  old = std::move(fresh);
}

void Ensemble::moved(std::size_t slot, std::string address, std::uint32_t reference_id) {
  Server& s = servers_[slot];
  notice(Notice::Level::info, "source_moved",
         {{"server", s.identity.name}, {"old_address", s.identity.address}, {"address", address}});
  s.identity.address = std::move(address);
  s.identity.reference_id = reference_id;
}

void Ensemble::explain_vacancy(std::size_t slot, std::string why) {
  Server& s = servers_[slot];
  if (s.identity.vacant()) s.why = std::move(why);
}

void Ensemble::network_error(std::size_t slot, const std::string& error) {
  Server& s = servers_[slot];
  if (s.state == SourceState::unreachable) s.why = error;
}

std::optional<Drift> Ensemble::known_drift() const {
  if (!clock_.frequency_known()) return std::nullopt;
  return clock_.frequency();
}

std::optional<Drift> Ensemble::drift_to_save(leapdb::Nanoseconds raw) {
  if (!locked_ || (drift_saved_at_ && raw - *drift_saved_at_ < kDriftSaveInterval)) return std::nullopt;
  drift_saved_at_ = raw;
  return known_drift();
}

}  // namespace reference::upstream
