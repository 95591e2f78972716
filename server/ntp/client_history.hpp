#pragma once
// Which timescale each client address used last, and when: the memory behind sticky mode and
// the mixed-client detector. A fixed table of 64-bit slots shared by all workers, lock-free
// and bounded whatever the number of clients: a slot holds a 20-bit tag of the address hash,
// a generation, the timescale and the time in seconds, so a collision can only forget a
// client (or, one time in a million, mistake one for another), never grow memory. A slot is
// rewritten only when its timescale changes or a second has passed, so busy clients cost
// mostly reads.
//
// Timescales are recorded by index, and a reload may give an index another meaning. Each
// timescale set has a generation (the snapshot's); an entry of another generation reads as
// unknown, so a worker still answering from the old snapshot cannot make a client look stuck
// to the wrong timescale. Once no worker holds the old snapshot, purge() empties those slots,
// so the 4-bit generation can wrap without an old entry coming back to life.

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
    std::uint32_t tag_and_generation;
  };
  static constexpr std::uint8_t kGenerations = 16;
  // `generation` modulo kGenerations.
  Place place(const ClientAddress& client, std::uint8_t generation = 0) const;
  Seen last(Place place, leapdb::TaiTime now) const;
  void record(Place place, std::uint8_t timescale, leapdb::TaiTime now);

  Seen last(const ClientAddress& client, leapdb::TaiTime now) const { return last(place(client), now); }
  void record(const ClientAddress& client, std::uint8_t timescale, leapdb::TaiTime now) {
    record(place(client), timescale, now);
  }
  // Forgets every client.
  void clear();
  // Forgets the clients recorded under any other generation; returns how many. Only worth
  // calling once no worker can still record under another one.
  std::size_t purge(std::uint8_t generation);

  std::size_t size_bytes() const { return slot_count_ * sizeof(std::uint64_t); }

 private:
  std::unique_ptr<std::atomic<std::uint64_t>[]> slots_;
  std::uint64_t slot_count_;
  AddressHasher hash_;
};

}  // namespace ntp
