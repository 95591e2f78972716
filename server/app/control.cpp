#include "server/app/control.hpp"
#include "server/app/keys_file.hpp"

#include <algorithm>
#include <thread>

#include "server/app/log.hpp"
#include "server/app/reference_factory.hpp"
#include "server/app/reload_plan.hpp"
#include "server/app/status_builder.hpp"
#include "server/counting/counters.hpp"
#include "server/ntp/client.hpp"
#include "server/reference/clocks.hpp"
#include "server/reference/kernel.hpp"

namespace app {
namespace {

// The heaviest clients /status lists per timescale (smearctl clients --top shows up to these).
constexpr std::size_t kStatusClients = 100;

std::vector<std::optional<io::FileSignature>> nts_signatures(const config::Config& config) {
  if (!config.nts) return {};
  return nts::file_signatures(*config.nts);
}

// What an operator must see about the timescales being served: loudly for rehearsals and a
// simulated clock, which are not real time.
void log_serving(const config::Config& config) {
  if (const config::ReferenceSource* simulated = config.reference.simulated()) {
    log(Level::warning, "reference_simulated",
        {{"start", leapdb::format_rfc3339(simulated->start)},
         {"rate", simulated->rate_text},
         {"detail", "SIMULATED TIME: this server does not serve the real time; for rehearsals and tests only"}});
  }
  for (const auto& [name, timescale] : config.timescales) {
    log(Level::info, "timescale",
        {{"name", name},
         {"smear", timescale.profile.name},
         {"shape", std::string{smear::to_string(timescale.profile.shape)}},
         {"window_s", std::to_string(timescale.profile.window.count() / 1'000'000'000)}});
    if (timescale.rehearsal) {
      log(Level::warning, "rehearsal_leap",
          {{"timescale", name},
           {"leap_at", leapdb::format_rfc3339(timescale.rehearsal->leap_at)},
           {"sign", timescale.rehearsal->sign > 0 ? "+" : "-"},
           {"detail", "REHEARSAL: this timescale smears a leap that does not exist; its clients will end a second "
                      "away from UTC"}});
    }
  }
}

std::string seconds_text(leapdb::Nanoseconds d) {
  const std::int64_t ns = d.count();
  if (ns % 1'000'000'000 == 0) return std::to_string(ns / 1'000'000'000);
  return std::to_string(static_cast<double>(ns) / 1e9);
}

// The sources and the selection among them, one line each.
void log_reference(const config::Reference& reference) {
  log(Level::info, "reference",
      {{"sources", std::to_string(reference.sources.size())},
       {"minsources", std::to_string(reference.minsources)},
       {"max_step_s", seconds_text(reference.max_step)},
       {"holdover_s", seconds_text(reference.holdover)},
       {"local_stratum", std::to_string(reference.local_stratum)}});
  for (const config::ReferenceSource& source : reference.sources) {
    std::string options;
    for (const auto& [on, name] : {std::pair{source.prefer, "prefer"}, std::pair{source.trust, "trust"},
                                   std::pair{source.require, "require"}, std::pair{source.noselect, "noselect"}}) {
      if (on) options += (options.empty() ? "" : ",") + std::string{name};
    }
    log(Level::info, "reference_source",
        {{"name", source_name(source)},
         {"type", std::string{config::to_string(source.type)}},
         {"refid", source.type == config::ReferenceSource::Type::upstream ? "the selected server's address"
                                                                          : source.reference_id_text()},
         {"options", options.empty() ? "none" : options}});
  }
}

void log_notice(const reference::Notice& notice) {
  std::vector<Field> fields;
  for (const auto& [key, value] : notice.fields) fields.push_back(Field{key, value});
  const Level level = notice.level == reference::Notice::Level::error     ? Level::error
                      : notice.level == reference::Notice::Level::warning ? Level::warning
                                                                          : Level::info;
  log(level, notice.event, fields);
}

std::string_view stage_detail(reference::Stage stage) {
  switch (stage) {
    case reference::Stage::synchronized: return "the reference steers the served time";
    case reference::Stage::holdover:
      return "the reference stopped giving good samples: serving from its last estimate, the root dispersion growing";
    case reference::Stage::unsynchronized: return "replies say LI=3 (unsynchronized) and stratum 16";
    case reference::Stage::local: return "replies serve this clock at the configured local stratum";
  }
  return "";
}

std::vector<std::string> timescale_names(const ServingPlan& plan) {
  std::vector<std::string> names;
  for (const ntp::TimescaleView& view : plan.timescales) names.push_back(view.name);
  return names;
}

std::string name_of(const ntp::Snapshot& snapshot, std::uint8_t index) {
  return index < snapshot.timescales.size() ? snapshot.timescales[index].name : "#" + std::to_string(index);
}

std::string client_text(const ntp::ClientAddress& client) {
  config::SocketAddress address;
  const bool v4 = client.is_ipv4();
  address.family = v4 ? config::SocketAddress::Family::ipv4 : config::SocketAddress::Family::ipv6;
  std::copy(client.ip.begin() + (v4 ? 12 : 0), client.ip.end(), address.bytes.begin());
  address.port = client.port;
  const std::string text = address.to_string();
  return text.substr(0, text.rfind(':'));
}

// Clients check the certificate's dates: one out of them fails every key establishment.
void log_certificate(const config::Nts& nts, const nts::LoadedFiles& loaded) {
  if (!loaded.certificate) return;
  const nts::CertificateValidity& c = *loaded.certificate;
  switch (nts::judge_dates(c, reference::realtime_now())) {
    case nts::CertificateDates::expired:
      log(Level::warning, "nts_certificate_expired",
          {{"file", nts.certificate}, {"expired", leapdb::format_rfc3339(c.not_after)},
           {"detail", "NTS clients refuse it: every key establishment fails until it is renewed"}});
      break;
    case nts::CertificateDates::not_yet_valid:
      log(Level::warning, "nts_certificate_not_yet_valid",
          {{"file", nts.certificate}, {"valid_from", leapdb::format_rfc3339(c.not_before)},
           {"detail", "NTS clients refuse it until then (or this clock is behind)"}});
      break;
    case nts::CertificateDates::valid:
      log(Level::info, "nts_certificate", {{"file", nts.certificate}, {"expires", leapdb::format_rfc3339(c.not_after)}});
      break;
  }
}

}  // namespace

unsigned worker_count(const config::Config& config) {
  return workers_per_listener(config, std::thread::hardware_concurrency());
}

Control::Control(config::Config config, std::optional<std::string> config_path, asio::io_context& io,
                 io::RcuCell<ntp::Snapshot>& state, std::vector<std::unique_ptr<io::Worker>>& workers,
                 std::vector<std::unique_ptr<ntp::ClientHistory>>& histories, std::int8_t precision, leapdb::UtcTime origin)
    : config_(std::move(config)),
      config_path_(std::move(config_path)),
      timer_(io),
      state_(state),
      workers_(workers),
      histories_(histories),
      precision_(precision),
      origin_(origin),
      leaps_(std::make_unique<LeapWatcher>(config_.leapdb)) {
  if (config_path_) config_signature_ = io::file_signature(*config_path_);
}

bool Control::prepare(Start start) {
  LoadedKeys keys = load_keys(config_);
  if (!keys.ring) {
    for (const std::string& problem : keys.problems) log(Level::error, "keys_failed", {{"problem", problem}});
    return false;
  }
  keys_ = std::move(keys.ring);
  if (config_.keys) log(Level::info, "keys", {{"file", *config_.keys}, {"keys", std::to_string(keys_->keys().size())}});
  if (config_.nts) {
    nts_signatures_ = nts_signatures(config_);
    nts_ = nts::load_files(*config_.nts);
    if (!nts_.tls) {
      for (const std::string& problem : nts_.problems) log(Level::error, "nts_failed", {{"problem", problem}});
      return false;
    }
    log_certificate(*config_.nts, nts_);
  }
  const bool rehearsal = start == Start::rehearse;
  if (rehearsal) {
    if (const auto problem = References::check(config_.reference, precision_, keys_)) {
      log(Level::error, "reference_failed", {{"problem", problem->to_string()}});
      return false;
    }
  } else {
    auto opened = References::open(config_.reference, precision_, reference::monotonic_raw_now(), keys_);
    if (const auto* problem = std::get_if<config::Problem>(&opened)) {
      log(Level::error, "reference_failed", {{"problem", problem->to_string()}});
      return false;
    }
    references_ = std::move(std::get<std::unique_ptr<References>>(opened));
  }
  if (const auto problems = hardware_.check(config_.hardware_timestamps); !problems.empty()) {
    for (const config::Problem& problem : problems)
      log(Level::error, "hardware_timestamps_failed", {{"problem", problem.to_string()}});
    return false;
  }
  if (!rehearsal) {
    hardware_.configure(config_.hardware_timestamps, std::chrono::steady_clock::now());
    hardware_sockets_ = hardware_.any_hardware();
    log_reference(config_.reference);
    log_serving(config_);
  }
  if (!leaps_->start(reference::realtime_now(), acceptor(config_, plan_))) return false;
  if (rehearsal) return true;
  poll_reference();
  // Cookie periods are counted on the reference's time, known from here on.
  rotate_nts_keys(true);
  return true;
}

std::string Control::summary() const {
  std::string text = std::to_string(config_.listeners.size()) + " listeners, " +
                     std::to_string(config_.timescales.size()) + " timescales";
  if (config_.keys) text += ", " + std::to_string(keys_->keys().size()) + " keys";
  if (config_.nts) text += ", NTS on " + std::to_string(config_.nts->listeners.size()) + " KE listeners";
  if (leaps_->loaded()) text += ", " + std::to_string(leaps_->table()->leaps.size()) + " leaps";
  return text;
}

ntp::ReferenceClock Control::reference_clock() const {
  ntp::ReferenceClock clock = plan_.clock;
  if (clock.kind == ntp::ReferenceClock::Kind::system) clock.correction = estimate_.line;
  return clock;
}

reference::Served Control::served_at(leapdb::UtcTime reading) const {
  const ntp::ReferenceClock clock = reference_clock();
  const std::optional<leapdb::TaiTime> updated =
      estimate_.last_update ? std::optional{clock.to_tai(*estimate_.last_update)} : std::nullopt;
  return reference::serve(estimate_, references_->policy(), updated, clock.to_tai(reading), clock.to_tai(origin_));
}

ntp::Snapshot Control::snapshot() const {
  const leapdb::UtcTime reading = reference::realtime_now();
  ntp::Snapshot next = make_snapshot(plan_, ReferenceView{estimate_.line, served_at(reading).quality,
                                                          std::max(precision_, estimate_.precision), reading});
  next.history_generation = history_generation_;
  next.keys = keys_;
  next.nts_keys = cookie_keys_.keys();
  next.hardware = hardware_.table();
  // Rate-limit tables exist only if rate limiting was on at start.
  next.policy.rate_limit.enabled = next.policy.rate_limit.enabled && rate_tables_;
  return next;
}

void Control::publish() {
  state_.publish(std::make_unique<const ntp::Snapshot>(snapshot()));
  // Once no worker holds a snapshot of an older generation, nothing can record under one again.
  if (history_purge_pending_ && state_.reclaim() == 0) {
    std::size_t purged = 0;
    for (const auto& history : histories_) purged += history->purge(history_generation_);
    history_purge_pending_ = false;
    log(Level::info, "client_history_purged", {{"entries", std::to_string(purged)}});
  }
}

void Control::poll_reference() {
  const reference::ClockPair now = reference::read_clock_pair();
  const reference::KernelClockStatus kernel = reference::read_kernel_clock_status();
  estimate_ = references_->poll(reference::Tick{*leaps_->table(), now.realtime, now.raw, kernel});
  for (const reference::Notice& notice : references_->take_notices()) log_notice(notice);

  const reference::Stage stage = served_at(now.realtime).stage;
  if (stage_ != stage) {
    const Level level = stage == reference::Stage::synchronized ? Level::info : Level::warning;
    log(level, "reference_stage",
        {{"stage", std::string{reference::to_string(stage)}},
         {"type", references_->types()},
         {"last_update", estimate_.last_update ? leapdb::format_rfc3339(*estimate_.last_update) : "never"},
         {"detail", std::string{stage_detail(stage)}}});
    stage_ = stage;
  }
}

void Control::reload(std::string_view reason) {
  if (!config_path_) {
    log(Level::info, "reload", {{"reason", std::string{reason}}, {"detail", "embedded configuration: rereading leap files"}});
    if (leaps_->reload(reason, reference::realtime_now(), acceptor(config_, plan_))) publish();
    return;
  }
  config_signature_ = io::file_signature(*config_path_);
  nts_signatures_ = nts_signatures(config_);
  const io::FileRead file = io::read_file(*config_path_);
  if (!file.ok()) {
    refuse(reason, {file.error});
    return;
  }
  config::ParseResult parsed = config::parse(file.bytes, *config_path_);
  std::vector<std::string> problems;
  for (const config::Problem& problem : parsed.problems) problems.push_back(problem.to_string());
  if (!parsed.config) {
    refuse(reason, problems);
    return;
  }
  config::Config candidate = std::move(*parsed.config);
  const ReloadPlan change = plan_reload(config_, candidate, rate_tables_, std::thread::hardware_concurrency());
  if (!change.refused.empty()) {
    refuse(reason, change.refused);
    return;
  }
  if (const auto missing = hardware_.check(candidate.hardware_timestamps); !missing.empty()) {
    std::vector<std::string> texts;
    for (const config::Problem& problem : missing) texts.push_back(problem.to_string());
    refuse(reason, texts);
    return;
  }
  for (const std::string& detail : change.deferred) log(Level::warning, "reload_partial", {{"detail", detail}});
  // The keys file is reread at every reload, whether or not its name changed.
  LoadedKeys keys = load_keys(candidate);
  if (!keys.ring) {
    refuse(reason, keys.problems);
    return;
  }
  // New sources are opened before anything else changes, so a device that is not there refuses
  // the whole reload while the old sources keep serving. Upstream servers with a key sign with
  // the keys just read.
  auto opened = references_->open_new(candidate.reference, change.kept_sources, keys.ring);
  if (const auto* problem = std::get_if<config::Problem>(&opened)) {
    refuse(reason, {problem->to_string()});
    return;
  }
  // So are the NTS certificate, key and cookie secret: a renewed certificate takes effect here.
  // Signatures are taken before reading, so a file replaced while it is read is seen as changed next time.
  auto candidate_nts_signatures = nts_signatures(candidate);
  nts::LoadedFiles nts;
  if (candidate.nts) {
    nts = nts::load_files(*candidate.nts);
    if (!nts.tls) {
      refuse(reason, nts.problems);
      return;
    }
  }
  // Leap files: the same watcher rereads them; new settings get a new watcher.
  ServingPlan plan;
  const LeapWatcher::Acceptor accept = acceptor(candidate, plan);
  std::unique_ptr<LeapWatcher> leaps;
  if (change.leapdb_changed) {
    leaps = std::make_unique<LeapWatcher>(candidate.leapdb);
    if (!leaps->start(reference::realtime_now(), accept)) {
      refuse(reason, {"the new leapdb files could not be used (see above)"});
      return;
    }
  } else {
    // Reread the files: a new table is taken only if the new configuration can serve it.
    // Either way the plan is then built from the table in force, so plan and table agree.
    leaps_->reload(reason, reference::realtime_now(), accept);
    if (const auto refusals = accept(leaps_->table()); !refusals.empty()) {
      refuse(reason, refusals);
      return;
    }
  }
  if (leaps) leaps_ = std::move(leaps);
  // Client history records timescales by index; when the set of timescales changes, an index
  // may name another timescale, so sticky and mixed-client memory starts afresh, in a new
  // generation that workers still on the old snapshot cannot write into.
  if (timescale_names(plan) != timescale_names(plan_)) {
    history_generation_ = static_cast<std::uint8_t>((history_generation_ + 1) % ntp::ClientHistory::kGenerations);
    history_purge_pending_ = true;
    log(Level::warning, "client_history_cleared", {{"reason", "the set of timescales changed"}});
  }
  log_as_json(candidate.log_json);
  // Unchanged sources keep their state, samples and clock.
  references_->reconfigure(candidate.reference, change.kept_sources, std::move(std::get<0>(opened)),
                           reference::monotonic_raw_now());
  config_ = std::move(candidate);
  plan_ = std::move(plan);
  keys_ = std::move(keys.ring);
  if (config_.keys) log(Level::info, "keys", {{"file", *config_.keys}, {"keys", std::to_string(keys_->keys().size())}});
  nts_ = std::move(nts);
  nts_signatures_ = std::move(candidate_nts_signatures);
  if (config_.nts) log_certificate(*config_.nts, nts_);
  rotate_nts_keys(true);
  hardware_.configure(config_.hardware_timestamps, std::chrono::steady_clock::now());
  if (hardware_.any_hardware() && !hardware_sockets_) {
    log(Level::warning, "reload_partial",
        {{"detail", "the listener sockets were opened without hardware stamps: restart smeard to use them"}});
  }
  log(Level::info, "config_reloaded", {{"reason", std::string{reason}}, {"config", *config_path_}});
  log_serving(config_);
  log_reference(config_.reference);
  publish();
}

std::vector<metrics::Traffic> Control::traffic() const {
  std::vector<metrics::Traffic> out;
  for (std::size_t listener = 0; listener < config_.listeners.size(); ++listener) {
    metrics::Traffic traffic;
    traffic.listener = config_.listeners[listener].address.to_string();
    traffic.timescale = config_.listeners[listener].timescale;
    if (listener < xdp_.size()) traffic.xdp = xdp_[listener];
    for (const auto& worker : workers_) {
      if (worker->listener() != listener) continue;
      const std::uint64_t requests = worker->counters().requests.load(std::memory_order_relaxed);
      traffic.requests_by_worker.push_back(requests);
      traffic.counts += worker->counters();
      if (worker->xdp() && traffic.xdp) traffic.xdp->requests += requests;
    }
    out.push_back(std::move(traffic));
  }
  return out;
}

std::vector<metrics::ClientStatus> Control::clients(std::string_view timescale) const {
  std::vector<counting::Talker> rows;
  for (const auto& worker : workers_) {
    if (config_.listeners[worker->listener()].timescale != timescale) continue;
    const std::vector<counting::Talker> held = worker->talkers().read();
    rows.insert(rows.end(), held.begin(), held.end());
  }
  return client_statuses(counting::merge_talkers(std::move(rows), kStatusClients));
}

metrics::Status Control::status(bool clients) const {
  StatusInputs in;
  in.version = SMEARD_VERSION;
  in.snapshot = &state_.current();
  in.reading = reference::realtime_now();
  in.reference_type = references_->types();
  in.selected_source = references_->selected();
  in.selection_changes = references_->selection_changes();
  in.stage = stage_.value_or(reference::Stage::unsynchronized);
  in.estimate = estimate_;
  in.sources = references_->report();
  in.leap_files_configured = !config_.leapdb.files.empty();
  in.leap_table_loaded = leaps_->loaded();
  in.traffic = traffic();
  in.workers_running = !workers_.empty() && std::ranges::all_of(workers_, [](const auto& w) { return w->running(); });
  metrics::Status status = build_status(in);
  status.nts = nts_status();
  status.hardware_timestamps = hardware_.status();
  if (http_ != nullptr) status.endpoint_refusals = http_->refusals();
  if (clients) {
    for (metrics::TimescaleStatus& t : status.timescales) t.clients = this->clients(t.name);
  }
  return status;
}

std::shared_ptr<const nts::KeState> Control::nts_ke_state() const {
  if (!config_.nts || cookie_keys_.keys().empty()) return nullptr;
  return nts::ke_state(*config_.nts, nts_.tls, cookie_keys_.keys().front());
}

void Control::rotate_nts_keys(bool force) {
  if (!config_.nts) {
    cookie_keys_.clear();
    return;
  }
  // The reference's time, not the system clock's: a node whose clock is off still seals and opens
  // with its fleet's keys.
  const leapdb::UtcTime now = reference_clock().to_utc(reference::realtime_now());
  if (!cookie_keys_.rotate(nts_.secret, config_.nts->rotation, now, force)) return;
  if (nts_ke_) nts_ke_->publish(nts_ke_state());
  log(Level::info, "nts_cookie_key",
      {{"period", std::to_string(*cookie_keys_.period())},
       {"rotation_s", std::to_string(config_.nts->rotation.count() / 1'000'000'000)},
       {"accepted_periods", std::to_string(cookie_keys_.keys().size())}});
}

std::optional<metrics::NtsStatus> Control::nts_status() const {
  const std::optional<std::uint32_t> period = cookie_keys_.period();
  if (!config_.nts || !period) return std::nullopt;
  metrics::NtsStatus nts;
  for (std::size_t i = 0; i < nts::kKeOutcomeCount; ++i) {
    const std::uint64_t n = nts_ke_ ? nts_ke_->counters().sessions[i].load(std::memory_order_relaxed) : 0;
    nts.ke_sessions.emplace_back(std::string{nts::to_string(static_cast<nts::KeOutcome>(i))}, n);
  }
  if (nts_ke_) {
    nts.cookies_issued = nts_ke_->counters().cookies_issued.load(std::memory_order_relaxed);
    nts.ke_open_connections = nts_ke_->counters().open_connections.load(std::memory_order_relaxed);
  }
  const double rotation = static_cast<double>(config_.nts->rotation.count()) / 1e9;
  const leapdb::UtcTime reference_now = reference_clock().to_utc(reference::realtime_now());
  const double now = static_cast<double>(reference_now.time_since_epoch().count()) / 1e9;
  nts.cookie_key_period = *period;
  nts.rotation_seconds = rotation;
  nts.cookie_key_age_seconds = now - static_cast<double>(*period) * rotation;
  if (nts_.certificate) {
    nts.certificate_expiry = static_cast<double>(nts_.certificate->not_after.time_since_epoch().count()) / 1e9;
  }
  return nts;
}

metrics::HttpResponse Control::serve_http(std::string_view path) const {
  if (path == "/metrics") return {200, "text/plain; version=0.0.4; charset=utf-8", metrics::to_prometheus(status())};
  if (path == "/status") return {200, "application/json", metrics::to_json(status(true))};
  if (path == "/healthz") {
    const bool healthy = status().healthy;
    return {healthy ? 200 : 503, "text/plain; charset=utf-8", healthy ? "ok\n" : "a worker thread has stopped\n"};
  }
  if (path == "/readyz") {
    const metrics::Status s = status();
    std::string body = s.not_ready.empty() ? "ready\n" : "";
    for (const std::string& reason : s.not_ready) body += "not ready: " + reason + "\n";
    return {s.not_ready.empty() ? 200 : 503, "text/plain; charset=utf-8", body};
  }
  return {404, "text/plain; charset=utf-8", "not found: try /metrics, /status, /healthz or /readyz\n"};
}

// Accepting a leap table means being able to serve every timescale with it.
LeapWatcher::Acceptor Control::acceptor(const config::Config& config, ServingPlan& plan) {
  return [this, &config, &plan](std::shared_ptr<const leapdb::LeapTable> table) {
    PlanResult result = plan_serving(config, std::move(table), origin_);
    if (result.plan) plan = std::move(*result.plan);
    return result.problems;
  };
}

void Control::refuse(std::string_view reason, const std::vector<std::string>& problems) {
  for (const std::string& problem : problems) log(Level::error, "config_rejected", {{"problem", problem}});
  log(Level::error, "config_reload_failed",
      {{"reason", std::string{reason}}, {"kept", "the configuration in force since the last successful load"}});
}

void Control::schedule() {
  timer_.expires_after(std::chrono::seconds{1});
  timer_.async_wait([this](const std::error_code& error) {
    if (error) return;
    tick();
    schedule();
  });
}

void Control::tick() {
  if (config_path_ && io::file_signature(*config_path_) != config_signature_) {
    reload("config changed on disk");
  } else if (config_path_ && nts_signatures(config_) != nts_signatures_) {
    reload("NTS certificate, key or cookie key file changed on disk");
  }
  leaps_->poll(reference::realtime_now(), acceptor(config_, plan_));
  poll_reference();
  hardware_.poll(std::chrono::steady_clock::now());
  rotate_nts_keys(false);
  publish();
  report_mixed_clients();
  report_transitions();
}

// Smears starting and ending, and leaps taking effect, each logged once with the offset.
void Control::report_transitions() {
  const ntp::Snapshot& snap = state_.current();
  const leapdb::TaiTime tai = snap.clock.to_tai(reference::realtime_now());
  const int tai_offset = snap.clock.table->tai_utc_at(tai);
  for (const metrics::TimescaleStatus& t : timescale_statuses(snap, tai)) {
    const auto [previous, inserted] = smearing_.try_emplace(t.name, t.active);
    if (inserted || previous->second == t.active) continue;
    previous->second = t.active;
    log(Level::info, t.active ? "smear_started" : "smear_finished",
        {{"timescale", t.name}, {"profile", t.profile}, {"offset_s", std::to_string(t.offset_seconds)},
         {"progress", std::to_string(t.progress)}});
  }
  if (tai_offset_ && *tai_offset_ != tai_offset) {
    log(Level::info, "leap", {{"tai_utc", std::to_string(tai_offset)}, {"previous", std::to_string(*tai_offset_)}});
  }
  tai_offset_ = tai_offset;
}

// At most a few lines a second, whatever the traffic; the rest is counted.
void Control::report_mixed_clients() {
  constexpr int kLinesPerTick = 5;
  int lines = 0;
  std::uint64_t suppressed = 0;
  const ntp::Snapshot& current = state_.current();
  for (const auto& worker : workers_) {
    worker->mixed_clients().drain([&](const io::MixedClient& event) {
      if (lines++ >= kLinesPerTick) {
        ++suppressed;
        return;
      }
      log(Level::warning, "mixed_client",
          {{"client", client_text(event.client)},
           {"timescale", name_of(current, event.timescale)},
           {"also_used", name_of(current, event.other_timescale)},
           {"detail", "this host asks servers of two timescales: configure it for one"}});
    });
  }
  if (suppressed > 0) log(Level::warning, "mixed_clients_suppressed", {{"count", std::to_string(suppressed)}});
}

}  // namespace app
