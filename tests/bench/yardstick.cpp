// bench_yardstick PORT [ADDRESS]: the least an NTP server can do per request, as the floor
// tests/bench/run measures smeard (and chronyd, ntpd) against. It only answers: no timescales,
// no client policy, no kernel timestamps, no metrics, one thread. It batches like smeard's
// workers (recvmmsg, then one sendmmsg) so the difference is the work, not the system calls.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>

namespace {

constexpr unsigned kBatch = 64;
constexpr std::size_t kPacket = 48;
constexpr std::size_t kReceiveLength = 1024;  // requests with extension fields still fit
constexpr std::uint64_t kNtpEpochOffset = 2208988800u;  // 1900-01-01 to 1970-01-01

volatile std::sig_atomic_t stopping = 0;

void on_signal(int) { stopping = 1; }

void put_timestamp(std::uint8_t* out, const timespec& t) {
  // The seconds wrap modulo 2^32 on purpose: that is the NTP era.
  const auto seconds = static_cast<std::uint32_t>(static_cast<std::uint64_t>(t.tv_sec) + kNtpEpochOffset);
  const auto fraction = static_cast<std::uint32_t>((static_cast<std::uint64_t>(t.tv_nsec) << 32) / 1'000'000'000u);
  for (unsigned i = 0; i < 4; ++i) {
    out[i] = static_cast<std::uint8_t>(seconds >> (24 - 8 * i));
    out[4 + i] = static_cast<std::uint8_t>(fraction >> (24 - 8 * i));
  }
}

struct Buffers {
  std::array<std::array<std::uint8_t, kReceiveLength>, kBatch> requests;
  std::array<sockaddr_in, kBatch> sources;
  std::array<iovec, kBatch> receive_iov;
  std::array<mmsghdr, kBatch> receive;
  std::array<std::array<std::uint8_t, kPacket>, kBatch> replies;
  std::array<iovec, kBatch> send_iov;
  std::array<mmsghdr, kBatch> send;
};

Buffers buffers;  // static: nothing is allocated once it runs

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr, "usage: bench_yardstick PORT [ADDRESS]   (ADDRESS defaults to 127.0.0.1)\n");
    return 2;
  }
  const long port = std::strtol(argv[1], nullptr, 10);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  if (port <= 0 || port > 65535 || inet_pton(AF_INET, argc == 3 ? argv[2] : "127.0.0.1", &address.sin_addr) != 1) {
    std::fprintf(stderr, "bench_yardstick: bad port or IPv4 address\n");
    return 2;
  }

  // No SA_RESTART: the signal must interrupt a blocked recvmmsg.
  struct sigaction action{};
  action.sa_handler = on_signal;
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);

  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  // The same receive queue smeard asks for, so loss under load compares like for like.
  const int queue = 4 << 20;
  // And a timeout, so a signal that lands between the check and the call is seen soon anyway.
  const timeval timeout{0, 200'000};
  if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &queue, sizeof queue) != 0 ||
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout) != 0 ||
      bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    std::perror("bench_yardstick");
    return 1;
  }

  Buffers& b = buffers;
  for (unsigned i = 0; i < kBatch; ++i) {
    b.receive_iov[i] = iovec{b.requests[i].data(), kReceiveLength};
    b.receive[i].msg_hdr.msg_name = &b.sources[i];
    b.receive[i].msg_hdr.msg_iov = &b.receive_iov[i];
    b.receive[i].msg_hdr.msg_iovlen = 1;
    b.send_iov[i] = iovec{b.replies[i].data(), kPacket};
  }
  std::printf("bench_yardstick: answering on %s:%ld\n", argc == 3 ? argv[2] : "127.0.0.1", port);
  std::fflush(stdout);

  unsigned long long answered = 0;
  while (stopping == 0) {
    for (mmsghdr& m : b.receive) m.msg_hdr.msg_namelen = sizeof(sockaddr_in);
    const int received = recvmmsg(fd, b.receive.data(), kBatch, MSG_WAITFORONE, nullptr);
    if (received <= 0) continue;  // the timeout, a signal, or an ICMP error from an earlier send

    // One clock reading for the batch, as smeard's transmit timestamp: the floor, not a better server.
    timespec now{};
    clock_gettime(CLOCK_REALTIME, &now);
    unsigned replies = 0;
    for (unsigned i = 0; i < static_cast<unsigned>(received); ++i) {
      if (b.receive[i].msg_len < kPacket) continue;
      const std::uint8_t* in = b.requests[i].data();
      std::uint8_t* out = b.replies[replies].data();
      out[0] = static_cast<std::uint8_t>((in[0] & 0x38u) | 4u);  // LI 0, the client's version, mode 4
      out[1] = 1;                                                   // stratum
      out[2] = in[2];                                               // poll
      out[3] = static_cast<std::uint8_t>(-20);                      // precision
      std::memset(out + 4, 0, 8);                                   // root delay, root dispersion
      std::memcpy(out + 12, "LOCL", 4);
      put_timestamp(out + 16, now);          // reference
      std::memcpy(out + 24, in + 40, 8);     // origin: the client's transmit timestamp
      put_timestamp(out + 32, now);          // receive
      std::memcpy(out + 40, out + 32, 8);    // transmit

      msghdr& h = b.send[replies].msg_hdr;
      h.msg_name = &b.sources[i];
      h.msg_namelen = b.receive[i].msg_hdr.msg_namelen;
      h.msg_iov = &b.send_iov[replies];
      h.msg_iovlen = 1;
      ++replies;
    }
    for (unsigned sent = 0; sent < replies;) {
      const int n = sendmmsg(fd, &b.send[sent], replies - sent, 0);
      if (n > 0) {
        sent += static_cast<unsigned>(n);
      } else if (!(n < 0 && errno == EINTR)) {
        ++sent;  // the kernel refused this one: drop it, send the rest
      }
    }
    answered += replies;
  }
  std::printf("bench_yardstick: %llu replies\n", answered);
  return 0;
}
