#pragma once
// One worker thread's share of a listener: its own SO_REUSEPORT socket, its own buffers and
// counters. Receives in batches, answers through ntp::handle, sends in batches.

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
  MixedClientRing& mixed_clients() { return mixed_; }

 private:
  struct Buffers;
  class TaiReader;
  void answer_batch(unsigned received);
  // Stamps, signs and sends replies [first, first + count) in one sendmmsg() call.
  void send_replies(const ntp::Snapshot& snapshot, TaiReader& tai, unsigned first, unsigned count);
  // Reads the kernel's transmit timestamps waiting in the error queue: each improves the saved
  // interleaved state of its reply, and those of `first_key`/`last_key` teach departure_.
  void read_tx_stamps(const ntp::Snapshot& snapshot, TaiReader& tai, ntp::Timestamp first_key,
                      ntp::Timestamp last_key, leapdb::UtcTime call_began, unsigned count);
  // Contexts for a new key ring, made on the first batch that sees it.
  void use_keys(const std::shared_ptr<const ntp::KeyRing>& keys);

  BoundSocket socket_;
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
