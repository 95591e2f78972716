#pragma once
// One worker thread's share of a listener: its own SO_REUSEPORT socket, or its own AF_XDP socket
// on one queue of an interface, its own buffers and counters. Receives in batches, answers
// through ntp::handle, sends in batches; both kinds share everything between receipt and send.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "server/counting/counters.hpp"
#include "server/counting/talkers.hpp"
#include "server/io/departure.hpp"
#include "server/io/event_ring.hpp"
#include "server/io/rcu.hpp"
#include "server/io/udp_socket.hpp"
#include "server/ntp/client_history.hpp"
#include "server/ntp/interleaved.hpp"
#include "server/ntp/responder.hpp"
#include "server/ntp/snapshot.hpp"
#include "server/xdp/queue.hpp"

namespace io {

// A client seen on this worker's timescale shortly after another one.
struct MixedClient {
  ntp::ClientAddress client;
  std::uint8_t timescale = 0;
  std::uint8_t other_timescale = 0;
};
using MixedClientRing = EventRing<MixedClient, 256>;

class Worker {
 public:
  // `rate_entries`: the size of this worker's rate-limit table; `seed` keys its hash.
  Worker(BoundSocket socket, std::uint8_t listener, RcuCell<ntp::Snapshot>& state, std::size_t reader_slot,
         ntp::ClientHistory& history, std::size_t rate_entries, std::uint64_t seed);
  // The same, for the frames the listener's XDP program sends to `queue`.
  Worker(std::unique_ptr<xdp::Queue> queue, std::uint8_t listener, RcuCell<ntp::Snapshot>& state,
         std::size_t reader_slot, ntp::ClientHistory& history, std::size_t rate_entries, std::uint64_t seed);
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;
  ~Worker();

  // Thread body; returns after request_stop().
  void run();
  // Callable from any thread: wakes a blocked receive so run() returns.
  void request_stop();

  const counting::WorkerCounters& counters() const { return counters_; }
  // Its heaviest clients; any thread may read() it.
  const counting::TalkerTable& talkers() const { return talkers_; }
  std::uint8_t listener() const { return listener_; }
  bool running() const { return running_.load(std::memory_order_relaxed); }
  bool xdp() const { return queue_ != nullptr; }
  MixedClientRing& mixed_clients() { return mixed_; }

 private:
  struct Buffers;
  class TaiReader;
  void run_sockets();
  void run_xdp();
  // Counts a batch of `received`; the snapshot it is answered with.
  RcuCell<ntp::Snapshot>::ReadGuard begin_batch(unsigned received);
  void answer_batch(unsigned received);
  void answer_frames(unsigned received);
  // Answers one request into reply slot `slot`, counting it; true when that reply is to be sent.
  bool answer(const ntp::Snapshot& snapshot, ntp::Tables& tables, TaiReader& tai, std::span<const std::byte> bytes,
              const ntp::ClientAddress& client, leapdb::UtcTime received_at, unsigned slot);
  // Stamps each of replies [first, first + count) with when it is predicted to leave and signs it;
  // on the socket path also asks for the kernel's transmit timestamps where they teach something.
  struct Stamped {
    leapdb::UtcTime call_began;  // the last reading: the sending call starts now
    unsigned stamps_wanted = 0;
    bool calibrate = false;
  };
  Stamped stamp_replies(const ntp::Snapshot& snapshot, TaiReader& tai, unsigned first, unsigned count);
  // Counts what a sending call did with replies [first, first + count), and forgets their keys.
  void count_sent(leapdb::UtcTime call_began, unsigned first, unsigned count, unsigned failed);
  // Stamps, signs and sends replies [first, first + count) in one sendmmsg() call.
  void send_replies(const ntp::Snapshot& snapshot, TaiReader& tai, unsigned first, unsigned count);
  // The same through the AF_XDP socket: each reply is built in its request's frame.
  void send_frames(const ntp::Snapshot& snapshot, TaiReader& tai, unsigned first, unsigned count);
  // Reads the kernel's transmit timestamps waiting in the error queue: each improves the saved
  // interleaved state of its reply, and those of `first_key`/`last_key` teach departure_.
  void read_tx_stamps(const ntp::Snapshot& snapshot, TaiReader& tai, ntp::Timestamp first_key,
                      ntp::Timestamp last_key, leapdb::UtcTime call_began, unsigned count);
  // Contexts for a new key ring, made on the first batch that sees it.
  void use_keys(const std::shared_ptr<const ntp::KeyRing>& keys);

  BoundSocket socket_;
  std::unique_ptr<xdp::Queue> queue_;
  std::uint8_t listener_;
  RcuCell<ntp::Snapshot>& state_;
  std::size_t reader_slot_;
  ntp::ClientHistory& history_;
  ntp::RateLimiter limiter_;
  std::unique_ptr<ntp::Authenticator> authenticator_;
  MixedClientRing mixed_;
  ntp::InterleavedTable interleaved_;
  Departure departure_;
  leapdb::UtcTime last_calibration_{};
  unsigned tx_stamps_pending_ = 0;  // asked for, not read yet (a NIC's may come late)
  std::atomic<bool> stopping_{false};
  std::atomic<bool> running_{false};
  counting::WorkerCounters counters_;
  counting::TalkerTable talkers_;
  Buffers* buffers_;  // large and fixed: allocated once, never on the packet path
};

}  // namespace io
