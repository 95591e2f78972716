#include "server/app/daemon.hpp"

#include <pthread.h>
#include <signal.h>

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <memory>
#include <thread>
#include <vector>

#include "server/app/leap_watcher.hpp"
#include "server/app/log.hpp"
#include "server/io/clock.hpp"
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

void log_clock_status(const reference::KernelClockStatus& status) {
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

// Control-thread state: the reference, the leap table, the published snapshot, and a
// once-a-second refresh.
class Control {
 public:
  Control(const config::Config& config, asio::io_context& io, io::RcuCell<ntp::Snapshot>& state,
          std::int8_t precision, reference::KernelClockStatus status, LeapWatcher& leaps)
      : config_(config), timer_(io), state_(state), precision_(precision), status_(status), leaps_(leaps) {}

  void start() { schedule(); }

 private:
  void schedule() {
    timer_.expires_after(std::chrono::seconds{1});
    timer_.async_wait([this](const std::error_code& error) {
      if (error) return;
      refresh();
      schedule();
    });
  }

  void refresh() {
    leaps_.poll(io::realtime_now());
    const reference::KernelClockStatus status = reference::read_kernel_clock_status();
    if (status.synchronized != status_.synchronized) log_clock_status(status);
    status_ = status;
    state_.publish(std::make_unique<const ntp::Snapshot>(
        reference::system_snapshot(config_.reference, status_, precision_, io::realtime_now())));
  }

  const config::Config& config_;
  asio::steady_timer timer_;
  io::RcuCell<ntp::Snapshot>& state_;
  std::int8_t precision_;
  reference::KernelClockStatus status_;
  LeapWatcher& leaps_;
};

void log_totals(const std::vector<std::unique_ptr<io::Worker>>& workers) {
  std::uint64_t requests = 0, replies = 0, send_errors = 0, receive_errors = 0;
  std::array<std::uint64_t, ntp::kDropReasonCount> drops{};
  for (const auto& worker : workers) {
    const io::WorkerCounters& c = worker->counters();
    requests += c.requests.load();
    replies += c.replies.load();
    send_errors += c.send_errors.load();
    receive_errors += c.receive_errors.load();
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
       {"send_errors", std::to_string(send_errors)},
       {"receive_errors", std::to_string(receive_errors)}});
}

}  // namespace

int run_daemon(const config::Config& config) {
  asio::io_context io;
  // Installed before any thread starts, so a SIGTERM during start-up still stops us cleanly.
  asio::signal_set stop_signals{io, SIGINT, SIGTERM};
  asio::signal_set reload_signal{io, SIGHUP};

  LeapWatcher leaps{config.leapdb};
  if (!leaps.start(io::realtime_now())) return 1;

  const unsigned workers_per_listener = worker_count(config);
  const std::int8_t precision = reference::measure_precision();
  const reference::KernelClockStatus status = reference::read_kernel_clock_status();
  log_clock_status(status);
  io::RcuCell<ntp::Snapshot> state{
      config.listeners.size() * workers_per_listener,
      std::make_unique<const ntp::Snapshot>(
          reference::system_snapshot(config.reference, status, precision, io::realtime_now()))};

  std::vector<std::unique_ptr<io::Worker>> workers;
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
      workers.push_back(std::make_unique<io::Worker>(std::move(socket), state, workers.size()));
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

  Control control{config, io, state, precision, status, leaps};
  control.start();
  stop_signals.async_wait([&](const std::error_code& error, int signal) {
    if (error) return;
    log(Level::info, "stopping", {{"signal", signal == SIGTERM ? "SIGTERM" : "SIGINT"}});
    io.stop();
  });
  std::function<void()> wait_for_reload = [&] {
    reload_signal.async_wait([&](const std::error_code& error, int) {
      if (error) return;
      log(Level::info, "reload", {{"signal", "SIGHUP"}, {"detail", "rereading leap files; restart to apply a new configuration"}});
      leaps.reload("SIGHUP", io::realtime_now());
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
