#include "server/io/udp_socket.hpp"

#include "server/io/hardware_timestamps.hpp"

#include <linux/net_tstamp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace io {

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.release();
  }
  return *this;
}

UniqueFd::~UniqueFd() {
  if (fd_ >= 0) ::close(fd_);
}

int UniqueFd::release() {
  const int fd = fd_;
  fd_ = -1;
  return fd;
}

SocketAddressStorage to_sockaddr(const config::SocketAddress& address) {
  SocketAddressStorage out;
  if (address.family == config::SocketAddress::Family::ipv4) {
    sockaddr_in v4{};
    v4.sin_family = AF_INET;
    v4.sin_port = htons(address.port);
    std::memcpy(&v4.sin_addr, address.bytes.data(), 4);
    std::memcpy(&out.storage, &v4, sizeof v4);
    out.length = sizeof v4;
  } else {
    sockaddr_in6 v6{};
    v6.sin6_family = AF_INET6;
    v6.sin6_port = htons(address.port);
    std::memcpy(&v6.sin6_addr, address.bytes.data(), 16);
    std::memcpy(&out.storage, &v6, sizeof v6);
    out.length = sizeof v6;
  }
  return out;
}

namespace {

constexpr int kTimestampingFlags = SOF_TIMESTAMPING_RX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE;

int domain_of(const config::SocketAddress& address) {
  return address.family == config::SocketAddress::Family::ipv4 ? AF_INET : AF_INET6;
}

bool set_int_option(int fd, int level, int name, int value, std::string& error, const char* what) {
  if (::setsockopt(fd, level, name, &value, sizeof value) == 0) return true;
  error = std::string{"setsockopt "} + what + ": " + std::strerror(errno);
  return false;
}

std::string errno_text(const char* call) { return std::string{call} + ": " + std::strerror(errno); }

}  // namespace

std::string check_address_free(const config::SocketAddress& address) {
  UniqueFd probe{::socket(domain_of(address), SOCK_DGRAM | SOCK_CLOEXEC, 0)};
  if (!probe) return errno_text("socket");
  std::string error;
  if (address.family == config::SocketAddress::Family::ipv6 &&
      !set_int_option(probe.get(), IPPROTO_IPV6, IPV6_V6ONLY, 1, error, "IPV6_V6ONLY")) {
    return error;
  }
  const SocketAddressStorage sa = to_sockaddr(address);
  if (::bind(probe.get(), reinterpret_cast<const sockaddr*>(&sa.storage), sa.length) != 0) return errno_text("bind");
  return {};
}

BoundSocket open_listener_socket(const config::SocketAddress& address, std::string& error, bool hardware_stamps) {
  BoundSocket bound;
  bound.family = address.family;
  bound.wildcard = address.is_wildcard();
  bound.hardware_stamps = hardware_stamps;
  // A hardware transmit stamp says which interface it is from only in a pktinfo.
  const bool pktinfo = bound.wildcard || hardware_stamps;
  const int stamping = kTimestampingFlags | static_cast<int>(hardware_stamps ? kHardwareTimestampingFlags : 0u);
  UniqueFd fd{::socket(domain_of(address), SOCK_DGRAM | SOCK_CLOEXEC, 0)};
  if (!fd) {
    error = errno_text("socket");
    return bound;
  }
  // Software receive stamps on every request; transmit stamps only for the replies that ask for
  // them (a control message per datagram), which come back on the error queue.
  if (!set_int_option(fd.get(), SOL_SOCKET, SO_REUSEPORT, 1, error, "SO_REUSEPORT") ||
      !set_int_option(fd.get(), SOL_SOCKET, SO_TIMESTAMPING, stamping, error, "SO_TIMESTAMPING")) {
    return bound;
  }
  // A larger queue absorbs bursts while a worker is busy; the kernel caps it at rmem_max.
  const int receive_buffer = 4 << 20;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
  if (address.family == config::SocketAddress::Family::ipv6) {
    // An IPv6 wildcard must not swallow IPv4: that is the IPv4 listener's job.
    if (!set_int_option(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, 1, error, "IPV6_V6ONLY")) return bound;
    if (pktinfo && !set_int_option(fd.get(), IPPROTO_IPV6, IPV6_RECVPKTINFO, 1, error, "IPV6_RECVPKTINFO")) {
      return bound;
    }
  } else if (pktinfo && !set_int_option(fd.get(), IPPROTO_IP, IP_PKTINFO, 1, error, "IP_PKTINFO")) {
    return bound;
  }
  const SocketAddressStorage sa = to_sockaddr(address);
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&sa.storage), sa.length) != 0) {
    error = errno_text("bind");
    return bound;
  }
  bound.fd = std::move(fd);
  return bound;
}

}  // namespace io
