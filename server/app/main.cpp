// smeard: the NTP server daemon.
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/crypto.h>

#include "config/config.hpp"
#include "server/app/daemon.hpp"
#include "server/app/log.hpp"
#include "server/io/file.hpp"

namespace {

constexpr std::string_view kUsage = R"(usage: smeard [--config FILE] [--foreground]
       smeard --check-config FILE
       smeard --print-default-config

  --config FILE         serve with this configuration (default: the embedded one)
  --foreground          accepted for service managers: smeard never forks into the background
  --check-config FILE   run every check a start with FILE runs (keys, NTS and leap files,
                        sources, timescales against the leap table, the user to run as),
                        without binding any socket; print every problem, exit 1 if any
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
    // The start's own checks, in the order it makes them; only warnings and errors are told.
    app::log_minimum(app::Level::warning);
    app::Daemon daemon{*config, config_path};
    const std::optional<std::string> summary = daemon.rehearse();
    if (!summary) return 1;
    std::cout << *config_path << ": ok (" << *summary << ")\n";
    return 0;
  }
  if (!config) return 1;
  return app::run_daemon(*config, config_path);
}
