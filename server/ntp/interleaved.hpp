#pragma once
// Interleaved client/server mode (RFC 9769), the server's memory of it. A client that asks to
// interleave sends back, as its origin, the receive timestamp of our previous response; we answer
// with the transmit timestamp that response really left with (the kernel's or the NIC's, which is
// known only after it was sent). So for each such response we keep its receive timestamp (the
// key), the client it went to, and the best transmit timestamp known: first the one written into
// it, then the kernel's once it arrives. Fixed size, allocated once; a newer entry evicts the
// older of two, and a lost entry just means a basic reply. Pure.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "server/ntp/client_address.hpp"
#include "server/ntp/timestamp.hpp"

namespace ntp {

// What a request must look like to be answered in interleaved mode (chrony's rule): NTPv4, and an
// origin with its lowest bit set, as only our receive timestamps have (mark_receive), and a receive
// field unlike the transmit field, which a basic client's request never has.
bool asks_interleaved(std::uint8_t version, Timestamp origin, Timestamp receive, Timestamp transmit);

// Server timestamps carry a flag in their lowest bit (2^-32 s), so a request's origin tells which
// of the two it echoes: receive timestamps have it set, transmit timestamps clear.
constexpr Timestamp mark_receive(Timestamp t) { return Timestamp{t.seconds, t.fraction | 1u}; }
constexpr Timestamp mark_transmit(Timestamp t) { return Timestamp{t.seconds, t.fraction & ~1u}; }

class InterleavedTable {
 public:
  // `capacity`: entries, rounded up to a power of two (at least 2); `seed` keys the hashes.
  InterleavedTable(std::size_t capacity, std::uint64_t seed);

  // The transmit timestamp of the response that carried `receive` to `client`; taken out, so a
  // replayed request gets a basic reply.
  std::optional<Timestamp> take(Timestamp receive, const ClientAddress& client);
  void save(Timestamp receive, const ClientAddress& client, Timestamp transmit);
  // A later, better transmit timestamp for a saved response: the kernel's, or the NIC's (which
  // the kernel's, arriving after it, does not replace); false when it is gone.
  bool update(Timestamp receive, Timestamp transmit, bool hardware = false);
  std::size_t capacity() const { return entries_.size(); }

 private:
  struct Entry {
    std::uint64_t receive = 0;  // 0: empty (a marked receive timestamp is never 0)
    std::uint64_t client = 0;
    Timestamp transmit;
    bool hardware = false;
    std::uint64_t age = 0;  // the save that wrote it, to evict the older of a pair
  };
  Entry* find(std::uint64_t receive);

  std::vector<Entry> entries_;
  std::size_t mask_;
  AddressHasher hasher_;
  std::uint64_t seed_;
  std::uint64_t saves_ = 0;
};

}  // namespace ntp
