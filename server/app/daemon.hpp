#pragma once
// smeard running: binds every listener, serves until SIGTERM or SIGINT, then stops the workers.
// A listener that cannot be bound stops start-up with an error that names the configuration
// file, line and key. With a config path, SIGHUP and a change to that file reload the
// configuration and the leap data; a reload that fails is refused and the old one keeps serving.

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "config/config.hpp"
#include "server/app/control.hpp"
#include "server/io/rcu.hpp"
#include "server/io/worker.hpp"
#include "server/metrics/http.hpp"
#include "server/ntp/client_history.hpp"
#include "server/nts/ke_server.hpp"
#include "server/xdp/attachment.hpp"

namespace app {

// Owns what serves: the sockets (through the workers), the worker threads, the NTS-KE and
// metrics servers, and the control thread's state; torn down in reverse.
class Daemon {
 public:
  Daemon(config::Config config, std::optional<std::string> config_path);
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;
  ~Daemon();

  // Starts everything, serves until stopped; the process exit status.
  int run();

  // --check-config: what run() checks before it binds (Control::prepare's rehearsal) and whom
  // it would run as, so that a configuration passing this starts. A summary, or nothing with
  // the problems logged.
  std::optional<std::string> rehearse();

 private:
  bool bind_listeners();
  // Each listener's AF_XDP path where configured, or why it serves through sockets alone.
  std::vector<std::vector<std::unique_ptr<xdp::Queue>>> attach_xdp();
  void detach_xdp();
  bool listen_metrics();
  bool listen_nts_ke();
  bool drop_to_user();
  bool start_threads();
  void log_listening() const;
  void serve();
  void wait_for_reload(const std::string& serving);
  void stop_threads();

  config::Config config_;
  std::optional<std::string> config_path_;
  asio::io_context io_;
  asio::signal_set stop_signals_;
  asio::signal_set reload_signal_;
  unsigned workers_per_listener_;
  std::vector<unsigned> xdp_queues_;  // before state_, whose readers it counts
  io::RcuCell<ntp::Snapshot> state_;
  // Filled once the sockets show whether clients can be steered to workers.
  std::vector<std::unique_ptr<ntp::ClientHistory>> histories_;
  std::vector<std::unique_ptr<xdp::Attachment>> xdp_;  // before the workers: outlives their sockets
  std::vector<std::unique_ptr<io::Worker>> workers_;
  std::vector<std::string> steering_;  // per listener, how clients reach its workers
  Control control_;
  metrics::HttpServer http_;
  std::unique_ptr<nts::KeServer> nts_ke_;
  std::vector<std::jthread> threads_;  // last: joined before anything they use goes
};

int run_daemon(const config::Config& config, const std::optional<std::string>& config_path);

}  // namespace app
