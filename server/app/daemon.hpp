#pragma once

#include "config/config.hpp"

namespace app {

// Binds every listener, serves until SIGTERM or SIGINT, then stops the workers and returns
// the process exit status. A listener that cannot be bound stops start-up with an error that
// names the configuration file, line and key.
int run_daemon(const config::Config& config);

}  // namespace app
