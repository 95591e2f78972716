#pragma once
// After binding, smeard needs no privilege: as root it becomes the configured user and group
// (or "smeard", if that account exists); run unprivileged with CAP_NET_BIND_SERVICE, as
// systemd or a container grants it, it gives that capability up. Either way no capability is
// left and no exec can regain one.

#include <optional>
#include <string>

#include "config/config.hpp"

namespace app {

struct Privileges {
  std::string error;   // non-empty: start-up must stop
  std::string warning; // non-empty: worth logging (e.g. still root)
  std::string user;    // who smeard now runs as
  unsigned uid = 0;
  unsigned gid = 0;
  bool change_user = false;  // root becoming `user`
};

// Who smeard would become, looked up without changing anything (for --check-config).
Privileges plan_privileges(const config::Config& config);

// Takes the configuration's user and group; errors about them name where they were set.
Privileges drop_privileges(const config::Config& config);

}  // namespace app
