#include "server/app/daemon.hpp"

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <map>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "server/app/leap_watcher.hpp"
#include "server/app/log.hpp"
#include "server/app/serving_state.hpp"
#include "server/io/clock.hpp"
#include "server/io/file.hpp"
#include "server/io/rcu.hpp"
#include "server/io/steering.hpp"
#include "server/io/udp_socket.hpp"
#include "server/io/worker.hpp"
#include "server/metrics/http.hpp"
#include "server/metrics/status.hpp"
#include "server/ntp/client.hpp"
#include "server/reference/system.hpp"

namespace app {
namespace {

double seconds_of(leapdb::UtcTime t) { return std::chrono::duration<double>(t.time_since_epoch()).count(); }

unsigned worker_count(const config::Config& config) {
  if (config.workers != 0) return config.workers;
  return std::max(1u, std::thread::hardware_concurrency());
}

void log_listener_failure(const config::Config& config, std::size_t index, const std::string& reason) {
  const config::Listener& listener = config.listeners[index];
  const config::Problem problem{listener.location, listener.key + ".address",
                                "cannot listen on " + listener.address.to_string() + ": " + reason};
  log(Level::error, "listener_failed", {{"problem", problem.to_string()}});
}

void log_clock_status(const config::Config& config, const reference::KernelClockStatus& status) {
  if (config.reference.type == config::Reference::Type::simulated) return;
  if (status.synchronized) {
    log(Level::info, "system_clock_synchronized",
        {{"max_error_ns", std::to_string(status.max_error.count())},
         {"estimated_error_ns", std::to_string(status.estimated_error.count())}});
  } else {
    log(Level::warning, "system_clock_unsynchronized",
        {{"detail", "the kernel reports no clock discipline (adjtimex); serving the system clock as stratum 1 "
                    "without an error bound"}});
  }
}

std::string listener_layout(const config::Config& config) {
  std::string text = std::to_string(worker_count(config));
  for (const config::Listener& listener : config.listeners) text += " " + listener.address.to_string();
  return text;
}

// What an operator must see about the timescales being served: loudly for rehearsals and a
// simulated clock, which are not real time.
void log_serving(const config::Config& config) {
  if (config.reference.type == config::Reference::Type::simulated) {
    log(Level::warning, "reference_simulated",
        {{"start", leapdb::format_rfc3339(config.reference.start)},
         {"rate", config.reference.rate_text},
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

class Control {
 public:
  Control(config::Config config, std::optional<std::string> config_path, asio::io_context& io,
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

  // Loads the leap data and plans what to serve; false (with problems logged) if it cannot.
  bool prepare() {
    status_ = reference::read_kernel_clock_status();
    log_clock_status(config_, status_);
    log_serving(config_);
    return leaps_->start(io::realtime_now(), acceptor(config_, plan_));
  }

  ntp::Snapshot snapshot() const {
    return make_snapshot(plan_, reference::reference_state(config_.reference, status_, precision_, io::realtime_now()));
  }

  void start() { schedule(); }

  void reload(std::string_view reason) {
    if (!config_path_) {
      log(Level::info, "reload", {{"reason", std::string{reason}}, {"detail", "embedded configuration: rereading leap files"}});
      if (leaps_->reload(reason, io::realtime_now(), acceptor(config_, plan_))) publish();
      return;
    }
    config_signature_ = io::file_signature(*config_path_);
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
    if (listener_layout(candidate) != listener_layout(config_)) {
      refuse(reason, {*config_path_ + ": listeners: listeners and workers can only change with a restart"});
      return;
    }
    if (candidate.client_policy.table_size != config_.client_policy.table_size) {
      log(Level::warning, "reload_partial", {{"detail", "client_policy.table_size takes effect at the next restart"}});
    }
    if (candidate.metrics.listen != config_.metrics.listen) {
      log(Level::warning, "reload_partial", {{"detail", "metrics.listen takes effect at the next restart"}});
    }
    // Leap files: the same watcher rereads them; new settings get a new watcher.
    ServingPlan plan;
    const LeapWatcher::Acceptor accept = acceptor(candidate, plan);
    std::unique_ptr<LeapWatcher> leaps;
    if (candidate.leapdb.files != config_.leapdb.files || candidate.leapdb.allow_unhashed != config_.leapdb.allow_unhashed ||
        candidate.leapdb.expiry_warning_days != config_.leapdb.expiry_warning_days) {
      leaps = std::make_unique<LeapWatcher>(candidate.leapdb);
      if (!leaps->start(io::realtime_now(), accept)) {
        refuse(reason, {"the new leapdb files could not be used (see above)"});
        return;
      }
    } else {
      // Reread the files: a new table is taken only if the new configuration can serve it.
      // Either way the plan is then built from the table in force, so plan and table agree.
      leaps_->reload(reason, io::realtime_now(), accept);
      if (const auto refusals = accept(leaps_->table()); !refusals.empty()) {
        refuse(reason, refusals);
        return;
      }
    }
    if (leaps) leaps_ = std::move(leaps);
    // Client history records timescales by index; when the set of timescales changes, an index
    // may name another timescale, so sticky and mixed-client memory starts afresh.
    if (timescale_names(plan) != timescale_names(plan_)) {
      for (const auto& history : histories_) history->clear();
      log(Level::warning, "client_history_cleared", {{"reason", "the set of timescales changed"}});
    }
    log_as_json(candidate.log_json);
    config_ = std::move(candidate);
    plan_ = std::move(plan);
    log(Level::info, "config_reloaded", {{"reason", std::string{reason}}, {"config", *config_path_}});
    log_serving(config_);
    publish();
  }

  void publish() { state_.publish(std::make_unique<const ntp::Snapshot>(snapshot())); }

  // Built on demand from the snapshot the workers serve, the leap data and the counters.
  metrics::Status status() const {
    using std::chrono::duration;
    const ntp::Snapshot& snap = state_.current();
    const leapdb::UtcTime reading = io::realtime_now();
    const leapdb::TaiTime tai = snap.clock.to_tai(reading);
    const leapdb::LeapTable& table = *snap.clock.table;
    const leapdb::UtcTime now = table.to_utc(tai);
    const bool simulated = config_.reference.type == config::Reference::Type::simulated;

    metrics::Status s;
    s.version = SMEARD_VERSION;
    s.now = seconds_of(now);
    s.reference_type = simulated ? "simulated" : "system";
    s.reference_offset_seconds = duration<double>(now - reading).count();
    s.reference_error_bound_seconds = duration<double>(ntp::from_ntp_short(snap.root_dispersion)).count();
    s.reference_stratum = 0;
    // On the reference's own timeline, like `now` (they differ for a simulated reference).
    s.reference_last_update = seconds_of(table.to_utc(snap.clock.to_tai(last_reference_read_)));
    s.reference_reachable = true;
    s.reference_synchronized = simulated || status_.synchronized;
    s.served_stratum = snap.stratum;
    s.refid = ntp::format_reference_id(snap.stratum, snap.reference_id);
    s.root_delay_seconds = duration<double>(ntp::from_ntp_short(snap.root_delay)).count();
    s.root_dispersion_seconds = s.reference_error_bound_seconds;

    s.leap_table_loaded = leaps_->loaded();
    s.leap_table_valid = s.leap_table_loaded && !table.expired_at(now);
    s.leap_table_source = table.source;
    s.leap_table_hash = std::string{leapdb::to_string(table.hash)};
    s.leap_table_leaps = static_cast<int>(table.leaps.size());
    if (table.expires) s.leap_table_expiry = seconds_of(*table.expires);
    if (table.last_update) s.leap_table_last_update = seconds_of(*table.last_update);
    s.tai_offset = table.tai_utc_at(tai);
    if (const leapdb::Leap* next = table.next_leap_after(now)) {
      s.next_leap = seconds_of(next->effective);
      s.next_leap_sign = next->sign;
    }

    s.timescales = timescale_statuses(snap, tai);

    s.healthy = !workers_.empty();
    for (std::size_t listener = 0; listener < config_.listeners.size(); ++listener) {
      metrics::Traffic traffic;
      traffic.listener = config_.listeners[listener].address.to_string();
      traffic.timescale = config_.listeners[listener].timescale;
      std::array<std::uint64_t, ntp::kDropReasonCount> drops{};
      for (const auto& worker : workers_) {
        if (worker->listener() != listener) continue;
        s.healthy = s.healthy && worker->running();
        const io::WorkerCounters& c = worker->counters();
        traffic.requests_by_worker.push_back(c.requests.load());
        for (std::size_t v = 0; v < 8; ++v) {
          traffic.requests_by_version[v] += c.requests_by_version[v].load();
          traffic.responses_by_version[v] += c.replies_by_version[v].load();
        }
        for (std::size_t i = 0; i < drops.size(); ++i) drops[i] += c.drops[i].load();
        traffic.kod_deny += c.kod_deny.load();
        traffic.pin_violations += c.pin_violations.load();
        traffic.sticky_violations += c.sticky_violations.load();
        traffic.mixed_clients += c.mixed_clients.load();
        traffic.send_errors += c.send_errors.load();
        for (std::size_t b = 0; b < traffic.processing_buckets.size(); ++b) {
          traffic.processing_buckets[b] += c.processing_buckets[b].load();
        }
        traffic.processing_sum_seconds += static_cast<double>(c.processing_sum_ns.load()) / 1e9;
      }
      for (std::size_t i = 0; i < drops.size(); ++i) {
        traffic.drops.emplace_back(std::string{ntp::to_string(static_cast<ntp::DropReason>(i))}, drops[i]);
      }
      s.traffic.push_back(std::move(traffic));
    }

    if (!config_.leapdb.files.empty() && !s.leap_table_loaded) s.not_ready.push_back("no leap table loaded");
    if (s.leap_table_loaded && !s.leap_table_valid) {
      s.not_ready.push_back("the leap table expired on " + leapdb::format_rfc3339(*table.expires));
    }
    if (!s.healthy) s.not_ready.push_back("a worker thread has stopped");
    return s;
  }

  // Each timescale's smear state at `tai`, on the reference's UTC.
  static std::vector<metrics::TimescaleStatus> timescale_statuses(const ntp::Snapshot& snap, leapdb::TaiTime tai) {
    std::vector<metrics::TimescaleStatus> out;
    for (const ntp::TimescaleView& view : snap.timescales) {
      const smear::Served served = view.smearer->at(tai);
      metrics::TimescaleStatus t;
      t.name = view.name;
      t.profile = view.smearer->profile().name;
      t.rehearsal = view.rehearsal;
      t.active = served.active;
      t.offset_seconds = std::chrono::duration<double>(served.offset).count();
      t.progress = served.progress;
      t.frequency_ratio = served.frequency_ppm * 1e-6;
      t.leap_indicator = served.leap_indicator;
      for (const smear::Window& w : view.smearer->windows()) {
        if (w.ends <= tai) continue;
        t.smear_start = seconds_of(snap.clock.table->to_utc(w.begins));
        t.smear_end = seconds_of(snap.clock.table->to_utc(w.ends));
        break;
      }
      out.push_back(std::move(t));
    }
    return out;
  }

  metrics::HttpResponse serve_http(std::string_view path) const {
    if (path == "/metrics") return {200, "text/plain; version=0.0.4; charset=utf-8", metrics::to_prometheus(status())};
    if (path == "/status") return {200, "application/json", metrics::to_json(status())};
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

 private:
  // Accepting a leap table means being able to serve every timescale with it.
  LeapWatcher::Acceptor acceptor(const config::Config& config, ServingPlan& plan) {
    return [this, &config, &plan](std::shared_ptr<const leapdb::LeapTable> table) {
      PlanResult result = plan_serving(config, std::move(table), origin_);
      if (result.plan) plan = std::move(*result.plan);
      return result.problems;
    };
  }

  static std::vector<std::string> timescale_names(const ServingPlan& plan) {
    std::vector<std::string> names;
    for (const ntp::TimescaleView& view : plan.timescales) names.push_back(view.name);
    return names;
  }

  void refuse(std::string_view reason, const std::vector<std::string>& problems) {
    for (const std::string& problem : problems) log(Level::error, "config_rejected", {{"problem", problem}});
    log(Level::error, "config_reload_failed",
        {{"reason", std::string{reason}}, {"kept", "the configuration in force since the last successful load"}});
  }

  void schedule() {
    timer_.expires_after(std::chrono::seconds{1});
    timer_.async_wait([this](const std::error_code& error) {
      if (error) return;
      tick();
      schedule();
    });
  }

  void tick() {
    if (config_path_ && io::file_signature(*config_path_) != config_signature_) reload("config changed on disk");
    leaps_->poll(io::realtime_now(), acceptor(config_, plan_));
    const reference::KernelClockStatus status = reference::read_kernel_clock_status();
    if (status.synchronized != status_.synchronized) log_clock_status(config_, status);
    status_ = status;
    last_reference_read_ = io::realtime_now();
    publish();
    report_mixed_clients();
    report_transitions();
  }

  // Smears starting and ending, and leaps taking effect, each logged once with the offset.
  void report_transitions() {
    const ntp::Snapshot& snap = state_.current();
    const leapdb::TaiTime tai = snap.clock.to_tai(io::realtime_now());
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
  void report_mixed_clients() {
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

  static std::string name_of(const ntp::Snapshot& snapshot, std::uint8_t index) {
    return index < snapshot.timescales.size() ? snapshot.timescales[index].name : "#" + std::to_string(index);
  }

  static std::string client_text(const ntp::ClientAddress& client) {
    config::SocketAddress address;
    const bool v4 = std::all_of(client.ip.begin(), client.ip.begin() + 10, [](std::uint8_t b) { return b == 0; }) &&
                    client.ip[10] == 0xff && client.ip[11] == 0xff;
    address.family = v4 ? config::SocketAddress::Family::ipv4 : config::SocketAddress::Family::ipv6;
    std::copy(client.ip.begin() + (v4 ? 12 : 0), client.ip.end(), address.bytes.begin());
    address.port = client.port;
    const std::string text = address.to_string();
    return text.substr(0, text.rfind(':'));
  }

  config::Config config_;
  std::optional<std::string> config_path_;
  std::optional<io::FileSignature> config_signature_;
  asio::steady_timer timer_;
  io::RcuCell<ntp::Snapshot>& state_;
  std::vector<std::unique_ptr<io::Worker>>& workers_;
  std::vector<std::unique_ptr<ntp::ClientHistory>>& histories_;
  std::int8_t precision_;
  leapdb::UtcTime origin_;
  reference::KernelClockStatus status_;
  leapdb::UtcTime last_reference_read_ = io::realtime_now();
  std::unique_ptr<LeapWatcher> leaps_;
  ServingPlan plan_;
  std::map<std::string, bool, std::less<>> smearing_;
  std::optional<int> tai_offset_;
};

void log_totals(const std::vector<std::unique_ptr<io::Worker>>& workers) {
  std::uint64_t requests = 0, replies = 0, send_errors = 0, receive_errors = 0, kod = 0, pins = 0, sticky = 0, mixed = 0;
  std::array<std::uint64_t, ntp::kDropReasonCount> drops{};
  for (const auto& worker : workers) {
    const io::WorkerCounters& c = worker->counters();
    requests += c.requests.load();
    replies += c.replies.load();
    send_errors += c.send_errors.load();
    receive_errors += c.receive_errors.load();
    kod += c.kod_deny.load();
    pins += c.pin_violations.load();
    sticky += c.sticky_violations.load();
    mixed += c.mixed_clients.load();
    for (std::size_t i = 0; i < drops.size(); ++i) drops[i] += c.drops[i].load();
  }
  std::string dropped;
  for (std::size_t i = 0; i < drops.size(); ++i) {
    if (drops[i] == 0) continue;
    if (!dropped.empty()) dropped += ',';
    dropped += std::string{ntp::to_string(static_cast<ntp::DropReason>(i))} + ":" + std::to_string(drops[i]);
  }
  log(Level::info, "stopped",
      {{"requests", std::to_string(requests)},
       {"replies", std::to_string(replies)},
       {"dropped", dropped.empty() ? "0" : dropped},
       {"kod_deny", std::to_string(kod)},
       {"pin_violations", std::to_string(pins)},
       {"sticky_violations", std::to_string(sticky)},
       {"mixed_clients", std::to_string(mixed)},
       {"send_errors", std::to_string(send_errors)},
       {"receive_errors", std::to_string(receive_errors)}});
}

}  // namespace

int run_daemon(const config::Config& config, const std::optional<std::string>& config_path) {
  log_as_json(config.log_json);
  asio::io_context io;
  // Installed before any thread starts, so a SIGTERM during start-up still stops us cleanly.
  asio::signal_set stop_signals{io, SIGINT, SIGTERM};
  asio::signal_set reload_signal{io, SIGHUP};

  const unsigned workers_per_listener = worker_count(config);
  const std::int8_t precision = reference::measure_precision();
  std::vector<std::unique_ptr<io::Worker>> workers;
  io::RcuCell<ntp::Snapshot> state{config.listeners.size() * workers_per_listener,
                                   std::make_unique<const ntp::Snapshot>(ntp::true_utc_snapshot())};
  // Filled once the sockets show whether clients can be steered to workers.
  std::vector<std::unique_ptr<ntp::ClientHistory>> histories;
  Control control{config, config_path, io, state, workers, histories, precision, io::realtime_now()};
  if (!control.prepare()) return 1;
  state.publish(std::make_unique<const ntp::Snapshot>(control.snapshot()));
  std::vector<std::vector<io::BoundSocket>> sockets(config.listeners.size());
  std::vector<std::string> steering(config.listeners.size(), workers_per_listener == 1 ? "one worker" : "client address");
  for (std::size_t i = 0; i < config.listeners.size(); ++i) {
    if (const std::string busy = io::check_address_free(config.listeners[i].address); !busy.empty()) {
      log_listener_failure(config, i, busy);
      return 1;
    }
    for (unsigned w = 0; w < workers_per_listener; ++w) {
      std::string error;
      sockets[i].push_back(io::open_listener_socket(config.listeners[i].address, error));
      if (!sockets[i].back().fd) {
        log_listener_failure(config, i, error);
        return 1;
      }
    }
    if (workers_per_listener == 1) continue;
    if (const std::string error = io::steer_by_client_address(sockets[i].front().fd.get(),
                                                              config.listeners[i].address.family, workers_per_listener);
        !error.empty()) {
      steering[i] = "kernel";
      log(Level::warning, "client_steering_unavailable",
          {{"address", config.listeners[i].address.to_string()},
           {"problem", error},
           {"effect", "the kernel spreads clients by address and port; workers share one client history"}});
    }
  }
  const bool steered = workers_per_listener > 1 && std::ranges::count(steering, "kernel") == 0;
  // Steered, a client always reaches the same worker index on every listener, so each index
  // owns its share of the table: workers at different indices never write the same memory
  // (those at one index, one per listener, share it, as a client using two listeners must).
  const std::size_t partitions = steered ? workers_per_listener : 1;
  const std::size_t slots = std::max<std::size_t>(config.client_policy.table_size / partitions, 1);
  std::random_device entropy;
  for (std::size_t p = 0; p < partitions; ++p) {
    histories.push_back(std::make_unique<ntp::ClientHistory>(slots, (std::uint64_t{entropy()} << 32) | entropy()));
  }
  for (std::size_t i = 0; i < config.listeners.size(); ++i) {
    for (unsigned w = 0; w < workers_per_listener; ++w) {
      workers.push_back(std::make_unique<io::Worker>(std::move(sockets[i][w]), static_cast<std::uint8_t>(i), state,
                                                     workers.size(), *histories[steered ? w : 0]));
    }
  }

  // The metrics endpoint is bound before any worker starts, so a port already taken fails
  // the start cleanly, and once event=listening is logged every endpoint accepts.
  metrics::HttpServer http{io, [&control](std::string_view path) { return control.serve_http(path); }};
  if (config.metrics.listen) {
    if (const std::string error = http.listen(*config.metrics.listen); !error.empty()) {
      const config::Problem problem{config.metrics.location, "metrics.listen",
                                    "cannot listen on " + config.metrics.listen->to_string() + ": " + error};
      log(Level::error, "metrics_failed", {{"problem", problem.to_string()}});
      return 1;
    }
    log(Level::info, "metrics_listening",
        {{"address", config.metrics.listen->to_string()}, {"paths", "/metrics /status /healthz /readyz"}});
  }

  // Workers never see the signals: they are delivered to this thread, where Asio waits.
  sigset_t handled, previous;
  sigemptyset(&handled);
  for (const int signal : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&handled, signal);
  pthread_sigmask(SIG_BLOCK, &handled, &previous);
  std::vector<std::jthread> threads;
  for (const auto& worker : workers) threads.emplace_back([&worker] { worker->run(); });
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);

  for (std::size_t i = 0; i < config.listeners.size(); ++i) {
    const config::Listener& listener = config.listeners[i];
    log(Level::info, "listening",
        {{"address", listener.address.to_string()},
         {"timescale", listener.timescale},
         {"workers", std::to_string(workers_per_listener)},
         {"steering", steering[i]},
         {"config", config.source}});
  }

  control.start();
  stop_signals.async_wait([&](const std::error_code& error, int signal) {
    if (error) return;
    log(Level::info, "stopping", {{"signal", signal == SIGTERM ? "SIGTERM" : "SIGINT"}});
    io.stop();
  });
  std::function<void()> wait_for_reload = [&] {
    reload_signal.async_wait([&](const std::error_code& error, int) {
      if (error) return;
      log(Level::info, "reload", {{"signal", "SIGHUP"}});
      control.reload("SIGHUP");
      wait_for_reload();
    });
  };
  wait_for_reload();
  io.run();

  for (const auto& worker : workers) worker->request_stop();
  threads.clear();  // joins
  log_totals(workers);
  return 0;
}

}  // namespace app
