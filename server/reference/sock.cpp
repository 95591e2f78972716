#include "server/reference/sock.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>

namespace reference {
namespace {

// Beyond this many seconds an offset is no reading of a clock (and nanoseconds would overflow).
constexpr double kMaxOffsetSeconds = 1e9;
constexpr std::int64_t kMaxSeconds = 9'000'000'000;

std::string hex(int value) {
  char text[16];
  std::snprintf(text, sizeof text, "0x%08x", static_cast<unsigned>(value));
  return text;
}

}  // namespace

SockDecoded decode_sock_sample(std::span<const std::byte> bytes, std::size_t length) {
  SockDecoded out;
  if (length != sizeof(SockSample) || bytes.size() < sizeof(SockSample)) {
    out.why = "a " + std::to_string(length) + "-byte datagram (a sock_sample is " + std::to_string(sizeof(SockSample)) +
              " bytes)";
    return out;
  }
  SockSample s{};
  std::memcpy(&s, bytes.data(), sizeof s);
  if (s.magic != kSockMagic) {
    out.why = "a datagram with magic " + hex(s.magic) + " (a sock_sample's is " + hex(kSockMagic) + ")";
    return out;
  }
  out.status = SockDecoded::Status::refused;
  if (s.pulse != 0) {
    // chronyd locks such an edge to another refclock's seconds; smeard has no other.
    out.status = SockDecoded::Status::pulse;
    out.why = "a pulse sample: it carries no absolute time, and there is no other refclock to take the seconds from";
    return out;
  }
  switch (s.leap) {
    case 0: out.sample.leap = LeapWarning::none; break;
    case 1: out.sample.leap = LeapWarning::insert; break;
    case 2: out.sample.leap = LeapWarning::remove; break;
    case 3: out.why = "leap 3: the sender says the reference is not synchronized"; return out;
    default: out.why = "leap " + std::to_string(s.leap) + " is none of 0 (none), 1 (insert), 2 (delete)"; return out;
  }
  const std::int64_t seconds = s.tv.tv_sec;
  const std::int64_t microseconds = s.tv.tv_usec;
  if (seconds < 0 || seconds >= kMaxSeconds || microseconds < 0 || microseconds >= 1'000'000) {
    out.why = "a sample whose timeval is out of range";
    return out;
  }
  if (!std::isfinite(s.offset) || std::abs(s.offset) > kMaxOffsetSeconds) {
    out.why = "a sample whose offset is not a number of seconds a clock could be off by";
    return out;
  }
  out.status = SockDecoded::Status::sample;
  out.sample.received = leapdb::utc_from_unix_nanoseconds(seconds * 1'000'000'000 + microseconds * 1'000);
  out.sample.reference = out.sample.received + leapdb::Nanoseconds{std::llround(s.offset * 1e9)};
  out.sample.precision = -20;  // the timeval's microsecond
  return out;
}

void SockDriver::read(RefclockBatch& into) {
  std::array<std::byte, sizeof(SockSample)> buffer{};
  for (std::size_t n = 0; n < kMaxPerPoll; ++n) {
    std::string error;
    const std::optional<std::size_t> length = socket_->receive(buffer, error);
    if (!length) {
      if (!error.empty()) into.failure = path_ + ": " + error;
      return;
    }
    SockDecoded got = decode_sock_sample(buffer, *length);
    switch (got.status) {
      case SockDecoded::Status::sample: into.samples.push_back(got.sample); break;
      case SockDecoded::Status::malformed:
        if (malformed_++ == 0) {
          into.notices.push_back({Notice::Level::warning, "sock_malformed_datagram",
                                  {{"path", path_}, {"datagram", got.why}, {"detail", "counted; later ones are not logged"}}});
        }
        into.refusals.push_back(std::move(got.why));
        break;
      case SockDecoded::Status::pulse:
        if (pulses_++ == 0) {
          into.notices.push_back(
              {Notice::Level::warning, "sock_pulse_refused", {{"path", path_}, {"why", got.why}}});
        }
        into.refusals.push_back(std::move(got.why));
        break;
      case SockDecoded::Status::refused: into.refusals.push_back(std::move(got.why)); break;
    }
  }
}

namespace {

class KernelDatagramSocket final : public DatagramSocket {
 public:
  KernelDatagramSocket(int fd, std::string path, dev_t device, ino_t inode)
      : fd_(fd), path_(std::move(path)), device_(device), inode_(inode) {}
  ~KernelDatagramSocket() override {
    ::close(fd_);
    // Only our own file: a later source may already have bound a new socket at the path.
    struct stat st {};
    if (::lstat(path_.c_str(), &st) == 0 && st.st_dev == device_ && st.st_ino == inode_) ::unlink(path_.c_str());
  }
  KernelDatagramSocket(const KernelDatagramSocket&) = delete;
  KernelDatagramSocket& operator=(const KernelDatagramSocket&) = delete;

  std::optional<std::size_t> receive(std::span<std::byte> buffer, std::string& error) override {
    for (;;) {
      // MSG_TRUNC: the datagram's real length, so an oversized one is not taken for a good one.
      const ssize_t n = ::recv(fd_, buffer.data(), buffer.size(), MSG_DONTWAIT | MSG_TRUNC);
      if (n >= 0) return static_cast<std::size_t>(n);
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) error = std::string{"recv: "} + std::strerror(errno);
      return std::nullopt;
    }
  }

 private:
  int fd_;
  std::string path_;
  dev_t device_;
  ino_t inode_;
};

}  // namespace

std::unique_ptr<DatagramSocket> open_sock_socket(const std::string& path, std::string& error) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof address.sun_path) {
    error = path + ": a Unix socket path must be 1 to " + std::to_string(sizeof address.sun_path - 1) + " bytes";
    return nullptr;
  }
  std::memcpy(address.sun_path, path.data(), path.size());

  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      error = path + ": exists and is not a socket (not removing it)";
      return nullptr;
    }
    // A socket left by an earlier run (or by chronyd): senders reach whoever binds it now.
    if (::unlink(path.c_str()) != 0) {
      error = path + ": cannot remove the old socket: " + std::strerror(errno);
      return nullptr;
    }
  }
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = path + ": socket: " + std::strerror(errno);
    return nullptr;
  }
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    error = path + ": cannot bind: " + std::strerror(errno);
    ::close(fd);
    return nullptr;
  }
  if (::lstat(path.c_str(), &st) != 0) {
    error = path + ": bound, then gone: " + std::strerror(errno);
    ::close(fd);
    return nullptr;
  }
  return std::make_unique<KernelDatagramSocket>(fd, path, st.st_dev, st.st_ino);
}

std::unique_ptr<Source> make_sock_source(std::unique_ptr<DatagramSocket> socket, const SockOptions& options) {
  return std::make_unique<RefclockSource>(std::make_unique<SockDriver>(std::move(socket), options.path),
                                          RefclockOptions{"SOCK(" + options.path + ")", options.reference_id,
                                                          std::chrono::seconds{4}});
}

std::unique_ptr<Source> make_sock_source(const SockOptions& options, std::string& error) {
  std::unique_ptr<DatagramSocket> socket = open_sock_socket(options.path, error);
  if (!socket) return nullptr;
  return make_sock_source(std::move(socket), options);
}

}  // namespace reference
