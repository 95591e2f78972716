#include "server/app/daemon.hpp"

#include <pthread.h>
#include <signal.h>

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
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
#include "server/io/udp_socket.hpp"
#include "server/io/worker.hpp"
#include "server/reference/system.hpp"

namespace app {
namespace {

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
          io::RcuCell<ntp::Snapshot>& state, std::vector<std::unique_ptr<io::Worker>>& workers, std::int8_t precision,
          leapdb::UtcTime origin)
      : config_(std::move(config)),
        config_path_(std::move(config_path)),
        timer_(io),
        state_(state),
        workers_(workers),
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
      leaps_->reload(reason, io::realtime_now(), [](std::shared_ptr<const leapdb::LeapTable>) {
        return std::vector<std::string>{};
      });
      if (const auto refusals = accept(leaps_->table()); !refusals.empty()) {
        refuse(reason, refusals);
        return;
      }
    }
    if (leaps) leaps_ = std::move(leaps);
    config_ = std::move(candidate);
    plan_ = std::move(plan);
    log(Level::info, "config_reloaded", {{"reason", std::string{reason}}, {"config", *config_path_}});
    log_serving(config_);
    publish();
  }

  void publish() { state_.publish(std::make_unique<const ntp::Snapshot>(snapshot())); }

 private:
  // Accepting a leap table means being able to serve every timescale with it.
  LeapWatcher::Acceptor acceptor(const config::Config& config, ServingPlan& plan) {
    return [this, &config, &plan](std::shared_ptr<const leapdb::LeapTable> table) {
      PlanResult result = plan_serving(config, std::move(table), origin_);
      if (result.plan) plan = std::move(*result.plan);
      return result.problems;
    };
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
    publish();
    report_mixed_clients();
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
  std::int8_t precision_;
  leapdb::UtcTime origin_;
  reference::KernelClockStatus status_;
  std::unique_ptr<LeapWatcher> leaps_;
  ServingPlan plan_;
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
  asio::io_context io;
  // Installed before any thread starts, so a SIGTERM during start-up still stops us cleanly.
  asio::signal_set stop_signals{io, SIGINT, SIGTERM};
  asio::signal_set reload_signal{io, SIGHUP};

  const unsigned workers_per_listener = worker_count(config);
  const std::int8_t precision = reference::measure_precision();
  std::vector<std::unique_ptr<io::Worker>> workers;
  io::RcuCell<ntp::Snapshot> state{config.listeners.size() * workers_per_listener,
                                   std::make_unique<const ntp::Snapshot>(ntp::true_utc_snapshot())};
  Control control{config, config_path, io, state, workers, precision, io::realtime_now()};
  if (!control.prepare()) return 1;
  state.publish(std::make_unique<const ntp::Snapshot>(control.snapshot()));

  std::random_device entropy;
  ntp::ClientHistory history{config.client_policy.table_size, (std::uint64_t{entropy()} << 32) | entropy()};
  for (std::size_t i = 0; i < config.listeners.size(); ++i) {
    if (const std::string busy = io::check_address_free(config.listeners[i].address); !busy.empty()) {
      log_listener_failure(config, i, busy);
      return 1;
    }
    for (unsigned w = 0; w < workers_per_listener; ++w) {
      std::string error;
      io::BoundSocket socket = io::open_listener_socket(config.listeners[i].address, error);
      if (!socket.fd) {
        log_listener_failure(config, i, error);
        return 1;
      }
      workers.push_back(std::make_unique<io::Worker>(std::move(socket), static_cast<std::uint8_t>(i), state,
                                                     workers.size(), history));
    }
  }

  // Workers never see the signals: they are delivered to this thread, where Asio waits.
  sigset_t handled, previous;
  sigemptyset(&handled);
  for (const int signal : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&handled, signal);
  pthread_sigmask(SIG_BLOCK, &handled, &previous);
  std::vector<std::jthread> threads;
  for (const auto& worker : workers) threads.emplace_back([&worker] { worker->run(); });
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);

  for (const config::Listener& listener : config.listeners) {
    log(Level::info, "listening",
        {{"address", listener.address.to_string()},
         {"timescale", listener.timescale},
         {"workers", std::to_string(workers_per_listener)},
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
