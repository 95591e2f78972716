#include "server/io/worker.hpp"

#include <linux/errqueue.h>
#include <linux/net_tstamp.h>

#include "server/io/hardware_timestamps.hpp"
#include "server/io/tx_stamps.hpp"
#include "server/xdp/frame.hpp"
#include "server/reference/clocks.hpp"
#include "server/reference/kernel.hpp"

#include <netinet/in.h>
#include <sys/random.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <optional>
#include <variant>

namespace io {
namespace {

using counting::bump;

constexpr unsigned kBatch = 64;
// How far ahead a departure is predicted at most, in the replies sent before it; see
// Departure::replies_per_call.
constexpr std::int64_t kPredictionHorizonNs = 8'000;
// How often the kernel's transmit timestamps of a call's first and last reply are asked for.
constexpr leapdb::Nanoseconds kCalibrationInterval{1'000'000};
// A looped-back reply's headers and NTP header; the rest may be cut off.
constexpr std::size_t kErrorDataLength = 256;
// Larger than any request we accept, so an oversized one shows up as MSG_TRUNC.
constexpr std::size_t kReceiveBufferLength = 2048;
constexpr std::size_t kControlLength = 256;
// Interleaved clients remembered per worker (about 32 bytes each); chrony keeps a few thousand.
constexpr std::size_t kInterleavedEntries = 1 << 14;

unsigned version_of(std::span<const std::byte> bytes) {
  return bytes.empty() ? 0u : (std::to_integer<unsigned>(bytes[0]) >> 3) & 7u;
}

// An AF_XDP worker checks whether it is asked to stop this often while no frame comes.
constexpr int kXdpWaitMs = 100;

ntp::DropReason drop_reason(xdp::FrameDrop drop) {
  switch (drop) {
    case xdp::FrameDrop::ip_options: return ntp::DropReason::ip_options;
    case xdp::FrameDrop::too_long: return ntp::DropReason::too_long;
    case xdp::FrameDrop::bad_checksum: return ntp::DropReason::bad_checksum;
    case xdp::FrameDrop::bad_frame: break;
  }
  return ntp::DropReason::bad_frame;
}

// CLOCK_TAI minus CLOCK_REALTIME: what the kernel adds to the system clock for the XDP
// program's bpf_ktime_get_tai_ns(), in whole seconds.
leapdb::Nanoseconds kernel_tai_offset() {
  timespec tai{}, realtime{};
  ::clock_gettime(CLOCK_TAI, &tai);
  ::clock_gettime(CLOCK_REALTIME, &realtime);
  const std::int64_t ns = (tai.tv_sec - realtime.tv_sec) * 1'000'000'000LL + (tai.tv_nsec - realtime.tv_nsec);
  return std::chrono::seconds{(ns + (ns >= 0 ? 500'000'000 : -500'000'000)) / 1'000'000'000};
}

Departure::Seal seal_of(const ntp::Decision& decision) {
  const auto* time = decision.as<ntp::TimeReply>();
  if (time != nullptr && time->nts) return Departure::Seal::nts;
  // A truncated MAC costs what a whole one does: the whole digest is computed either way.
  return decision.mac_key() ? Departure::Seal::mac : Departure::Seal::none;
}

}  // namespace

struct Worker::Buffers {
  // Receive side.
  std::array<std::array<std::byte, kReceiveBufferLength>, kBatch> packets;
  std::array<sockaddr_storage, kBatch> sources;
  std::array<iovec, kBatch> receive_iov;
  alignas(cmsghdr) std::array<std::array<std::byte, kControlLength>, kBatch> receive_control;
  std::array<mmsghdr, kBatch> receive_headers;
  // Send side: replies, with the destination address of the request as their source.
  std::array<std::array<std::byte, ntp::kMaxReplyLength>, kBatch> replies;
  std::array<leapdb::UtcTime, kBatch> reply_received;  // kernel receive time, for the histogram
  std::array<std::uint8_t, kBatch> reply_version;
  std::array<ntp::Decision, kBatch> reply_decision;
  std::array<bool, kBatch> reply_lost;  // sendmmsg failed on it
  std::array<ntp::ClientAddress, kBatch> reply_client;
  std::array<Departure::Seal, kBatch> reply_seal;
  std::array<leapdb::Nanoseconds, kBatch> reply_processing;  // from receipt to predicted departure
  std::array<std::size_t, kBatch> pktinfo_length;     // of send_control's pktinfo; 0: none
  std::array<iovec, kBatch> send_iov;
  alignas(cmsghdr) std::array<std::array<std::byte, kControlLength>, kBatch> send_control;
  std::array<mmsghdr, kBatch> send_headers;
  // The error queue: looped-back replies with their kernel transmit timestamps.
  std::array<std::array<std::byte, kErrorDataLength>, kBatch> error_data;
  std::array<iovec, kBatch> error_iov;
  alignas(cmsghdr) std::array<std::array<std::byte, kControlLength>, kBatch> error_control;
  std::array<mmsghdr, kBatch> error_headers;
  // AF_XDP: the frames received, and for each reply the frame it is built in.
  std::array<xdp::ReceivedFrame, kBatch> frames;
  std::array<xdp::RequestFrame, kBatch> reply_frame;
  std::array<const xdp::ReceivedFrame*, kBatch> reply_from;
  // Fresh randomness for NTS replies (nonces), one getrandom() for up to kBatch of them.
  std::array<std::array<std::byte, nts::kReplyRandomness>, kBatch> nts_randomness;
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
    : Worker(nullptr, listener, state, reader_slot, history, rate_entries, seed) {
  socket_ = std::move(socket);
}

Worker::Worker(std::unique_ptr<xdp::Queue> queue, std::uint8_t listener, RcuCell<ntp::Snapshot>& state,
               std::size_t reader_slot, ntp::ClientHistory& history, std::size_t rate_entries, std::uint64_t seed)
    : queue_(std::move(queue)),
      listener_(listener),
      state_(state),
      reader_slot_(reader_slot),
      history_(history),
      limiter_(rate_entries, seed),
      authenticator_(std::make_unique<ntp::Authenticator>(nullptr)),
      interleaved_(kInterleavedEntries, seed ^ 0x9e3779b97f4a7c15ULL),
      talkers_(counting::TalkerTable::kDefaultSlots, seed ^ 0xc2b2ae3d27d4eb4fULL),
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
  // Shutting down the read side wakes a recvmmsg blocked on this socket (even unconnected UDP);
  // an AF_XDP worker sees stopping_ within its wait's timeout.
  if (!queue_) ::shutdown(socket_.fd.get(), SHUT_RD);
}

void Worker::run() {
  running_.store(true);
  if (queue_) {
    run_xdp();
  } else {
    run_sockets();
  }
  running_.store(false);
}

void Worker::run_sockets() {
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
}

// The system clock's readings in TAI. Only within a second of an inserted leap does the kernel's
// leap state matter (whether a 23:59:59 reading is the first or the repeated one): it is asked only
// then, once for the receive readings and again for each call's transmit readings (after what it
// judges).
class Worker::TaiReader {
 public:
  explicit TaiReader(const ntp::ReferenceClock& clock) : clock_(clock) {}
  leapdb::TaiTime operator()(leapdb::UtcTime reading) {
    if (clock_.steady.contains(reading)) return clock_.steady.to_tai(reading);
    const leapdb::Leap* leap = clock_.inserted_leap_near(reading);
    if (leap == nullptr) return clock_.to_tai(reading);
    if (!kernel_) kernel_ = reference::read_kernel_clock_status();
    return clock_.to_tai(reading, reference::kernel_leap_correction(reading, *leap, *kernel_));
  }
  void forget_kernel() { kernel_.reset(); }

 private:
  const ntp::ReferenceClock& clock_;
  std::optional<reference::KernelClockStatus> kernel_;
};

bool Worker::answer(const ntp::Snapshot& snapshot, ntp::Tables& tables, TaiReader& tai,
                    std::span<const std::byte> bytes, const ntp::ClientAddress& client, leapdb::UtcTime received_at,
                    unsigned slot) {
  Buffers& b = *buffers_;
  const bool nts = !snapshot.nts_keys.empty();
  const ntp::Request request{bytes, client, listener_, tai(received_at), received_at};
  if (nts && b.nts_randomness_used == kBatch && refill(std::as_writable_bytes(std::span{b.nts_randomness}))) {
    b.nts_randomness_used = 0;
  }
  tables.nts_randomness = nts && b.nts_randomness_used < kBatch ? &b.nts_randomness[b.nts_randomness_used] : nullptr;
  const ntp::Decision decision = ntp::handle(request, snapshot, tables, b.replies[slot]);
  counting::count(decision, counters_);
  talkers_.record(request.client.ip, received_at,
                  decision.as<ntp::KissOfDeath>() != nullptr || decision.as<ntp::NtsNak>() != nullptr,
                  decision.rate != ntp::RateLimiter::Verdict::answer);
  const auto* time = decision.as<ntp::TimeReply>();
  // A nonce is never used twice, whatever becomes of its reply.
  if (time != nullptr && time->nts) ++b.nts_randomness_used;
  if (decision.mixed) {
    mixed_.push(MixedClient{request.client, snapshot.listener_timescale[listener_], decision.other_timescale});
  }
  if (!decision.replied()) return false;
  b.reply_decision[slot] = decision;
  b.reply_received[slot] = received_at;
  b.reply_version[slot] = static_cast<std::uint8_t>(version_of(bytes));
  b.reply_client[slot] = request.client;
  b.reply_seal[slot] = seal_of(decision);
  return true;
}

RcuCell<ntp::Snapshot>::ReadGuard Worker::begin_batch(unsigned received) {
  bump(counters_.requests, received);
  return state_.read(reader_slot_);
}

void Worker::answer_batch(unsigned received) {
  Buffers& b = *buffers_;
  const auto snapshot = begin_batch(received);
  if (authenticator_->ring() != snapshot->keys.get()) use_keys(snapshot->keys);
  ntp::Tables tables{&history_, &limiter_, authenticator_.get(), nullptr, &interleaved_};
  TaiReader tai{snapshot->clock};
  unsigned replies = 0;
  for (unsigned i = 0; i < received; ++i) {
    msghdr& in = b.receive_headers[i].msg_hdr;
    const std::span<const std::byte> bytes{b.packets[i].data(), b.receive_headers[i].msg_len};
    bump(counters_.requests_by_version[version_of(bytes)]);
    if ((in.msg_flags & MSG_TRUNC) != 0) {
      counting::count(ntp::DropReason::too_long, counters_);
      continue;
    }
    leapdb::UtcTime received_at{};
    bool have_timestamp = false;
    scm_timestamping stamps{};
    unsigned interface = 0;
    const cmsghdr* destination = nullptr;
    for (cmsghdr* c = CMSG_FIRSTHDR(&in); c != nullptr; c = CMSG_NXTHDR(&in, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPING) {
        std::memcpy(&stamps, CMSG_DATA(c), sizeof stamps);
        received_at = reference::from_timespec(stamps.ts[0]);
        have_timestamp = stamps.ts[0].tv_sec != 0 || stamps.ts[0].tv_nsec != 0;
      } else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPING_PKTINFO) {
        scm_ts_pktinfo info{};
        std::memcpy(&info, CMSG_DATA(c), sizeof info);
        interface = info.if_index;
      } else if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) ||
                 (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO)) {
        destination = c;
      }
    }
    if (!have_timestamp) received_at = reference::realtime_now();
    // The NIC's stamp, on its PHC, where one came and its line to the system clock is fresh.
    if (const auto nic = snapshot->hardware.to_system(stamps.ts[2], interface)) received_at = *nic;
    if (!answer(*snapshot, tables, tai, bytes, ntp::ClientAddress::from(b.sources[i]), received_at, replies)) continue;

    b.send_iov[replies] = iovec{b.replies[replies].data(), b.reply_decision[replies].reply_length()};
    msghdr& out = b.send_headers[replies].msg_hdr;
    out = msghdr{};
    out.msg_name = &b.sources[i];
    out.msg_namelen = in.msg_namelen;
    out.msg_iov = &b.send_iov[replies];
    out.msg_iovlen = 1;
    b.pktinfo_length[replies] = 0;
    if (destination != nullptr) {
      // Answer from the address the client wrote to, or a multi-homed host replies from the
      // wrong one and the client drops it.
      msghdr room{};
      room.msg_control = b.send_control[replies].data();
      room.msg_controllen = CMSG_SPACE(destination->cmsg_len - CMSG_LEN(0));
      cmsghdr* c = CMSG_FIRSTHDR(&room);  // never null: the buffer holds a pktinfo
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
      b.pktinfo_length[replies] = room.msg_controllen;
    }
    ++replies;
  }
  const unsigned per_call = departure_.replies_per_call(kPredictionHorizonNs);
  for (unsigned first = 0; first < replies; first += per_call) {
    send_replies(*snapshot, tai, first, std::min(per_call, replies - first));
  }
}

namespace {

// Asks the kernel for this datagram's transmit timestamp (SO_TIMESTAMPING as a control message,
// after the pktinfo if there is one), or not.
void want_tx_stamp(msghdr& out, std::byte* control, std::size_t pktinfo_length, bool want, bool hardware) {
  out.msg_control = pktinfo_length != 0 || want ? control : nullptr;
  out.msg_controllen = pktinfo_length;
  if (!want) return;
  out.msg_controllen = pktinfo_length + CMSG_SPACE(sizeof(std::uint32_t));
  cmsghdr* c = reinterpret_cast<cmsghdr*>(control + pktinfo_length);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SO_TIMESTAMPING;
  c->cmsg_len = CMSG_LEN(sizeof(std::uint32_t));
  const std::uint32_t flags = SOF_TIMESTAMPING_TX_SOFTWARE | (hardware ? kHardwareTransmitFlag : 0u);
  std::memcpy(CMSG_DATA(c), &flags, sizeof flags);
}

}  // namespace

Worker::Stamped Worker::stamp_replies(const ntp::Snapshot& snapshot, TaiReader& tai, unsigned first,
                                      unsigned count) {
  Buffers& b = *buffers_;
  const ntp::TimescaleView& view = snapshot.timescales[snapshot.listener_timescale[listener_]];
  const unsigned end = first + count;
  // Predictions come from what was learned before this call; what it teaches is for the next.
  const Departure plan = departure_;
  std::int64_t seals_ahead = 0;
  for (unsigned j = first; j < end; ++j) seals_ahead += plan.seal_cost(b.reply_seal[j]);
  tai.forget_kernel();
  leapdb::UtcTime reading = reference::realtime_now();
  Stamped stamped;
  // AF_XDP gives no transmit timestamps here: the prediction learns from how long calls take.
  stamped.calibrate = !queue_ && reading - last_calibration_ >= kCalibrationInterval;
  if (stamped.calibrate) last_calibration_ = reading;
  for (unsigned j = first; j < end; ++j) {
    const unsigned position = j - first;
    const leapdb::UtcTime leaves = reading + leapdb::Nanoseconds{plan.lead_ns(seals_ahead, position)};
    const ntp::Timestamp own = ntp::transmit_timestamp(tai(leaves), view);
    const ntp::Decision& decision = b.reply_decision[j];
    const auto* time = decision.as<ntp::TimeReply>();
    const bool interleaved = time != nullptr && time->interleaved_transmit;
    ntp::write_transmit(b.replies[j], interleaved ? *time->interleaved_transmit : own);
    ntp::sign(b.replies[j], decision, *authenticator_);
    bool want = stamped.calibrate && (position == 0 || j + 1 == end);
    if (time != nullptr && time->save_interleaved) {
      interleaved_.save(ntp::reply_receive(b.replies[j]), b.reply_client[j], own);
      want = !queue_;
    }
    if (!queue_) {
      want_tx_stamp(b.send_headers[j].msg_hdr, b.send_control[j].data(), b.pktinfo_length[j], want,
                    socket_.hardware_stamps);
    }
    stamped.stamps_wanted += want ? 1 : 0;
    b.reply_processing[j] = leaves - b.reply_received[j];
    seals_ahead -= plan.seal_cost(b.reply_seal[j]);
    const leapdb::UtcTime next = reference::realtime_now();
    departure_.stamped(b.reply_seal[j], (next - reading).count());
    reading = next;
  }
  stamped.call_began = reading;
  return stamped;
}

void Worker::count_sent(leapdb::UtcTime call_began, unsigned first, unsigned count, unsigned failed) {
  Buffers& b = *buffers_;
  departure_.call_took((reference::realtime_now() - call_began).count(), count);
  bump(counters_.replies, count - failed);
  if (failed != 0) bump(counters_.send_errors, failed);
  for (unsigned j = first; j < first + count; ++j) {
    if (!b.reply_lost[j]) counting::count_sent(b.reply_version[j], b.reply_processing[j], counters_);
    // Sent: its NTS key does not wait in the buffers for the next batch.
    ntp::forget_session_key(b.reply_decision[j]);
  }
}

void Worker::send_replies(const ntp::Snapshot& snapshot, TaiReader& tai, unsigned first, unsigned count) {
  Buffers& b = *buffers_;
  const unsigned end = first + count;
  const Stamped stamped = stamp_replies(snapshot, tai, first, count);
  unsigned sent = first;
  unsigned failed = 0;
  std::fill_n(b.reply_lost.begin() + first, count, false);
  while (sent < end) {
    const int n = ::sendmmsg(socket_.fd.get(), &b.send_headers[sent], end - sent, 0);
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
  count_sent(stamped.call_began, first, count, failed);
  tx_stamps_pending_ += stamped.stamps_wanted;
  if (tx_stamps_pending_ != 0) {
    const ntp::Timestamp first_key = stamped.calibrate ? ntp::reply_receive(b.replies[first]) : ntp::Timestamp{};
    const ntp::Timestamp last_key = stamped.calibrate ? ntp::reply_receive(b.replies[end - 1]) : ntp::Timestamp{};
    read_tx_stamps(snapshot, tai, first_key, last_key, stamped.call_began, count);
  }
}

void Worker::read_tx_stamps(const ntp::Snapshot& snapshot, TaiReader& tai, ntp::Timestamp first_key,
                            ntp::Timestamp last_key, leapdb::UtcTime call_began, unsigned count) {
  Buffers& b = *buffers_;
  const ntp::TimescaleView& view = snapshot.timescales[snapshot.listener_timescale[listener_]];
  for (unsigned i = 0; i < kBatch; ++i) {
    b.error_iov[i] = iovec{b.error_data[i].data(), kErrorDataLength};
    msghdr& h = b.error_headers[i].msg_hdr;
    h = msghdr{};
    h.msg_iov = &b.error_iov[i];
    h.msg_iovlen = 1;
    h.msg_control = b.error_control[i].data();
    h.msg_controllen = kControlLength;
  }
  const int n = ::recvmmsg(socket_.fd.get(), b.error_headers.data(), kBatch, MSG_ERRQUEUE | MSG_DONTWAIT, nullptr);
  // Nothing waiting: the rest were lost (the queue was full) or will not come.
  if (n <= 0) {
    tx_stamps_pending_ = 0;
    return;
  }
  tx_stamps_pending_ -= std::min<unsigned>(tx_stamps_pending_, static_cast<unsigned>(n));
  std::optional<leapdb::UtcTime> first_left, last_left;
  for (std::size_t i = 0; i < static_cast<std::size_t>(n); ++i) {
    msghdr& h = b.error_headers[i].msg_hdr;
    scm_timestamping stamps{};
    unsigned interface = 0;
    for (cmsghdr* c = CMSG_FIRSTHDR(&h); c != nullptr; c = CMSG_NXTHDR(&h, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPING) {
        std::memcpy(&stamps, CMSG_DATA(c), sizeof stamps);
      } else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
        in_pktinfo info{};
        std::memcpy(&info, CMSG_DATA(c), sizeof info);
        interface = static_cast<unsigned>(info.ipi_ifindex);
      } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
        in6_pktinfo info{};
        std::memcpy(&info, CMSG_DATA(c), sizeof info);
        interface = info.ipi6_ifindex;
      }
    }
    const auto payload =
        looped_udp_payload(std::span<const std::byte>{b.error_data[i].data(), b.error_headers[i].msg_len});
    if (payload.size() < ntp::kHeaderLength) continue;
    const ntp::Timestamp key = ntp::reply_receive(payload);
    // With hardware stamps one reply may come back twice: once with the kernel's, once the NIC's.
    if (const auto nic = snapshot.hardware.to_system(stamps.ts[2], interface)) {
      bump(counters_.tx_timestamps);
      interleaved_.update(key, ntp::transmit_timestamp(tai(*nic), view), true);
      continue;
    }
    if (stamps.ts[0].tv_sec == 0 && stamps.ts[0].tv_nsec == 0) continue;
    const leapdb::UtcTime left = reference::from_timespec(stamps.ts[0]);
    bump(counters_.tx_timestamps);
    interleaved_.update(key, ntp::transmit_timestamp(tai(left), view));
    // Only the kernel's stamps teach the prediction: it is of when the kernel hands a reply on.
    if (!first_key.is_zero() && key == first_key) first_left = left;
    if (!last_key.is_zero() && key == last_key) last_left = left;
  }
  if (first_left) departure_.first_left((*first_left - call_began).count());
  if (first_left && last_left) departure_.spread((*last_left - *first_left).count(), count);
}

void Worker::run_xdp() {
  Buffers& b = *buffers_;
  while (!stopping_.load(std::memory_order_relaxed)) {
    const unsigned received = queue_->receive(b.frames);
    if (received == 0) {
      queue_->wait(kXdpWaitMs);
      continue;
    }
    answer_frames(received);
  }
}

void Worker::answer_frames(unsigned received) {
  Buffers& b = *buffers_;
  const auto snapshot = begin_batch(received);
  if (authenticator_->ring() != snapshot->keys.get()) use_keys(snapshot->keys);
  ntp::Tables tables{&history_, &limiter_, authenticator_.get(), nullptr, &interleaved_};
  TaiReader tai{snapshot->clock};
  const leapdb::Nanoseconds tai_offset = kernel_tai_offset();
  unsigned replies = 0;
  for (unsigned i = 0; i < received; ++i) {
    const xdp::ReceivedFrame& frame = b.frames[i];
    const auto parsed = xdp::parse_request(frame.bytes, kReceiveBufferLength);
    if (const auto* drop = std::get_if<xdp::FrameDrop>(&parsed)) {
      bump(counters_.requests_by_version[0]);
      counting::count(drop_reason(*drop), counters_);
      queue_->release(frame.address);
      continue;
    }
    const auto& request = std::get<xdp::RequestFrame>(parsed);
    const std::span<const std::byte> bytes = frame.bytes.subspan(request.payload_offset, request.payload_length);
    bump(counters_.requests_by_version[version_of(bytes)]);
    // Stamped by the program as the driver handed the frame over: earlier than a socket's stamp.
    const leapdb::UtcTime received_at =
        frame.arrived_tai_ns != 0
            ? leapdb::UtcTime{leapdb::Nanoseconds{static_cast<std::int64_t>(frame.arrived_tai_ns)} - tai_offset}
            : reference::realtime_now();
    if (!answer(*snapshot, tables, tai, bytes, request.client, received_at, replies)) {
      queue_->release(frame.address);
      continue;
    }
    b.reply_frame[replies] = request;
    b.reply_from[replies] = &frame;
    ++replies;
  }
  // Nothing to send still gives the dropped frames back to the kernel to fill.
  if (replies == 0) queue_->flush();
  const unsigned per_call = departure_.replies_per_call(kPredictionHorizonNs);
  for (unsigned first = 0; first < replies; first += per_call) {
    send_frames(*snapshot, tai, first, std::min(per_call, replies - first));
  }
}

void Worker::send_frames(const ntp::Snapshot& snapshot, TaiReader& tai, unsigned first, unsigned count) {
  Buffers& b = *buffers_;
  const unsigned end = first + count;
  const Stamped stamped = stamp_replies(snapshot, tai, first, count);
  unsigned failed = 0;
  for (unsigned j = first; j < end; ++j) {
    const xdp::ReceivedFrame& frame = *b.reply_from[j];
    const xdp::RequestFrame& request = b.reply_frame[j];
    const std::size_t length = b.reply_decision[j].reply_length();
    b.reply_lost[j] = request.payload_offset + length > frame.capacity;
    if (b.reply_lost[j]) {
      queue_->release(frame.address);
      ++failed;
      continue;
    }
    const std::span<std::byte> room{frame.bytes.data(), frame.capacity};
    std::memcpy(room.data() + request.payload_offset, b.replies[j].data(), length);
    queue_->transmit(frame.address, xdp::make_reply(room, request, length));
  }
  // A full ring refuses the last ones queued.
  const unsigned refused = queue_->flush();
  for (unsigned j = end, left = refused; left > 0 && j-- > first;) {
    if (b.reply_lost[j]) continue;
    b.reply_lost[j] = true;
    --left;
  }
  count_sent(stamped.call_began, first, count, failed + refused);
}

}  // namespace io
