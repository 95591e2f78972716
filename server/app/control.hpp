#pragma once
// The control thread's work: once a second it polls the reference, rereads changed leap files
// and configuration, builds a new snapshot and publishes it to the workers; it reports what the
// workers saw (mixed clients, smears starting and ending); and it answers the HTTP endpoint.

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "server/app/hardware_clocks.hpp"
#include "server/app/leap_watcher.hpp"
#include "server/app/references.hpp"
#include "server/app/serving_state.hpp"
#include "server/io/file.hpp"
#include "server/io/rcu.hpp"
#include "server/io/worker.hpp"
#include "server/metrics/http.hpp"
#include "server/metrics/status.hpp"
#include "server/ntp/client_history.hpp"
#include "server/nts/cookie_keeper.hpp"
#include "server/nts/files.hpp"
#include "server/nts/ke_server.hpp"

namespace app {

// Worker threads per listener: as configured, or one per core.
unsigned worker_count(const config::Config& config);

class Control {
 public:
  // `origin`: the system-clock reading a simulated reference starts from.
  Control(config::Config config, std::optional<std::string> config_path, asio::io_context& io,
          io::RcuCell<ntp::Snapshot>& state, std::vector<std::unique_ptr<io::Worker>>& workers,
          std::vector<std::unique_ptr<ntp::ClientHistory>>& histories, std::int8_t precision, leapdb::UtcTime origin);

  // Opens the sources, loads the leap data, plans what to serve and polls the reference once;
  // false (with problems logged) if it cannot. A rehearsal (--check-config) runs every check
  // without holding what a running smeard holds (References::check) or touching the NICs.
  enum class Start : std::uint8_t { serve, rehearse };
  bool prepare(Start start = Start::serve);
  ntp::Snapshot snapshot() const;
  // "3 listeners, 2 timescales, 5 keys, NTS on 1 KE listeners, 28 leaps": what was loaded.
  std::string summary() const;
  void start() { schedule(); }
  void reload(std::string_view reason);
  void publish();
  // With `clients`, each timescale's heaviest clients too (read from every worker: /status only).
  metrics::Status status(bool clients = false) const;
  metrics::HttpResponse serve_http(std::string_view path) const;
  // What the NTS-KE server hands out: the certificate, the current cookie key and, per KE
  // listener, the timescale and NTP port; null without NTS.
  std::shared_ptr<const nts::KeState> nts_ke_state() const;
  // Whether some interface stamps in hardware: the listener sockets then ask for hardware
  // stamps too (io::kHardwareTimestampingFlags). Known once prepare() has run.
  bool any_hardware_timestamps() const { return hardware_.any_hardware(); }
  // The NTS-KE server the daemon runs, told of each new certificate and cookie key.
  void attach_nts_ke(nts::KeServer* server) { nts_ke_ = server; }
  // The metrics endpoint, whose refused connections the status counts.
  void attach_http(const metrics::HttpServer* server) { http_ = server; }
  // Per listener, how its AF_XDP path came up (none where not configured).
  void attach_xdp(std::vector<std::optional<metrics::XdpStatus>> xdp) { xdp_ = std::move(xdp); }

 private:
  LeapWatcher::Acceptor acceptor(const config::Config& config, ServingPlan& plan);
  void refuse(std::string_view reason, const std::vector<std::string>& problems);
  void schedule();
  void tick();
  void poll_reference();
  // The clock snapshots serve from, with the reference's latest correction of the system clock.
  ntp::ReferenceClock reference_clock() const;
  // The reference's claims as of the system-clock reading, on the TAI axis snapshots serve from.
  reference::Served served_at(leapdb::UtcTime reading) const;
  void report_transitions();
  void report_mixed_clients();
  std::vector<metrics::Traffic> traffic() const;
  // The heaviest clients of the listeners serving `timescale`, all their workers' merged.
  std::vector<metrics::ClientStatus> clients(std::string_view timescale) const;
  // Derives the cookie keys again when the rotation period has turned on the reference's UTC (or
  // `force`), and hands the new current key to the NTS-KE server.
  void rotate_nts_keys(bool force);
  std::optional<metrics::NtsStatus> nts_status() const;

  config::Config config_;
  std::optional<std::string> config_path_;
  std::optional<io::FileSignature> config_signature_;
  asio::steady_timer timer_;
  io::RcuCell<ntp::Snapshot>& state_;
  std::vector<std::unique_ptr<io::Worker>>& workers_;
  std::vector<std::unique_ptr<ntp::ClientHistory>>& histories_;
  std::int8_t precision_;
  leapdb::UtcTime origin_;
  std::unique_ptr<LeapWatcher> leaps_;
  ServingPlan plan_;
  std::unique_ptr<References> references_;
  reference::Estimate estimate_;
  std::optional<reference::Stage> stage_;
  std::map<std::string, bool, std::less<>> smearing_;
  std::optional<int> tai_offset_;
  std::vector<std::optional<metrics::XdpStatus>> xdp_;
  std::uint8_t history_generation_ = 0;
  bool history_purge_pending_ = false;
  std::shared_ptr<const ntp::KeyRing> keys_ = std::make_shared<const ntp::KeyRing>();
  nts::LoadedFiles nts_;
  // Certificate, key and cookie secret as last read: a renewed certificate or a rotated Secret
  // is picked up without a SIGHUP.
  std::vector<std::optional<io::FileSignature>> nts_signatures_;
  nts::CookieKeeper cookie_keys_;  // none without NTS
  nts::KeServer* nts_ke_ = nullptr;
  const metrics::HttpServer* http_ = nullptr;
  bool rate_tables_ = config_.ratelimit.enabled;  // the workers' tables were allocated at start
  HardwareClocks hardware_{io::kernel_timestamp_driver()};
  bool hardware_sockets_ = false;  // the sockets were opened asking for hardware stamps
};

}  // namespace app
