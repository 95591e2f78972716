#pragma once

#include <sys/socket.h>

#include <string>

#include "config/config.hpp"

namespace io {

// Owns a file descriptor; closes it once.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd();
  int get() const { return fd_; }
  int release();
  explicit operator bool() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

struct BoundSocket {
  UniqueFd fd;
  bool wildcard = false;  // bound to 0.0.0.0 or ::, so replies must name their source address
  config::SocketAddress::Family family = config::SocketAddress::Family::ipv4;
  bool hardware_stamps = false;  // the NIC's stamps asked for too (hardware_timestamps.hpp)
};

struct SocketAddressStorage {
  sockaddr_storage storage{};
  socklen_t length = 0;
};
SocketAddressStorage to_sockaddr(const config::SocketAddress& address);

// Fails when another socket (of any process) holds the address, so two daemons never
// silently share a port through SO_REUSEPORT. Returns an empty string when free.
std::string check_address_free(const config::SocketAddress& address);

// One of a listener's SO_REUSEPORT sockets, with kernel receive timestamps (and the NIC's, with
// `hardware_stamps`) and, for wildcard addresses, destination-address reporting. On failure
// returns no fd and says why.
BoundSocket open_listener_socket(const config::SocketAddress& address, std::string& error,
                                 bool hardware_stamps = false);

}  // namespace io
