#include "server/io/service_manager.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>

namespace io {

std::string notify_service_manager(std::string_view state) {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (path == nullptr || *path == '\0') return {};
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  const std::size_t length = std::strlen(path);
  // '@' names a socket in the abstract namespace, which starts with a NUL byte.
  if ((path[0] != '/' && path[0] != '@') || length >= sizeof address.sun_path) {
    return "NOTIFY_SOCKET is not a socket path: " + std::string{path};
  }
  std::memcpy(address.sun_path, path, length);
  if (path[0] == '@') address.sun_path[0] = '\0';
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::string{"cannot notify the service manager: socket: "} + std::strerror(errno);
  const auto size = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + length);
  const ssize_t sent = ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL,
                                reinterpret_cast<const sockaddr*>(&address), size);
  const int error = errno;
  ::close(fd);
  if (sent < 0) return "cannot notify the service manager at " + std::string{path} + ": " + std::strerror(error);
  return {};
}

}  // namespace io
