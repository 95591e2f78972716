// smeard: the NTP server daemon.
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/crypto.h>

#include "config/config.hpp"
#include "server/app/daemon.hpp"
#include "server/app/keys_file.hpp"
#include "server/app/leap_watcher.hpp"
#include "server/app/log.hpp"
#include "server/io/file.hpp"
#include "server/io/hardware_timestamps.hpp"
#include "server/nts/files.hpp"
#include "server/reference/clocks.hpp"

namespace {

constexpr std::string_view kUsage = R"(usage: smeard [--config FILE] [--foreground]
       smeard --check-config FILE
       smeard --print-default-config

  --config FILE         serve with this configuration (default: the embedded one)
  --foreground          accepted for service managers: smeard never forks into the background
  --check-config FILE   validate FILE, its keys file, NTS files and leap files, print every
                        problem, exit 1 if there are any
  --print-default-config  print the embedded default configuration
)";

// Returns the parsed configuration, or prints every problem and returns nothing.
std::optional<config::Config> load(const std::optional<std::string>& path) {
  std::string text{config::embedded_default()};
  std::string name{config::kEmbeddedDefaultName};
  if (path) {
    io::FileRead file = io::read_file(*path);
    if (!file.ok()) {
      std::cerr << "smeard: " << file.error << "\n";
      return std::nullopt;
    }
    text = std::move(file.bytes);
    name = *path;
  }
  config::ParseResult result = config::parse(text, name);
  for (const config::Problem& problem : result.problems) std::cerr << problem.to_string() << "\n";
  return std::move(result.config);
}

}  // namespace

int main(int argc, char** argv) {
  // An NTS key establishment may still be running on its detached thread when smeard exits:
  // OpenSSL's own clean-up at exit would pull its tables from under it.
  OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, nullptr);
  std::optional<std::string> config_path;
  bool check_only = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if ((arg == "--config" || arg == "--check-config") && i + 1 < argc && !config_path) {
      check_only = arg == "--check-config";
      config_path = argv[++i];
    } else if (arg == "--foreground") {
      // smeard always runs in the foreground, logging to stderr, as systemd and containers want.
    } else if (arg == "--print-default-config") {
      std::cout << config::embedded_default();
      return 0;
    } else if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return 0;
    } else {
      std::cerr << "smeard: unexpected argument '" << arg << "'\n" << kUsage;
      return 2;
    }
  }

  const std::optional<config::Config> config = load(config_path);
  if (check_only) {
    if (!config) return 1;
    // Interfaces named for hardware stamps must exist here, as they must when smeard starts.
    if (!config->hardware_timestamps.interfaces.empty()) {
      const auto missing =
          io::missing_interfaces(config->hardware_timestamps, io::kernel_timestamp_driver()->interfaces());
      for (const config::Problem& problem : missing) std::cerr << problem.to_string() << "\n";
      if (!missing.empty()) return 1;
    }
    const app::LoadedKeys keys = app::load_keys(*config);
    for (const std::string& problem : keys.problems) std::cerr << problem << "\n";
    if (!keys.ring) return 1;
    if (config->nts) {
      const nts::LoadedFiles nts = nts::load_files(*config->nts);
      for (const std::string& problem : nts.problems) std::cerr << problem << "\n";
      if (!nts.tls) return 1;
      // Served all the same (plain NTP does not need it, and a renewal is taken without a
      // restart), but no NTS client will accept it.
      const nts::CertificateDates dates = nts.certificate
                                              ? nts::judge_dates(*nts.certificate, reference::realtime_now())
                                              : nts::CertificateDates::valid;
      if (dates != nts::CertificateDates::valid) {
        const bool expired = dates == nts::CertificateDates::expired;
        std::cerr << config->nts->certificate << ": warning: " << (expired ? "expired on " : "not valid before ")
                  << leapdb::format_rfc3339(expired ? nts.certificate->not_after : nts.certificate->not_before)
                  << "; NTS clients will refuse it\n";
      }
    }
    // The leap files as smeard would load them at start: missing, unparsable or disagreeing
    // files fail here (logged as leap_file_rejected), not on the first node that mounts them.
    app::log_minimum(app::Level::warning);
    app::LeapWatcher leaps{config->leapdb};
    if (!leaps.start(reference::realtime_now(), [](const auto&) { return std::vector<std::string>{}; })) return 1;
    std::cout << *config_path << ": ok (" << config->listeners.size() << " listeners, "
              << config->timescales.size() << " timescales"
              << (config->keys ? ", " + std::to_string(keys.ring->keys().size()) + " keys" : "")
              << (config->nts ? ", NTS on " + std::to_string(config->nts->listeners.size()) + " KE listeners" : "");
    if (leaps.loaded()) std::cout << ", " << leaps.table()->leaps.size() << " leaps";
    std::cout << ")\n";
    return 0;
  }
  if (!config) return 1;
  return app::run_daemon(*config, config_path);
}
