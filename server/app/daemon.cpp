#include "server/app/daemon.hpp"

#include <net/if.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <cerrno>
#include <cstring>
#include <iterator>
#include <latch>
#include <map>
#include <memory>
#include <mutex>
#include <numeric>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "server/app/control.hpp"
#include "server/app/log.hpp"
#include "server/app/privilege.hpp"
#include "server/counting/counters.hpp"
#include "server/io/rcu.hpp"
#include "server/io/sandbox.hpp"
#include "server/io/service_manager.hpp"
#include "server/io/steering.hpp"
#include "server/io/udp_socket.hpp"
#include "server/io/worker.hpp"
#include "server/metrics/http.hpp"
#include "server/nts/files.hpp"
#include "server/nts/ke_server.hpp"
#include "server/reference/clocks.hpp"
#include "server/reference/kernel.hpp"

namespace app {
namespace {

void log_listener_failure(const config::Config& config, std::size_t index, const std::string& reason) {
  const config::Listener& listener = config.listeners[index];
  const config::Problem problem{listener.location, listener.key + ".address",
                                "cannot listen on " + listener.address.to_string() + ": " + reason};
  log(Level::error, "listener_failed", {{"problem", problem.to_string()}});
}

void log_totals(const std::vector<std::unique_ptr<io::Worker>>& workers) {
  counting::Totals totals;
  for (const auto& worker : workers) totals += worker->counters();
  std::string dropped;
  for (std::size_t i = 0; i < totals.drops.size(); ++i) {
    if (totals.drops[i] == 0) continue;
    if (!dropped.empty()) dropped += ',';
    dropped += std::string{ntp::to_string(static_cast<ntp::DropReason>(i))} + ":" + std::to_string(totals.drops[i]);
  }
  log(Level::info, "stopped",
      {{"requests", std::to_string(totals.requests)},
       {"replies", std::to_string(totals.replies)},
       {"dropped", dropped.empty() ? "0" : dropped},
       {"kod_deny", std::to_string(totals.kod_deny)},
       {"kod_rate", std::to_string(totals.kod_rate)},
       {"crypto_nak", std::to_string(totals.crypto_nak)},
       {"pin_violations", std::to_string(totals.pin_violations)},
       {"sticky_violations", std::to_string(totals.sticky_violations)},
       {"mixed_clients", std::to_string(totals.mixed_clients)},
       {"send_errors", std::to_string(totals.send_errors)},
       {"receive_errors", std::to_string(totals.receive_errors)}});
}

// Tells systemd (Type=notify) what smeard is doing; failing to is worth a warning, not a stop.
void notify(std::string_view state) {
  if (const std::string error = io::notify_service_manager(state); !error.empty()) {
    log(Level::warning, "notify_failed", {{"problem", error}});
  }
}

// Each NTS-KE connection holds a descriptor: take the hard limit, as Go's runtime does, and
// say so when max_connections could still run out of them.
void raise_descriptor_limit(const config::Config& config) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) (void)::getrlimit(RLIMIT_NOFILE, &limit);
  }
  constexpr rlim_t kOtherDescriptors = 64;  // sockets, files, the metrics endpoint's connections
  if (config.nts && limit.rlim_cur != RLIM_INFINITY &&
      config.nts->max_connections + kOtherDescriptors > limit.rlim_cur) {
    log(Level::warning, "nts_descriptor_limit",
        {{"limit", std::to_string(limit.rlim_cur)},
         {"max_connections", std::to_string(config.nts->max_connections)},
         {"detail",
          "NTS-KE connections beyond the limit fail; raise LimitNOFILE (ulimit -n) or lower nts.max_connections"}});
  }
}

// Reloads reread these files as the user smeard now runs as: one it cannot read refuses every
// reload, whatever else changed, so say so now rather than at the first SIGHUP.
void warn_unreadable(const config::Config& config, const std::optional<std::string>& config_path,
                     const std::string& user) {
  std::vector<std::string> files;
  if (config_path) files.push_back(*config_path);
  if (config.keys) files.push_back(*config.keys);
  if (config.nts) std::ranges::copy(nts::file_paths(*config.nts), std::back_inserter(files));
  for (const std::string& file : files) {
    if (::access(file.c_str(), R_OK) == 0) continue;
    log(Level::warning, "file_unreadable",
        {{"file", file},
         {"user", user},
         {"problem", std::strerror(errno)},
         {"detail", "read at start as root; every reload will be refused until " + user + " can read it"}});
  }
}

// Per listener, the receive queues of its xdp interface (0 without one): counted once, as the
// snapshot's readers are sized by them and an interface's queues may change meanwhile.
std::vector<unsigned> xdp_queue_counts(const config::Config& config) {
  std::vector<unsigned> counts;
  for (const config::Listener& listener : config.listeners) {
    counts.push_back(listener.xdp ? xdp::receive_queues(listener.xdp->interface) : 0);
  }
  return counts;
}

// One per worker: the socket workers, and an AF_XDP worker per queue of each xdp interface.
std::size_t reader_slots(const config::Config& config, unsigned workers_per_listener,
                         const std::vector<unsigned>& xdp_queues) {
  return config.listeners.size() * workers_per_listener +
         std::accumulate(xdp_queues.begin(), xdp_queues.end(), std::size_t{0});
}

}  // namespace

Daemon::Daemon(config::Config config, std::optional<std::string> config_path)
    : config_(std::move(config)),
      config_path_(std::move(config_path)),
      stop_signals_(io_, SIGINT, SIGTERM),  // before any thread starts: a SIGTERM in start-up stops cleanly
      reload_signal_(io_, SIGHUP),
      workers_per_listener_(worker_count(config_)),
      xdp_queues_(xdp_queue_counts(config_)),
      state_(reader_slots(config_, workers_per_listener_, xdp_queues_),
             std::make_unique<const ntp::Snapshot>(ntp::true_utc_snapshot())),
      control_(config_, config_path_, io_, state_, workers_, histories_, reference::measure_precision(),
               reference::realtime_now()),
      http_(io_, [this](std::string_view path) { return control_.serve_http(path); }) {}

Daemon::~Daemon() { stop_threads(); }

void Daemon::stop_threads() {
  for (const auto& worker : workers_) worker->request_stop();
  if (nts_ke_) nts_ke_->request_stop();
  threads_.clear();  // joins
}

int Daemon::run() {
  log_as_json(config_.log_json);
  if (!control_.prepare()) return 1;
  state_.publish(std::make_unique<const ntp::Snapshot>(control_.snapshot()));
  if (!bind_listeners() || !listen_metrics() || !listen_nts_ke() || !drop_to_user() || !start_threads()) return 1;
  log_listening();
  control_.start();
  serve();
  detach_xdp();
  stop_threads();
  log_totals(workers_);
  return 0;
}

std::optional<std::string> Daemon::rehearse() {
  if (!control_.prepare(Control::Start::rehearse)) return std::nullopt;
  if (const Privileges privileges = plan_privileges(config_); !privileges.error.empty()) {
    log(Level::error, "privileges_failed", {{"problem", privileges.error}});
    return std::nullopt;
  }
  // Not attached here (that would take the interface from a running smeard); a missing
  // interface is worth saying, as the start would serve that listener through sockets.
  for (const config::Listener& listener : config_.listeners) {
    if (!listener.xdp || ::if_nametoindex(listener.xdp->interface.c_str()) != 0) continue;
    const config::Problem problem{listener.xdp->location, listener.key + ".xdp.interface",
                                  "no interface named " + listener.xdp->interface};
    log(Level::warning, "xdp_fallback",
        {{"listener", listener.address.to_string()},
         {"interface", listener.xdp->interface},
         {"reason", "no_interface"},
         {"problem", problem.to_string()},
         {"effect", "would be served through sockets"}});
  }
  return control_.summary();
}

bool Daemon::bind_listeners() {
  std::vector<std::vector<io::BoundSocket>> sockets(config_.listeners.size());
  steering_.assign(config_.listeners.size(), workers_per_listener_ == 1 ? "one worker" : "client address");
  for (std::size_t i = 0; i < config_.listeners.size(); ++i) {
    if (const std::string busy = io::check_address_free(config_.listeners[i].address); !busy.empty()) {
      log_listener_failure(config_, i, busy);
      return false;
    }
    for (unsigned w = 0; w < workers_per_listener_; ++w) {
      std::string error;
      sockets[i].push_back(
          io::open_listener_socket(config_.listeners[i].address, error, control_.any_hardware_timestamps()));
      if (!sockets[i].back().fd) {
        log_listener_failure(config_, i, error);
        return false;
      }
    }
    if (workers_per_listener_ == 1) continue;
    if (const std::string error = io::steer_by_client_address(
            sockets[i].front().fd.get(), config_.listeners[i].address.family, workers_per_listener_);
        !error.empty()) {
      steering_[i] = "kernel";
      log(Level::warning, "client_steering_unavailable",
          {{"address", config_.listeners[i].address.to_string()},
           {"problem", error},
           {"effect", "the kernel spreads clients by address and port; workers share one client history"}});
    }
  }
  std::vector<std::vector<std::unique_ptr<xdp::Queue>>> queues = attach_xdp();
  // A queue's clients come as the NIC hashes them, not as the sockets steer: with AF_XDP every
  // worker shares one client history.
  const bool steered =
      workers_per_listener_ > 1 && std::ranges::count(steering_, "kernel") == 0 && xdp_.empty();
  // Steered, a client always reaches the same worker index on every listener, so each index
  // owns its share of the table: workers at different indices never write the same memory
  // (those at one index, one per listener, share it, as a client using two listeners must).
  const std::size_t partitions = steered ? workers_per_listener_ : 1;
  const std::size_t slots = std::max<std::size_t>(config_.client_policy.table_size / partitions, 1);
  std::random_device entropy;
  for (std::size_t p = 0; p < partitions; ++p) {
    histories_.push_back(std::make_unique<ntp::ClientHistory>(slots, (std::uint64_t{entropy()} << 32) | entropy()));
  }
  // Rate-limit tables are only allocated when rate limiting is on at start (see Control).
  const std::size_t rate_entries = config_.ratelimit.enabled ? config_.ratelimit.table_size : 0;
  for (std::size_t i = 0; i < config_.listeners.size(); ++i) {
    for (unsigned w = 0; w < workers_per_listener_; ++w) {
      workers_.push_back(std::make_unique<io::Worker>(std::move(sockets[i][w]), static_cast<std::uint8_t>(i), state_,
                                                      workers_.size(), *histories_[steered ? w : 0], rate_entries,
                                                      (std::uint64_t{entropy()} << 32) | entropy()));
    }
    for (auto& queue : queues[i]) {
      workers_.push_back(std::make_unique<io::Worker>(std::move(queue), static_cast<std::uint8_t>(i), state_,
                                                      workers_.size(), *histories_[0], rate_entries,
                                                      (std::uint64_t{entropy()} << 32) | entropy()));
    }
  }
  return true;
}

std::vector<std::vector<std::unique_ptr<xdp::Queue>>> Daemon::attach_xdp() {
  std::vector<std::vector<std::unique_ptr<xdp::Queue>>> queues(config_.listeners.size());
  std::vector<std::optional<metrics::XdpStatus>> statuses(config_.listeners.size());
  for (std::size_t i = 0; i < config_.listeners.size(); ++i) {
    const config::Listener& listener = config_.listeners[i];
    if (!listener.xdp) continue;
    const config::Xdp& settings = *listener.xdp;
    const xdp::Target target{listener.address.family == config::SocketAddress::Family::ipv6, listener.address.bytes,
                             listener.address.port};
    metrics::XdpStatus& status = statuses[i].emplace();
    status.interface = settings.interface;
    status.busy_poll = settings.busy_poll;
    xdp::Refusal refusal;
    std::unique_ptr<xdp::Attachment> attachment = xdp::Attachment::open(settings, target, xdp_queues_[i], refusal);
    if (!attachment) {
      status.reason = refusal.reason;
      status.problem = refusal.problem;
      const config::Problem problem{listener.xdp->location, listener.key + ".xdp.interface", refusal.problem};
      log(Level::warning, "xdp_fallback",
          {{"listener", listener.address.to_string()},
           {"interface", settings.interface},
           {"reason", refusal.reason},
           {"problem", problem.to_string()},
           {"effect", "served through sockets"}});
      continue;
    }
    queues[i] = attachment->take_queues();
    status.attached = true;
    status.mode = attachment->generic() ? "generic" : "native";
    status.zero_copy = attachment->zero_copy();
    status.queues = static_cast<unsigned>(queues[i].size());
    log(Level::info, "xdp_attached",
        {{"listener", listener.address.to_string()},
         {"interface", settings.interface},
         {"mode", status.mode},
         {"zero_copy", status.zero_copy ? "on" : "off"},
         {"queues", std::to_string(status.queues)},
         {"busy_poll", settings.busy_poll ? "true" : "false"}});
    xdp_.push_back(std::move(attachment));
  }
  control_.attach_xdp(std::move(statuses));
  return queues;
}

// Detached before the workers' sockets close, so no frame is sent to a socket that is going.
void Daemon::detach_xdp() {
  for (const auto& attachment : xdp_) {
    attachment->detach();
    log(Level::info, "xdp_detached", {{"interface", attachment->interface()}});
  }
  xdp_.clear();
}

// Bound before any worker starts, so a port already taken fails the start cleanly, and once
// event=listening is logged every endpoint accepts.
bool Daemon::listen_metrics() {
  if (!config_.metrics.listen) return true;
  std::vector<ntp::Network> allow;
  for (const config::Network& network : config_.metrics.allow) {
    allow.push_back({network.network, network.prefix_length});
  }
  const std::string error =
      http_.listen(*config_.metrics.listen, std::move(allow), config_.metrics.max_connections_per_address);
  if (!error.empty()) {
    const config::Problem problem{config_.metrics.location, "metrics.listen",
                                  "cannot listen on " + config_.metrics.listen->to_string() + ": " + error};
    log(Level::error, "metrics_failed", {{"problem", problem.to_string()}});
    return false;
  }
  control_.attach_http(&http_);
  log(Level::info, "metrics_listening",
      {{"address", config_.metrics.listen->to_string()}, {"paths", "/metrics /status /healthz /readyz"}});
  return true;
}

// NTS-KE listens on TCP; bound here, before privileges go, so port 4460 or below 1024 works.
bool Daemon::listen_nts_ke() {
  if (!config_.nts) return true;
  raise_descriptor_limit(config_);
  std::vector<io::UniqueFd> listeners;
  for (const config::NtsKeListener& listener : config_.nts->listeners) {
    std::string error;
    listeners.push_back(nts::open_ke_socket(listener.address, error));
    if (!listeners.back()) {
      const config::Problem problem{listener.location, listener.key + ".address",
                                    "cannot listen on " + listener.address.to_string() + ": " + error};
      log(Level::error, "nts_ke_failed", {{"problem", problem.to_string()}});
      return false;
    }
  }
  const auto ms = [](leapdb::Nanoseconds d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d); };
  const nts::KeLimits limits{config_.nts->max_connections, ms(config_.nts->handshake_timeout),
                             ms(config_.nts->rate_interval), config_.nts->rate_burst};
  try {
    nts_ke_ = std::make_unique<nts::KeServer>(std::move(listeners), limits, control_.nts_ke_state());
  } catch (const std::exception& error) {
    log(Level::error, "nts_ke_failed", {{"problem", error.what()}});
    return false;
  }
  control_.attach_nts_ke(nts_ke_.get());
  return true;
}

// Everything privileged is done: sockets are bound, the sources and the keys are open.
bool Daemon::drop_to_user() {
  const Privileges privileges = drop_privileges(config_);
  if (!privileges.error.empty()) {
    log(Level::error, "privileges_failed", {{"problem", privileges.error}});
    return false;
  }
  if (!privileges.warning.empty()) {
    log(Level::warning, "privileges_kept", {{"detail", privileges.warning}});
    return true;
  }
  log(Level::info, "privileges_dropped",
      {{"user", privileges.user},
       {"uid", std::to_string(privileges.uid)},
       {"gid", std::to_string(privileges.gid)},
       {"capabilities", "none"}});
  warn_unreadable(config_, config_path_, privileges.user);
  return true;
}

bool Daemon::start_threads() {
  // Workers never see the signals: they are delivered to this thread, where Asio waits.
  sigset_t handled, previous;
  sigemptyset(&handled);
  for (const int signal : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&handled, signal);
  pthread_sigmask(SIG_BLOCK, &handled, &previous);
  // Each worker confines itself before it answers anything; start-up waits to hear from all.
  std::latch confined{static_cast<std::ptrdiff_t>(workers_.size())};
  std::mutex confinement_mutex;
  std::string confinement_error;
  for (const auto& worker : workers_) {
    // What top -H shows: smeard-wN on sockets, smeard-xN on AF_XDP.
    const std::string name = (worker->xdp() ? "smeard-x" : "smeard-w") + std::to_string(threads_.size());
    threads_.emplace_back(
        [&worker, &confined, &confinement_mutex, &confinement_error, name, seccomp = config_.seccomp] {
          pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
          const std::string error = seccomp ? io::confine_worker_thread() : std::string{};
          if (!error.empty()) {
            const std::lock_guard lock{confinement_mutex};
            confinement_error = error;
          }
          confined.count_down();
          if (error.empty()) worker->run();
        });
  }
  // Not confined: TLS needs more of the kernel than a worker's allow-list grants.
  if (nts_ke_) {
    threads_.emplace_back([this] {
      pthread_setname_np(pthread_self(), "smeard-ntske");
      nts_ke_->run();
    });
  }
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  confined.wait();
  if (!confinement_error.empty()) {
    log(Level::error, "seccomp_failed",
        {{"problem", confinement_error}, {"detail", "set seccomp: false to run the workers unconfined"}});
    stop_threads();
    return false;
  }
  if (config_.seccomp) log(Level::info, "seccomp", {{"workers", std::to_string(workers_.size())}, {"action", "kill"}});
  return true;
}

void Daemon::log_listening() const {
  for (std::size_t i = 0; i < config_.listeners.size(); ++i) {
    const config::Listener& listener = config_.listeners[i];
    log(Level::info, "listening",
        {{"address", listener.address.to_string()},
         {"timescale", listener.timescale},
         {"workers", std::to_string(workers_per_listener_)},
         {"steering", steering_[i]},
         {"config", config_.source}});
  }
  if (!config_.nts) return;
  for (const config::NtsKeListener& listener : config_.nts->listeners) {
    log(Level::info, "nts_ke_listening",
        {{"address", listener.address.to_string()},
         {"timescale", listener.timescale},
         {"server", listener.server.empty() ? "(the KE host)" : listener.server},
         {"port", std::to_string(listener.port.value_or(123))}});
  }
}

// Until SIGTERM or SIGINT; SIGHUP reloads.
void Daemon::serve() {
  const std::string serving = "STATUS=serving " + std::to_string(config_.listeners.size()) + " listeners";
  notify("READY=1\n" + serving);
  stop_signals_.async_wait([this](const std::error_code& error, int signal) {
    if (error) return;
    log(Level::info, "stopping", {{"signal", signal == SIGTERM ? "SIGTERM" : "SIGINT"}});
    notify("STOPPING=1");
    io_.stop();
  });
  wait_for_reload(serving);
  io_.run();
}

void Daemon::wait_for_reload(const std::string& serving) {
  reload_signal_.async_wait([this, serving](const std::error_code& error, int) {
    if (error) return;
    log(Level::info, "reload", {{"signal", "SIGHUP"}});
    // A reload that is refused keeps the old configuration serving: ready either way.
    notify("RELOADING=1");
    control_.reload("SIGHUP");
    notify("READY=1\n" + serving);
    wait_for_reload(serving);
  });
}

int run_daemon(const config::Config& config, const std::optional<std::string>& config_path) {
  Daemon daemon{config, config_path};
  return daemon.run();
}

}  // namespace app
