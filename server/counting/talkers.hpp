#pragma once
// The heaviest client addresses, per worker, in fixed memory: TalkerTable is written by its
// worker only and read by the control thread when /status is asked; merge_talkers() sums the
// rows of several workers (a listener's, or every listener of one timescale).
//
// The table is set-associative (kWays records per set, hashed by address with a keyed hash), so
// memory never grows with clients. A record carries a weight: its requests, halved every
// kHalfLife of the clock, so one that stopped talking fades. An address not in its set takes an
// empty way, or else the way of least weight (the longest unseen among equals), with weight 1:
// a flood of one-off addresses displaces one-off addresses, and at most the lightest of a set's
// heavier talkers when all of its ways hold them; a talker whose share of the requests is above
// about 1/slots keeps its record. The request counts shown are those since the address took its record.
//
// Concurrency: one writer, plain atomic stores (no read-modify-write, no fence), each record's
// update bracketed by its sequence number (a seqlock), so a reader sees a record whole or tries
// again, and never pairs one address with another's counts. The writer's bookkeeping (tags, weights)
// lives apart and is never read by other threads. Pure: times come in.

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "leapdb/time.hpp"
#include "server/ntp/client_address.hpp"

namespace counting {

struct Talker {
  std::array<std::uint8_t, 16> ip{};  // IPv4 as ::ffff:a.b.c.d
  std::uint64_t requests = 0;
  std::uint64_t kod = 0;           // kiss-o'-death replies sent (DENY, RATE, crypto-NAK)
  std::uint64_t rate_limited = 0;  // requests over the rate limit (leaked, KoD or dropped)
  leapdb::UtcTime last_seen{};
  friend bool operator==(const Talker&, const Talker&) = default;
};

class TalkerTable {
 public:
  static constexpr std::size_t kWays = 8;
  static constexpr std::size_t kDefaultSlots = 4096;
  static constexpr leapdb::Nanoseconds kHalfLife = std::chrono::seconds{1024};

  // `slots`: rounded up to a power of two, at least kWays; `seed` keys the address hash.
  TalkerTable(std::size_t slots, std::uint64_t seed);
  TalkerTable(const TalkerTable&) = delete;
  TalkerTable& operator=(const TalkerTable&) = delete;

  // The writer (the worker): one request from `ip` at `now`, and what became of it.
  void record(const std::array<std::uint8_t, 16>& ip, leapdb::UtcTime now, bool kod, bool rate_limited);

  // Any thread: every address held, in no particular order. Allocates.
  std::vector<Talker> read() const;

  std::size_t slots() const { return set_mask_ * kWays + kWays; }
  std::size_t size_bytes() const { return slots() * (sizeof(Record) + sizeof(Way)); }

 private:
  // What readers see: one cache line.
  struct alignas(64) Record {
    std::atomic<std::uint64_t> sequence{0};  // odd while the writer updates the record
    std::atomic<std::uint64_t> ip_high{0};
    std::atomic<std::uint64_t> ip_low{0};
    std::atomic<std::uint64_t> requests{0};  // 0: empty
    std::atomic<std::uint64_t> kod{0};
    std::atomic<std::uint64_t> rate_limited{0};
    std::atomic<std::int64_t> last_seen_ns{0};
  };
  // The writer's own: which address a way holds and how heavy it is.
  struct Way {
    std::uint32_t tag = 0;  // 0: empty
    std::uint32_t weight = 0;
    std::uint32_t period = 0;     // of kHalfLife, when weight was last halved up to date
    std::uint32_t last_seen = 0;  // seconds, wrapping: the tie-break between equal weights
  };

  std::unique_ptr<Record[]> records_;
  std::unique_ptr<Way[]> ways_;
  std::uint64_t set_mask_;
  ntp::AddressHasher hash_;
};

// The rows of several tables summed per address (the latest last_seen kept), heaviest first:
// most requests, then most recently seen, then by address; at most `top` of them.
std::vector<Talker> merge_talkers(std::vector<Talker> rows, std::size_t top);

}  // namespace counting
