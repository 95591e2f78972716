#include "server/reference/upstream/upstream.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "server/ntp/client.hpp"
#include "server/reference/clocks.hpp"
#include "server/reference/upstream/ensemble.hpp"

namespace reference {

std::uint32_t upstream_reference_id(const void* address, std::size_t length) {
  if (length >= sizeof(sockaddr_in) && static_cast<const sockaddr*>(address)->sa_family == AF_INET) {
    return ntohl(static_cast<const sockaddr_in*>(address)->sin_addr.s_addr);
  }
  if (length >= sizeof(sockaddr_in6) && static_cast<const sockaddr*>(address)->sa_family == AF_INET6) {
    const auto& a = static_cast<const sockaddr_in6*>(address)->sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(&a)) {
      return std::uint32_t{a.s6_addr[12]} << 24 | std::uint32_t{a.s6_addr[13]} << 16 |
             std::uint32_t{a.s6_addr[14]} << 8 | a.s6_addr[15];
    }
    std::uint32_t hash = 2166136261u;  // FNV-1a
    for (const unsigned char byte : a.s6_addr) hash = (hash ^ byte) * 16777619u;
    return hash;
  }
  return 0;
}

namespace {

using upstream::Drift;

class UpstreamSource final : public Source {
 public:
  UpstreamSource(std::vector<int> sockets, std::vector<upstream::ServerIdentity> servers, const UpstreamOptions& options,
                 std::optional<Drift> stored, std::optional<std::string> drift_problem)
      : sockets_(std::move(sockets)),
        drift_file_(options.drift_file),
        ensemble_(std::move(servers), {options.minsources, options.poll, options.precision}, stored,
                  monotonic_raw_now()) {
    if (drift_problem) {
      notice(Notice::Level::warning, "drift_file_ignored",
             {{"problem", *drift_problem}, {"detail", "starting without a known frequency"}});
    } else if (stored) {
      notice(Notice::Level::info, "drift_file_loaded",
             {{"file", *drift_file_}, {"frequency_ppm", std::to_string(stored->ppm)}});
    }
  }
  ~UpstreamSource() override {
    if (const std::optional<Drift> drift = ensemble_.known_drift()) save(*drift);
    for (const int fd : sockets_) ::close(fd);
  }
  UpstreamSource(const UpstreamSource&) = delete;
  UpstreamSource& operator=(const UpstreamSource&) = delete;

  Estimate poll(const Tick& tick) override {
    for (std::size_t i = 0; i < sockets_.size(); ++i) drain(i);
    Estimate estimate = ensemble_.update(tick);
    for (const std::size_t i : ensemble_.due(tick.monotonic_raw)) send(i);
    for (Notice& n : ensemble_.take_notices()) notice(n.level, std::move(n.event), std::move(n.fields));
    if (const std::optional<Drift> drift = ensemble_.drift_to_save(tick.monotonic_raw)) save(*drift);
    return estimate;
  }

  std::vector<SourceReport> report() const override { return ensemble_.report(); }

 private:
  void drain(std::size_t index) {
    std::array<std::byte, ntp::kMaxPacketLength> buffer;
    alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(timespec))> control;
    for (;;) {
      iovec iov{buffer.data(), buffer.size()};
      msghdr message{};
      message.msg_iov = &iov;
      message.msg_iovlen = 1;
      message.msg_control = control.data();
      message.msg_controllen = control.size();
      const ssize_t n = ::recvmsg(sockets_[index], &message, MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EINTR) continue;
        return;  // EAGAIN, or an ICMP error (ECONNREFUSED) reported on the connected socket
      }
      const ClockPair now = read_clock_pair();
      const leapdb::UtcTime arrival = kernel_receive_time(message).value_or(now.realtime);
      ensemble_.received(index, std::span{buffer.data(), static_cast<std::size_t>(n)}, arrival, now.realtime, now.raw);
    }
  }

  void send(std::size_t index) {
    upstream::Request request;
    std::uint64_t nonce = 0;
    if (::getrandom(&nonce, sizeof nonce, GRND_NONBLOCK) != sizeof nonce) {
      nonce = static_cast<std::uint64_t>(monotonic_raw_now().count()) * 0x9E3779B97F4A7C15ull;
    }
    request.nonce = ntp::Timestamp{static_cast<std::uint32_t>(nonce >> 32), static_cast<std::uint32_t>(nonce)};
    const auto bytes = ntp::build_client_request(request.nonce);
    const ClockPair now = read_clock_pair();
    request.sent_realtime = now.realtime;
    request.sent_raw = now.raw;
    // A failed send (no route yet) is a request without a reply: reach says so.
    (void)::send(sockets_[index], bytes.data(), bytes.size(), MSG_DONTWAIT);
    ensemble_.sent(index, request);
  }

  void save(const Drift& drift) {
    if (!drift_file_) return;
    const std::string temporary = *drift_file_ + ".tmp";
    bool ok = false;
    {
      std::ofstream out(temporary, std::ios::trunc);
      out << upstream::format_drift(drift);
      ok = static_cast<bool>(out.flush());
    }
    if (ok) ok = std::rename(temporary.c_str(), drift_file_->c_str()) == 0;
    if (!ok && !save_failed_) {
      notice(Notice::Level::warning, "drift_file_unwritable",
             {{"file", *drift_file_}, {"error", std::strerror(errno)}});
    }
    save_failed_ = !ok;
  }

  std::vector<int> sockets_;
  std::optional<std::string> drift_file_;
  upstream::Ensemble ensemble_;
  bool save_failed_ = false;
};

// The drift file as stored, none when absent (a first start), a problem when unreadable.
std::optional<Drift> load_drift(const std::string& path, std::optional<std::string>& problem) {
  std::ifstream in(path);
  if (!in) {
    if (errno != ENOENT) problem = path + ": cannot read: " + std::strerror(errno);
    return std::nullopt;
  }
  std::stringstream text;
  text << in.rdbuf();
  std::string error;
  std::optional<Drift> drift = upstream::parse_drift(text.str(), error);
  if (!drift) problem = path + ":1: " + error;
  return drift;
}

}  // namespace

std::unique_ptr<Source> make_upstream_source(const UpstreamOptions& options, std::string& error) {
  std::vector<int> sockets;
  std::vector<upstream::ServerIdentity> identities;
  const auto fail = [&](std::string message) {
    for (const int fd : sockets) ::close(fd);
    error = std::move(message);
    return nullptr;
  };
  for (const UpstreamServerName& server : options.servers) {
    addrinfo hints{};
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo* found = nullptr;
    const std::string port = std::to_string(server.port);
    if (const int rc = ::getaddrinfo(server.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
      return fail("cannot resolve " + server.text + ": " + ::gai_strerror(rc));
    }
    const int fd = ::socket(found->ai_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    const int on = 1;
    if (fd < 0 || ::setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on) != 0 ||
        ::connect(fd, found->ai_addr, found->ai_addrlen) != 0) {
      const std::string why = std::strerror(errno);
      if (fd >= 0) ::close(fd);
      ::freeaddrinfo(found);
      return fail("cannot open a socket to " + server.text + ": " + why);
    }
    sockets.push_back(fd);
    identities.push_back({server.text, upstream_reference_id(found->ai_addr, found->ai_addrlen)});
    ::freeaddrinfo(found);
  }
  std::optional<std::string> problem;
  std::optional<Drift> stored;
  if (options.drift_file) stored = load_drift(*options.drift_file, problem);
  return std::make_unique<UpstreamSource>(std::move(sockets), std::move(identities), options, stored, problem);
}

}  // namespace reference
