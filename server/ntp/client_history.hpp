#pragma once
// Which timescale each client address used last, and when: the memory behind sticky mode and
// the mixed-client detector. A fixed table of 64-bit slots shared by all workers, lock-free
// and bounded whatever the number of clients: a slot holds a 24-bit tag of the address hash,
// the timescale and the time in seconds, so a collision can only forget a client (or, one
// time in 16 million, mistake one for another), never grow memory. A slot is rewritten only
// when its timescale changes or a second has passed, so busy clients cost mostly reads.

#include <atomic>
#include <cstdint>
#include <memory>

#include "leapdb/time.hpp"
#include "server/ntp/client_address.hpp"

namespace ntp {

class ClientHistory {
 public:
  // `slots`: from 1 to 2^32 - 1; `seed` keys the hash so clients cannot aim at one slot.
  ClientHistory(std::size_t slots, std::uint64_t seed);

  struct Seen {
    bool known = false;
    std::uint8_t timescale = 0;
    leapdb::Nanoseconds age{0};  // since the client was last recorded
  };
  // Where a client's record lives: found once per request, then read and written there.
  struct Place {
    std::atomic<std::uint64_t>* slot;
    std::uint32_t tag;
  };
  Place place(const ClientAddress& client) const;
  Seen last(Place place, leapdb::TaiTime now) const;
  void record(Place place, std::uint8_t timescale, leapdb::TaiTime now);

  Seen last(const ClientAddress& client, leapdb::TaiTime now) const { return last(place(client), now); }
  void record(const ClientAddress& client, std::uint8_t timescale, leapdb::TaiTime now) {
    record(place(client), timescale, now);
  }
  // Forgets every client: needed when timescale indices change meaning (a reload).
  void clear();

  std::size_t size_bytes() const { return slot_count_ * sizeof(std::uint64_t); }

 private:
  std::uint64_t hash(const ClientAddress& client) const;

  std::unique_ptr<std::atomic<std::uint64_t>[]> slots_;
  std::uint64_t slot_count_;
  std::uint64_t seed_;
  std::uint64_t mixed_seed_;
};

}  // namespace ntp
