#pragma once

#include <optional>
#include <string>

#include "config/config.hpp"

namespace app {

// Binds every listener, serves until SIGTERM or SIGINT, then stops the workers and returns
// the process exit status. A listener that cannot be bound stops start-up with an error that
// names the configuration file, line and key. With a `config_path`, SIGHUP and a change to
// that file reload the configuration and the leap data; a reload that fails is refused and
// the old one keeps serving.
int run_daemon(const config::Config& config, const std::optional<std::string>& config_path);

}  // namespace app
