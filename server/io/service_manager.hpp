#pragma once
// The service manager's readiness protocol (sd_notify(3)): one datagram of "KEY=VALUE" lines to
// the socket in $NOTIFY_SOCKET. systemd documents it as a stable interface to be spoken without
// libsystemd, and it is these few lines.

#include <string>
#include <string_view>

namespace io {

// Sends `state` ("READY=1", "RELOADING=1", "STOPPING=1", "STATUS=...") when NOTIFY_SOCKET is
// set; returns an error message, empty on success or when no service manager is listening.
std::string notify_service_manager(std::string_view state);

}  // namespace io
