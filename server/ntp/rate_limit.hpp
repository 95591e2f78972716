#pragma once
// Per-address rate limiting. RateTable is the shared part: a GCRA per address (the token bucket
// as one theoretical arrival time) in 4-way sets of 16-byte entries, allocated once, the entry
// with the oldest arrival time evicted; NTS-KE's per-address limit uses it as it is. RateLimiter
// is chrony's ratelimit on top: each address may be answered on average once every 2^interval
// seconds, `burst` at once; over the limit, 1 in 2^leak requests is answered anyway, so a victim
// whose address a flooder spoofs still gets time; the others get at most one KoD RATE per
// interval and are otherwise dropped. One per worker thread. Pure: times come in.

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "leapdb/time.hpp"
#include "server/ntp/client_address.hpp"

namespace ntp {

class RateTable {
 public:
  static constexpr std::size_t kWays = 4;
  struct Entry {
    std::uint32_t tag = 0;        // 0: empty
    std::uint32_t last_kod = 0;   // RateLimiter's: in 1/16 s, wrapping
    std::int64_t arrival_ns = 0;  // theoretical arrival time of the next allowed request
  };
  static_assert(sizeof(Entry) == 16);

  // `entries`: rounded up to a power of two, at least kWays.
  RateTable(std::size_t entries, std::uint64_t seed);

  struct Admission {
    Entry& entry;
    bool admitted;  // within the burst, and the arrival time moved on by one interval
    bool fresh;     // the address had no entry (or lost it to eviction): a full bucket
  };
  // `now_ns`: a reading of a clock that runs at the real rate (steps are survived: an arrival
  // time left far in the future by a backward step is pulled back). `burst`: at least 1.
  Admission admit(const std::array<std::uint8_t, 16>& ip, std::int64_t now_ns, std::int64_t interval_ns,
                  unsigned burst);

  std::size_t entries() const { return set_mask_ * kWays + kWays; }
  std::size_t size_bytes() const { return entries() * sizeof(Entry); }

 private:
  std::unique_ptr<Entry[]> table_;
  std::uint64_t set_mask_;
  AddressHasher hash_;
};

struct RateLimitSettings {
  bool enabled = false;
  int interval_log2 = 3;  // -4 to 12
  unsigned burst = 8;     // 1 to 255
  unsigned leak = 2;      // 0 (never) to 8
  friend bool operator==(const RateLimitSettings&, const RateLimitSettings&) = default;
};

class RateLimiter {
 public:
  static constexpr std::size_t kWays = RateTable::kWays;

  // `entries`: rounded up to a power of two, at least kWays.
  RateLimiter(std::size_t entries, std::uint64_t seed);

  enum class Verdict : std::uint8_t { answer, leak, kod, drop };
  // `now`: a reading of a clock that runs at the real rate (see RateTable::admit).
  Verdict check(const RateLimitSettings& settings, const ClientAddress& client, leapdb::UtcTime now);

  std::size_t entries() const { return table_.entries(); }
  std::size_t size_bytes() const { return table_.size_bytes(); }

 private:
  RateTable table_;
  std::uint64_t random_;
};

}  // namespace ntp
