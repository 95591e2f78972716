#include "server/io/worker.hpp"

#include "server/reference/clocks.hpp"
#include "server/reference/kernel.hpp"

#include <netinet/in.h>
#include <sys/random.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>

namespace io {
namespace {

constexpr unsigned kBatch = 64;
// Larger than any request we accept, so an oversized one shows up as MSG_TRUNC.
constexpr std::size_t kReceiveBufferLength = 2048;
constexpr std::size_t kControlLength = 256;

using counting::bump;

}  // namespace

struct Worker::Buffers {
  // Receive side.
  std::array<std::array<std::byte, kReceiveBufferLength>, kBatch> packets;
  std::array<sockaddr_storage, kBatch> sources;
  std::array<iovec, kBatch> receive_iov;
  std::array<std::array<std::byte, kControlLength>, kBatch> receive_control;
  std::array<mmsghdr, kBatch> receive_headers;
  // Send side: replies, with the destination address of the request as their source.
  std::array<std::array<std::byte, ntp::kMaxReplyLength>, kBatch> replies;
  std::array<leapdb::UtcTime, kBatch> reply_received;  // kernel receive time, for the histogram
  std::array<std::uint8_t, kBatch> reply_version;
  std::array<ntp::Decision, kBatch> reply_decision;
  std::array<bool, kBatch> reply_lost;  // sendmmsg failed on it
  std::array<iovec, kBatch> send_iov;
  std::array<std::array<std::byte, kControlLength>, kBatch> send_control;
  std::array<mmsghdr, kBatch> send_headers;
  // Fresh randomness for NTS replies (nonces), one getrandom() for up to kBatch of them.
  std::array<std::array<std::byte, ntp::kReplyRandomness>, kBatch> nts_randomness;
  unsigned nts_randomness_used = kBatch;
};

namespace {

// False only when the kernel has no randomness to give (getrandom() never fails otherwise).
bool refill(std::span<std::byte> pool) {
  std::size_t filled = 0;
  while (filled < pool.size()) {
    const ssize_t n = ::getrandom(pool.data() + filled, pool.size() - filled, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    filled += static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

Worker::Worker(BoundSocket socket, std::uint8_t listener, RcuCell<ntp::Snapshot>& state, std::size_t reader_slot,
               ntp::ClientHistory& history, std::size_t rate_entries, std::uint64_t seed)
    : socket_(std::move(socket)),
      listener_(listener),
      state_(state),
      reader_slot_(reader_slot),
      history_(history),
      limiter_(rate_entries, seed),
      authenticator_(std::make_unique<ntp::Authenticator>(nullptr)),
      buffers_(new Buffers{}) {}

void Worker::use_keys(const std::shared_ptr<const ntp::KeyRing>& keys) {
  try {
    authenticator_ = std::make_unique<ntp::Authenticator>(keys);
  } catch (const std::exception&) {
    // The control thread built one from the same ring before publishing it, so this is
    // OpenSSL failing now where it did not then: keep the old keys rather than none.
  }
}

Worker::~Worker() { delete buffers_; }

void Worker::request_stop() {
  stopping_.store(true);
  // Shutting down the read side wakes a recvmmsg blocked on this socket (even unconnected UDP).
  ::shutdown(socket_.fd.get(), SHUT_RD);
}

void Worker::run() {
  running_.store(true);
  Buffers& b = *buffers_;
  for (unsigned i = 0; i < kBatch; ++i) {
    b.receive_iov[i] = iovec{b.packets[i].data(), kReceiveBufferLength};
    msghdr& h = b.receive_headers[i].msg_hdr;
    h.msg_name = &b.sources[i];
    h.msg_iov = &b.receive_iov[i];
    h.msg_iovlen = 1;
    h.msg_control = b.receive_control[i].data();
  }
  unsigned used = kBatch;
  while (!stopping_.load(std::memory_order_relaxed)) {
    // The kernel shrinks these two lengths to what it wrote; restore them where it did.
    for (unsigned i = 0; i < used; ++i) {
      b.receive_headers[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
      b.receive_headers[i].msg_hdr.msg_controllen = kControlLength;
    }
    const int received = ::recvmmsg(socket_.fd.get(), b.receive_headers.data(), kBatch, MSG_WAITFORONE, nullptr);
    // After shutdown() the kernel hands back one empty message: not a request.
    if (stopping_.load(std::memory_order_relaxed)) break;
    if (received <= 0) {
      used = 0;
      if (received < 0 && errno != EINTR) bump(counters_.receive_errors);
      continue;
    }
    used = static_cast<unsigned>(received);
    answer_batch(used);
  }
  running_.store(false);
}

void Worker::answer_batch(unsigned received) {
  Buffers& b = *buffers_;
  bump(counters_.requests, received);
  const auto snapshot = state_.read(reader_slot_);
  const ntp::ReferenceClock& clock = snapshot->clock;
  const std::uint8_t timescale = snapshot->listener_timescale[listener_];
  if (authenticator_->ring() != snapshot->keys.get()) use_keys(snapshot->keys);
  ntp::Tables tables{&history_, &limiter_, authenticator_.get()};
  const bool nts = !snapshot->nts_keys.empty();
  // Only within a second of an inserted leap does the kernel's leap state matter (whether a
  // 23:59:59 reading is the first or the repeated one): ask it only then, once for the batch's
  // receive timestamps and once after the transmit reading (it must be read after what it judges).
  std::optional<reference::KernelClockStatus> kernel;
  auto to_tai = [&clock, &kernel](leapdb::UtcTime reading) {
    if (clock.steady.contains(reading)) return clock.steady.to_tai(reading);
    const leapdb::Leap* leap = clock.inserted_leap_near(reading);
    if (leap == nullptr) return clock.to_tai(reading);
    if (!kernel) kernel = reference::read_kernel_clock_status();
    return clock.to_tai(reading, reference::kernel_leap_correction(reading, *leap, *kernel));
  };
  unsigned replies = 0;
  for (unsigned i = 0; i < received; ++i) {
    msghdr& in = b.receive_headers[i].msg_hdr;
    const std::span<const std::byte> bytes{b.packets[i].data(), b.receive_headers[i].msg_len};
    const auto version = bytes.empty() ? 0u : (std::to_integer<unsigned>(bytes[0]) >> 3) & 7u;
    bump(counters_.requests_by_version[version]);
    if ((in.msg_flags & MSG_TRUNC) != 0) {
      counting::count(ntp::DropReason::too_long, counters_);
      continue;
    }
    leapdb::UtcTime received_at{};
    bool have_timestamp = false;
    const cmsghdr* destination = nullptr;
    for (cmsghdr* c = CMSG_FIRSTHDR(&in); c != nullptr; c = CMSG_NXTHDR(&in, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
        timespec ts{};
        std::memcpy(&ts, CMSG_DATA(c), sizeof ts);
        received_at = reference::from_timespec(ts);
        have_timestamp = true;
      } else if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) ||
                 (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO)) {
        destination = c;
      }
    }
    if (!have_timestamp) received_at = reference::realtime_now();

    const ntp::Request request{bytes, ntp::ClientAddress::from(b.sources[i]), listener_, to_tai(received_at),
                               received_at};
    if (nts && b.nts_randomness_used == kBatch &&
        refill(std::as_writable_bytes(std::span{b.nts_randomness}))) {
      b.nts_randomness_used = 0;
    }
    tables.nts_randomness = nts && b.nts_randomness_used < kBatch ? &b.nts_randomness[b.nts_randomness_used] : nullptr;
    const ntp::Decision decision = ntp::handle(request, *snapshot, tables, b.replies[replies]);
    counting::count(decision, counters_);
    if (const auto* time = decision.as<ntp::TimeReply>(); time != nullptr && time->nts) {
      ++b.nts_randomness_used;  // a nonce is never used twice, whatever becomes of its reply
    }
    if (decision.mixed) mixed_.push(MixedClient{request.client, timescale, decision.other_timescale});
    if (!decision.replied()) continue;
    b.reply_decision[replies] = decision;
    b.reply_received[replies] = received_at;
    b.reply_version[replies] = static_cast<std::uint8_t>(version);

    b.send_iov[replies] = iovec{b.replies[replies].data(), decision.reply_length()};
    msghdr& out = b.send_headers[replies].msg_hdr;
    out = msghdr{};
    out.msg_name = &b.sources[i];
    out.msg_namelen = in.msg_namelen;
    out.msg_iov = &b.send_iov[replies];
    out.msg_iovlen = 1;
    if (destination != nullptr) {
      // Answer from the address the client wrote to, or a multi-homed host replies from the
      // wrong one and the client drops it.
      out.msg_control = b.send_control[replies].data();
      out.msg_controllen = CMSG_SPACE(destination->cmsg_len - CMSG_LEN(0));
      cmsghdr* c = CMSG_FIRSTHDR(&out);  // never null: the buffer holds a pktinfo
      c->cmsg_level = destination->cmsg_level;
      c->cmsg_type = destination->cmsg_type;
      c->cmsg_len = destination->cmsg_len;
      std::memcpy(CMSG_DATA(c), CMSG_DATA(destination), destination->cmsg_len - CMSG_LEN(0));
      if (c->cmsg_level == IPPROTO_IP) {
        in_pktinfo info{};
        std::memcpy(&info, CMSG_DATA(c), sizeof info);
        info.ipi_spec_dst = info.ipi_addr;
        info.ipi_ifindex = 0;
        std::memcpy(CMSG_DATA(c), &info, sizeof info);
      }
    }
    ++replies;
  }

  // The transmit timestamp is read last, once for the batch, right before it leaves.
  const leapdb::UtcTime transmit_reading = reference::realtime_now();
  kernel.reset();
  const leapdb::TaiTime transmit = to_tai(transmit_reading);
  const ntp::TimescaleView& view = snapshot->timescales[timescale];
  for (unsigned j = 0; j < replies; ++j) {
    ntp::stamp_transmit(b.replies[j], transmit, view);
    ntp::sign(b.replies[j], b.reply_decision[j], *authenticator_);
  }
  unsigned sent = 0;
  unsigned failed = 0;
  std::fill_n(b.reply_lost.begin(), replies, false);
  while (sent < replies) {
    const int n = ::sendmmsg(socket_.fd.get(), &b.send_headers[sent], replies - sent, 0);
    if (n > 0) {
      sent += static_cast<unsigned>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      b.reply_lost[sent] = true;  // carry on with the rest
      ++failed;
      ++sent;
    }
  }
  bump(counters_.replies, replies - failed);
  if (failed != 0) bump(counters_.send_errors, failed);
  for (unsigned j = 0; j < replies; ++j) {
    if (b.reply_lost[j]) continue;
    counting::count_sent(b.reply_version[j], transmit_reading - b.reply_received[j], counters_);
  }
}

}  // namespace io
